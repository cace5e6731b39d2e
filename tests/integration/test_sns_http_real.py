"""SNS's http protocol and signatures on the real path: boto3's `sns`
client -> uvicorn -> the AWS front door; the Celery worker POSTs the
SubscriptionConfirmation and the Notifications to a loopback HTTP server in
this test process; the test confirms through the SubscribeURL and through
ConfirmSubscription, verifies every signature (SignatureVersion 1 and 2)
with the certificate downloaded from SigningCertURL, and unsubscribes with
the UnsubscribeURL. A `lambda` subscriber's event is parsed with AWS Lambda
Powertools' SnsModel and its signature verified the same way."""

import json
import queue

import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import SnsModel

from messaging import sns_signing
from tests.integration.helpers import create, wait_for
from tests.integration.test_messaging_real import logs_of
from tests.integration.test_sns_real import PRINTER, boto
from tests.loopback import QuietHandler, serve, stop
from tests.unit.test_sns_signing import AWS_EXAMPLE, shape

pytestmark = pytest.mark.integration


class Endpoint:
    """A loopback HTTP endpoint: every POST (headers, JSON body) goes on
    `received`; `answers` are statuses to answer in turn (then 200)."""

    def __init__(self):
        self.received: queue.Queue = queue.Queue()
        self.answers: list[int] = []
        endpoint = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.read_body()
                status = endpoint.answers.pop(0) if endpoint.answers else 200
                endpoint.received.put({"headers": dict(self.headers), "body": json.loads(body),
                                       "status": status, "path": self.path})
                self.answer(status)

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sns-in"

    def next(self, timeout: float = 90) -> dict:
        return self.received.get(timeout=timeout)

    def close(self):
        stop(self.server)


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def certificate(url: str) -> bytes:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"-----BEGIN CERTIFICATE-----")
    return answer.content


def test_an_http_endpoint_confirms_receives_signed_notifications_and_unsubscribes(stack, endpoint):
    sns = boto(stack, "sns")
    topic = sns.create_topic(Name="web-hooks")["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    assert answer["SubscriptionArn"] == "pending confirmation"

    confirmation = endpoint.next()
    headers, body = confirmation["headers"], confirmation["body"]
    assert confirmation["path"] == "/sns-in"
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic and headers["x-amz-sns-message-id"] == body["MessageId"]
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert body["Type"] == "SubscriptionConfirmation" and body["SignatureVersion"] == "1"
    cert = certificate(body["SigningCertURL"])
    assert body["SigningCertURL"].startswith(stack.url + "/sns/SimpleNotificationService-")
    assert sns_signing.verify(body, cert)
    pending = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in pending] == ["PendingConfirmation"]

    # The endpoint confirms by visiting the SubscribeURL, as SNS asks.
    visit = requests.get(body["SubscribeURL"], timeout=10)
    assert visit.status_code == 200 and "<ConfirmSubscriptionResponse" in visit.text
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"] in visit.text and sub["Endpoint"] == endpoint.url
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    assert attributes["ConfirmationWasAuthenticated"] == "false"  # confirmed by a plain GET

    sent = sns.publish(TopicArn=topic, Message="deploy done", Subject="CI",
                       MessageAttributes={"env": {"DataType": "String.Array", "StringValue": '["prod"]'}})
    note = endpoint.next()
    headers, body = note["headers"], note["body"]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    assert (body["MessageId"], body["Message"], body["Subject"]) == (sent["MessageId"], "deploy done", "CI")
    assert body["MessageAttributes"]["env"] == {"Type": "String.Array", "Value": '["prod"]'}
    assert sns_signing.verify(body, certificate(body["SigningCertURL"]))
    assert not sns_signing.verify({**body, "Message": "deploy failed"}, cert)

    # The UnsubscribeURL removes the subscription and answers as SNS does.
    gone = requests.get(body["UnsubscribeURL"], timeout=10)
    assert gone.status_code == 200 and "<UnsubscribeResponse" in gone.text
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    # ...and SNS tells the endpoint, with a link that would restore it.
    bye = endpoint.next()
    assert bye["headers"]["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert bye["body"]["Type"] == "UnsubscribeConfirmation"
    assert sub["SubscriptionArn"] in bye["body"]["Message"]
    assert sns_signing.verify(bye["body"], cert)
    sns.delete_topic(TopicArn=topic)


def test_signature_version_2_and_confirm_subscription_through_the_api(stack, endpoint):
    sns = boto(stack, "sns")
    topic = sns.create_topic(Name="web-hooks-v2", Attributes={"SignatureVersion": "2"})["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    confirmation = endpoint.next()["body"]
    assert confirmation["SignatureVersion"] == "2"
    cert = certificate(confirmation["SigningCertURL"])
    assert sns_signing.verify(confirmation, cert)
    assert not sns_signing.verify({**confirmation, "SignatureVersion": "1"}, cert)

    confirmed = sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
    assert confirmed["SubscriptionArn"] == arn
    sns.publish(TopicArn=topic, Message="v2 message")
    body = endpoint.next()["body"]
    assert body["Message"] == "v2 message" and body["SignatureVersion"] == "2" and "Subject" not in body
    assert sns_signing.verify(body, cert)
    sns.unsubscribe(SubscriptionArn=arn)
    sns.delete_topic(TopicArn=topic)


def test_a_failed_http_delivery_is_retried_after_sns_delay(stack, endpoint):
    sns = boto(stack, "sns")
    topic = sns.create_topic(Name="flaky-hook")["TopicArn"]
    endpoint.answers = [503]  # the first POST (the confirmation) fails
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    first, second = endpoint.next(), endpoint.next(timeout=120)
    assert (first["status"], second["status"]) == (503, 200)
    # SNS resends the same message: same id, same signature.
    assert first["body"] == second["body"]
    query = ("__import__('messaging.models').models.HttpDelivery.objects"
             f".filter(topic_arn={topic!r}).values('status', 'attempts')")
    assert wait_for(lambda: stack.rows(query) == [{"status": "delivered", "attempts": 2}], timeout=30)
    sns.delete_topic(TopicArn=topic)


def test_a_lambda_subscriber_gets_a_signed_event_that_powertools_parses(stack):
    sns = boto(stack, "sns")
    fn_arn = create(stack.lambda_client(), "snssigned", PRINTER, Timeout=5)["FunctionArn"]
    topic = sns.create_topic(Name="signed-news")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sent = sns.publish(TopicArn=topic, Message="Hello from SNS!", Subject="TestInvoke", MessageAttributes={
        "Test": {"DataType": "String", "StringValue": "TestString"},
        "TestBinary": {"DataType": "Binary", "BinaryValue": b"TestBinary"},
    })
    rows = wait_for(
        lambda: [r for r in logs_of(stack, "snssigned") if r["status"] == "succeeded"], timeout=90
    )
    line = next(x for x in rows[0]["logs"].splitlines() if x.startswith("EVENT "))
    event = json.loads(line[len("EVENT "):])
    assert shape(event) == shape(AWS_EXAMPLE)
    record = SnsModel.model_validate(event).Records[0]
    assert record.Sns.MessageId == sent["MessageId"] and record.EventSource == "aws:sns"
    sns_part = event["Records"][0]["Sns"]
    assert sns_signing.verify(sns_part, certificate(sns_part["SigningCertUrl"]))
    assert sns_part["UnsubscribeUrl"].startswith(stack.url + "/sns/?Action=Unsubscribe&SubscriptionArn=")
    sns.delete_topic(TopicArn=topic)
