"""SNS's http/https protocol: loopback-only endpoints, the confirmation
(Subscribe -> SubscriptionConfirmation -> ConfirmSubscription or the
SubscribeURL), deliveries with SNS's retries, and the UnsubscribeURL. The
endpoint is a real HTTP server on 127.0.0.1 in this process; deliveries are
attempted here (the Celery task is one call to sns_http.attempt)."""

import json
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from messaging import sns_http, sns_signing, topics
from messaging.models import HttpDelivery, Subscription
from messaging.validation import MessagingError
from tests.loopback import QuietHandler, serve, stop
from tests.unit.test_sns_api import fail, message_of, status_of


class Endpoint:
    """A loopback HTTP server recording every POST; `answers` is the list of
    statuses to answer with, in turn (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        endpoint = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.read_body()
                endpoint.received.append({"headers": dict(self.headers), "body": json.loads(body)})
                self.answer(endpoint.answers.pop(0) if endpoint.answers else 200)

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sns"

    def close(self):
        stop(self.server)


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture
def queued(monkeypatch):
    """Deliveries queued (row ids and countdowns) instead of sent to a broker."""
    sent = []
    monkeypatch.setattr(sns_http, "queue", lambda ident, countdown=None: sent.append((str(ident), countdown)))
    return sent


def run_queued(queued):
    """What the worker does: one attempt per queued task."""
    while queued:
        ident, _ = queued.pop(0)
        sns_http.attempt(ident)


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


@pytest.mark.parametrize("protocol, url, ok", [
    ("http", "http://127.0.0.1:9/x", True),
    ("http", "http://127.5.6.7/", True),
    ("http", "http://localhost:8080/hook", True),
    ("http", "http://[::1]:8080/", True),
    ("https", "https://localhost/", True),
    ("http", "http://localhost.example.com/", False),
    ("http", "http://192.168.1.5/", False),
    ("http", "http://0.0.0.0/", False),
    ("http", "https://127.0.0.1/", False),
    ("http", "http://127.0.0.1:notaport/", False),
    ("http", "http:///nohost", False),
])
def test_it_takes_loopback_endpoints_only(protocol, url, ok):
    if ok:
        assert sns_http.check_endpoint(protocol, url) == url
    else:
        with pytest.raises(MessagingError):
            sns_http.check_endpoint(protocol, url)


def test_subscribe_sends_a_signed_confirmation_and_stays_pending(
    sns, team, endpoint, queued, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        got = sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    assert got["SubscriptionArn"] == "pending confirmation"
    sub = Subscription.objects.get(topic=topic)
    assert sub.pending and sub.protocol == "http" and sub.endpoint == endpoint.url
    run_queued(queued)
    (post,) = endpoint.received
    headers, body = post["headers"], post["body"]
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic.arn
    assert headers["x-amz-sns-message-id"] == body["MessageId"]
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert set(body) == {"Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                         "SignatureVersion", "Signature", "SigningCertURL"}
    assert body["Token"] == sub.token and body["TopicArn"] == topic.arn
    assert sns_signing.verify(body, sns_signing.signing_key().cert_pem)

    listed = sns.list_subscriptions_by_topic(TopicArn=topic.arn)["Subscriptions"]
    assert listed[0]["SubscriptionArn"] == "PendingConfirmation"
    attributes = sns.get_topic_attributes(TopicArn=topic.arn)["Attributes"]
    assert (attributes["SubscriptionsPending"], attributes["SubscriptionsConfirmed"]) == ("1", "0")
    # Nothing is delivered while pending.
    with django_capture_on_commit_callbacks(execute=True):
        sns.publish(TopicArn=topic.arn, Message="too early")
    assert queued == [] and HttpDelivery.objects.filter(message_type="Notification").count() == 0

    again = sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url,
                          ReturnSubscriptionArn=True)
    assert again["SubscriptionArn"] == sub.arn  # the same subscription, its confirmation sent again
    assert HttpDelivery.objects.filter(message_type="SubscriptionConfirmation").count() == 2


def test_confirm_subscription_then_notifications_are_delivered_signed(
    sns, team, endpoint, queued, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    sub = Subscription.objects.get(topic=topic)
    e = fail(sns.confirm_subscription, TopicArn=topic.arn, Token="nope")
    assert message_of(e) == "Invalid parameter: Invalid token"
    got = sns.confirm_subscription(TopicArn=topic.arn, Token=sub.token)
    assert got["SubscriptionArn"] == sub.arn
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub.arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    assert attributes["ConfirmationWasAuthenticated"] == "true"
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = sns.publish(TopicArn=topic.arn, Message="hello", Subject="Hi",
                           MessageAttributes={"tags": {"DataType": "String.Array", "StringValue": '["a"]'}})
    run_queued(queued)
    note = endpoint.received[-1]
    assert note["headers"]["x-amz-sns-message-type"] == "Notification"
    assert note["headers"]["x-amz-sns-subscription-arn"] == sub.arn
    body = note["body"]
    assert (body["MessageId"], body["Message"], body["Subject"]) == (sent["MessageId"], "hello", "Hi")
    assert body["MessageAttributes"]["tags"] == {"Type": "String.Array", "Value": '["a"]'}
    assert sns_signing.verify(body, sns_signing.signing_key().cert_pem)
    assert HttpDelivery.objects.get(message_type="Notification").status == "delivered"


def test_the_subscribe_url_confirms_and_the_unsubscribe_url_unsubscribes(
    sns, team, endpoint, queued, client, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    run_queued(queued)
    confirmation = endpoint.received[0]["body"]
    answer = client.get(local_path(confirmation["SubscribeURL"]))
    assert answer.status_code == 200, answer.content
    root = ElementTree.fromstring(answer.content)
    ns = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/"}
    sub = Subscription.objects.get(topic=topic)
    assert root.find("sns:ConfirmSubscriptionResult/sns:SubscriptionArn", ns).text == sub.arn
    assert not sub.pending and not sub.confirmation_authenticated

    with django_capture_on_commit_callbacks(execute=True):
        sns.publish(TopicArn=topic.arn, Message="hello")
    run_queued(queued)
    unsubscribe_url = endpoint.received[-1]["body"]["UnsubscribeURL"]
    answer = client.get(local_path(unsubscribe_url))
    assert answer.status_code == 200 and b"UnsubscribeResponse" in answer.content
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    assert client.get(local_path(unsubscribe_url)).status_code == 200  # gone already: still fine

    bad = client.get(f"/sns/?Action=ConfirmSubscription&TopicArn={topic.arn}&Token=wrong")
    assert bad.status_code == 400 and b"<Code>InvalidParameter</Code>" in bad.content


def test_authenticate_on_unsubscribe_makes_the_unsubscribe_url_refuse(
    sns, team, endpoint, queued, client, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    sub = Subscription.objects.get(topic=topic)
    sns.confirm_subscription(TopicArn=topic.arn, Token=sub.token, AuthenticateOnUnsubscribe="true")
    answer = client.get(local_path(sns_signing.unsubscribe_url("http://testserver", sub.arn)))
    assert answer.status_code == 403 and b"AuthorizationError" in answer.content
    assert Subscription.objects.filter(pk=sub.pk).exists()
    sns.unsubscribe(SubscriptionArn=sub.arn)
    assert not Subscription.objects.filter(pk=sub.pk).exists()


def test_it_retries_server_errors_as_sns_does_and_gives_up_after_the_retries(
    sns, team, endpoint, queued, settings, django_capture_on_commit_callbacks
):
    settings.STRATUS_SNS_HTTP_RETRY_DELAY = 0
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    endpoint.answers = [500, 503]
    run_queued(queued)
    row = HttpDelivery.objects.get()
    assert (row.status, row.attempts, len(endpoint.received)) == ("delivered", 3, 3)

    endpoint.answers = [500] * 10
    sub = Subscription.objects.get(topic=topic)
    with django_capture_on_commit_callbacks(execute=True):
        topics.resend_confirmation(sub)
    run_queued(queued)
    row = HttpDelivery.objects.order_by("-created_at").first()
    assert (row.status, row.attempts) == ("failed", 1 + settings.STRATUS_SNS_HTTP_RETRIES)
    assert "HTTP 500" in row.last_error


def test_a_client_error_is_final_and_a_refused_connection_is_retried(
    sns, team, endpoint, queued, settings, django_capture_on_commit_callbacks
):
    settings.STRATUS_SNS_HTTP_RETRY_DELAY = 0
    topic = topics.create_topic(team, "alerts")
    endpoint.answers = [404]
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    run_queued(queued)
    row = HttpDelivery.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)

    endpoint.close()
    with django_capture_on_commit_callbacks(execute=True):
        topics.resend_confirmation(Subscription.objects.get(topic=topic))
    ident, _ = queued.pop(0)
    assert sns_http.attempt(ident) == "pending"
    row = HttpDelivery.objects.get(pk=ident)
    assert row.attempts == 1 and "ConnectionError" in row.last_error
    assert queued == [(ident, 0)]


def test_a_delivery_whose_task_was_lost_is_queued_again(
    sns, team, endpoint, queued, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    queued.clear()  # the broker lost it
    assert sns_http.requeue_lost() == 0  # not overdue yet
    overdue = timezone.now() - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER + 1)
    HttpDelivery.objects.update(next_attempt_at=overdue)
    assert sns_http.requeue_lost() == 1 and len(queued) == 1
    assert sns_http.requeue_lost() == 0  # once per period
    run_queued(queued)
    assert HttpDelivery.objects.get().status == "delivered" and len(endpoint.received) == 1


def test_a_claimed_delivery_is_attempted_once(
    sns, team, endpoint, queued, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    ident, _ = queued[0]
    assert sns_http.attempt(ident) == "delivered"
    assert sns_http.attempt(ident) is None
    assert len(endpoint.received) == 1


def test_bad_confirm_and_signature_version_input_is_refused(sns, team):
    topic = topics.create_topic(team, "alerts")
    e = fail(sns.set_topic_attributes, TopicArn=topic.arn, AttributeName="SignatureVersion",
             AttributeValue="3")
    assert status_of(e) == 400 and "must be 1" in message_of(e)
    sns.set_topic_attributes(TopicArn=topic.arn, AttributeName="SignatureVersion", AttributeValue="2")
    assert sns.get_topic_attributes(TopicArn=topic.arn)["Attributes"]["SignatureVersion"] == "2"
    e = fail(sns.confirm_subscription, TopicArn=topic.arn, Token="x", AuthenticateOnUnsubscribe="maybe")
    assert "AuthenticateOnUnsubscribe" in message_of(e)


def test_the_topic_page_shows_an_http_subscription_and_its_state(client, users, team, queued):
    from django.urls import reverse

    topic = topics.create_topic(team, "alerts")
    sub = topics.subscribe_http(topic, "http", "http://127.0.0.1:9/hook")
    client.force_login(users["member"])
    page = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert "http://127.0.0.1:9/hook" in page and "(pending confirmation)" in page
    topics.confirm(topic, sub.token, authenticated=True)
    page = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert "http://127.0.0.1:9/hook" in page and "(pending confirmation)" not in page


def self_signed(tmp_path):
    """A certificate and key for localhost / 127.0.0.1, as a test endpoint makes them."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "endpoint.pem", tmp_path / "endpoint.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_an_https_loopback_endpoint_with_a_self_signed_certificate(
    sns, team, queued, settings, tmp_path, django_capture_on_commit_callbacks
):
    import ssl

    cert_path, key_path = self_signed(tmp_path)
    endpoint = Endpoint()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    endpoint.server.socket = context.wrap_socket(endpoint.server.socket, server_side=True)
    url = endpoint.url.replace("http://127.0.0.1", "https://localhost")
    try:
        topic = topics.create_topic(team, "secure")
        settings.STRATUS_SNS_HTTP_RETRY_DELAY = 0
        settings.STRATUS_SNS_HTTP_RETRIES = 0
        # Checked against the system's CAs (the default), a self-signed endpoint is refused...
        with django_capture_on_commit_callbacks(execute=True):
            sns.subscribe(TopicArn=topic.arn, Protocol="https", Endpoint=url)
        run_queued(queued)
        row = HttpDelivery.objects.get()
        assert row.status == "failed" and "SSLError" in row.last_error and endpoint.received == []
        # ...and delivered when STRATUS_SNS_HTTPS_VERIFY names its certificate.
        settings.STRATUS_SNS_HTTPS_VERIFY = str(cert_path)
        with django_capture_on_commit_callbacks(execute=True):
            topics.resend_confirmation(Subscription.objects.get(topic=topic))
        run_queued(queued)
        assert HttpDelivery.objects.filter(status="delivered").count() == 1
        (post,) = endpoint.received
        assert post["body"]["Type"] == "SubscriptionConfirmation"
        assert Subscription.objects.get(topic=topic).protocol == "https"
    finally:
        endpoint.close()


def test_nothing_is_sent_for_a_subscription_removed_before_its_delivery(
    sns, team, endpoint, queued, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url)
    sns.delete_topic(TopicArn=topic.arn)
    run_queued(queued)
    row = HttpDelivery.objects.get()
    assert row.status == "failed" and "removed" in row.last_error and endpoint.received == []


def test_raw_message_delivery_posts_the_message_itself(
    sns, team, endpoint, queued, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        arn = sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url,
                            Attributes={"RawMessageDelivery": "true"},
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
    run_queued(queued)
    assert endpoint.received[0]["body"]["Type"] == "SubscriptionConfirmation"  # always SNS's JSON
    sns.confirm_subscription(TopicArn=topic.arn, Token=endpoint.received[0]["body"]["Token"])
    with django_capture_on_commit_callbacks(execute=True):
        sns.publish(TopicArn=topic.arn, Message='{"order": 7}')
    run_queued(queued)
    post = endpoint.received[-1]
    assert post["body"] == {"order": 7}
    assert post["headers"]["x-amz-sns-rawdelivery"] == "true"
    assert post["headers"]["x-amz-sns-subscription-arn"] == arn
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "true"


def test_unsubscribing_sends_an_unsubscribe_confirmation_whose_link_restores_it(
    sns, team, endpoint, queued, client, django_capture_on_commit_callbacks
):
    topic = topics.create_topic(team, "alerts")
    with django_capture_on_commit_callbacks(execute=True):
        arn = sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint=endpoint.url,
                            Attributes={"FilterPolicy": '{"k": ["v"]}'},
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
    run_queued(queued)
    sns.confirm_subscription(TopicArn=topic.arn, Token=endpoint.received[0]["body"]["Token"])
    with django_capture_on_commit_callbacks(execute=True):
        sns.unsubscribe(SubscriptionArn=arn)
    run_queued(queued)
    post = endpoint.received[-1]
    body = post["body"]
    assert post["headers"]["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert post["headers"]["x-amz-sns-subscription-arn"] == arn
    assert body["Type"] == "UnsubscribeConfirmation" and arn in body["Message"]
    assert set(body) == {"Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                         "SignatureVersion", "Signature", "SigningCertURL"}
    assert sns_signing.verify(body, sns_signing.signing_key().cert_pem)
    assert not Subscription.objects.filter(topic=topic).exists()

    answer = client.get(local_path(body["SubscribeURL"]))
    assert answer.status_code == 200 and arn.encode() in answer.content
    back = Subscription.objects.get(topic=topic)
    assert back.arn == arn and not back.pending and back.filter_policy == {"k": ["v"]}
    assert client.get(local_path(body["SubscribeURL"])).status_code == 200  # twice: still one
    assert Subscription.objects.filter(topic=topic).count() == 1


def test_a_fifo_topic_takes_no_http_endpoint(sns, team):
    topic = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    e = fail(sns.subscribe, TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/x")
    assert "FIFO topics deliver to SQS FIFO queues only" in message_of(e)
    assert not Subscription.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_links_of_a_subscription_made_inside_a_function_point_at_the_platform(make_function, team, queued):
    """A function's boto3 reaches the platform through a port inside its own
    container: that address must not end up in SubscribeURL and friends."""
    from awsapi import principals
    from functions.models import Function
    from tests.unit.test_function_credentials import client

    fn = make_function("subscriber")
    Function.objects.filter(pk=fn.pk).update(execution_policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sns:Subscribe", "Resource": "*"}]})
    topic = topics.create_topic(team, "alerts")
    client("sns", principals.issue(fn)).subscribe(TopicArn=topic.arn, Protocol="http",
                                                   Endpoint="http://127.0.0.1:9/x")
    sub = Subscription.objects.get(topic=topic)
    assert sub.base_url == ""
    body = json.loads(HttpDelivery.objects.get().body)
    assert body["SubscribeURL"].startswith(sns_signing.base_url("") + "/sns/?Action=ConfirmSubscription")
