"""SNS's message signatures: the canonical string, SignatureVersion 1 and 2,
the platform's key and certificate (made once, reused, served), and the
Lambda event compared key for key with AWS's documented example and parsed
by AWS Lambda Powertools' SnsModel."""

import base64
import json
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from messaging import sns_signing, topics
from messaging.models import TopicMessage

# AWS's "Example SNS message event" (Lambda developer guide, "Using AWS
# Lambda with Amazon SNS"; the same event Powertools documents).
AWS_EXAMPLE = {
    "Records": [
        {
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda:"
                                    "21be56ed-a058-49f5-8c98-aedd2564c486",
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": "2019-01-02T12:45:07.000Z",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-"
                                  "ac565b8b1a6c5d002d285f9598aa1d9b.pem",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "Message": "Hello from SNS!",
                "MessageAttributes": {
                    "Test": {"Type": "String", "Value": "TestString"},
                    "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
                },
                "Type": "Notification",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                                  "arn:aws:sns:us-east-1:123456789012:test-lambda:"
                                  "21be56ed-a058-49f5-8c98-aedd2564c486",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda",
                "Subject": "TestInvoke",
            },
        }
    ]
}


def shape(value):
    """Keys and value types, recursively: what two events must share."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_it_builds_sns_canonical_strings_in_the_documented_order():
    note = {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:t", "Subject": "S",
            "Message": "hi\nthere", "Timestamp": "2024-01-01T00:00:00.000Z", "Signature": "x"}
    assert sns_signing.canonical_string(note) == (
        b"Message\nhi\nthere\nMessageId\nm1\nSubject\nS\nTimestamp\n2024-01-01T00:00:00.000Z\n"
        b"TopicArn\narn:t\nType\nNotification\n"
    )
    del note["Subject"]
    assert b"Subject" not in sns_signing.canonical_string(note)
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "m2", "Token": "tok",
                    "TopicArn": "arn:t", "Message": "m", "SubscribeURL": "http://x/",
                    "Timestamp": "T"}
    assert sns_signing.canonical_string(confirmation) == (
        b"Message\nm\nMessageId\nm2\nSubscribeURL\nhttp://x/\nTimestamp\nT\nToken\ntok\n"
        b"TopicArn\narn:t\nType\nSubscriptionConfirmation\n"
    )


@pytest.mark.parametrize("version, digest", [("1", hashes.SHA1), ("2", hashes.SHA256)])
def test_it_signs_with_sha1_or_sha256_with_rsa(version, digest):
    message = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:t", "Message": "hello",
               "Timestamp": "T", "SignatureVersion": version}
    message["Signature"] = sns_signing.sign(message, version)
    cert = x509.load_pem_x509_certificate(sns_signing.signing_key().cert_pem)
    # Checked with the certificate's key directly, not with our own verify().
    cert.public_key().verify(base64.b64decode(message["Signature"]),
                             sns_signing.canonical_string(message), padding.PKCS1v15(), digest())
    assert sns_signing.verify(message, sns_signing.signing_key().cert_pem)
    assert not sns_signing.verify({**message, "Message": "hellO"}, sns_signing.signing_key().cert_pem)
    other = "2" if version == "1" else "1"
    assert not sns_signing.verify({**message, "SignatureVersion": other}, sns_signing.signing_key().cert_pem)


def test_it_makes_the_key_once_and_reuses_it_after_a_restart(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = sns_signing.signing_key()
    assert (tmp_path / "sns" / "signing.pem").stat().st_mode & 0o777 == 0o600
    sns_signing._cached.clear()  # a new process
    again = sns_signing.signing_key()
    assert again.cert_pem == first.cert_pem and again.cert_name == first.cert_name
    assert again.cert_name.startswith("SimpleNotificationService-") and again.cert_name.endswith(".pem")


def test_it_serves_the_certificate_on_a_plain_get(client):
    key = sns_signing.signing_key()
    answer = client.get(f"/sns/{key.cert_name}")
    assert answer.status_code == 200 and answer.content == key.cert_pem
    x509.load_pem_x509_certificate(answer.content)
    assert client.get("/sns/SimpleNotificationService-0000.pem").status_code == 404


def test_the_lambda_event_has_aws_documented_keys_and_parses_with_powertools(team, make_function):
    topic = topics.create_topic(team, "sns-lambda")
    sub = topics.subscribe(topic, make_function())
    msg = TopicMessage.objects.create(
        topic=topic, message="Hello from SNS!", subject="TestInvoke",
        attributes={"Test": {"Type": "String", "Value": "TestString"},
                    "TestBinary": {"Type": "Binary", "Value": "VGVzdEJpbmFyeQ=="}},
        published_at=datetime(2019, 1, 2, 12, 45, 7, tzinfo=UTC),
    )
    event = topics.sns_event(topic, sub, msg)
    assert shape(event) == shape(AWS_EXAMPLE)
    assert json.loads(json.dumps(event)) == event

    parsed = SnsModel.model_validate(event).Records[0].Sns
    assert parsed.Message == "Hello from SNS!" and parsed.Subject == "TestInvoke"
    assert str(parsed.SigningCertUrl).endswith(f"/sns/{sns_signing.signing_key().cert_name}")
    assert "Action=Unsubscribe" in str(parsed.UnsubscribeUrl) and sub.arn in str(parsed.UnsubscribeUrl)
    sns = event["Records"][0]["Sns"]
    assert sns_signing.verify(sns, sns_signing.signing_key().cert_pem)


def test_a_topic_with_signature_version_2_signs_with_sha256(team, make_function):
    topic = topics.create_topic(team, "v2")
    topic.signature_version = "2"
    topic.save()
    sub = topics.subscribe(topic, make_function())
    msg = TopicMessage.objects.create(topic=topic, message="m", published_at=datetime(2024, 1, 1, tzinfo=UTC))
    sns = topics.sns_event(topic, sub, msg)["Records"][0]["Sns"]
    assert sns["SignatureVersion"] == "2" and sns["Subject"] is None
    assert sns_signing.verify(sns, sns_signing.signing_key().cert_pem)
    assert not sns_signing.verify({**sns, "SignatureVersion": "1"}, sns_signing.signing_key().cert_pem)


def test_the_sqs_envelope_is_signed_and_parses_with_powertools(team):
    from messaging import queues

    topic = topics.create_topic(team, "env")
    queue = queues.create_queue(team, "inbox")
    sub = topics.subscribe_queue(topic, queue)
    msg = TopicMessage.objects.create(
        topic=topic, message="m", attributes={"tags": {"Type": "String.Array", "Value": '["a"]'}},
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    envelope = topics.sns_envelope(topic, sub, msg)
    assert "Subject" not in envelope
    assert sns_signing.verify(envelope, sns_signing.signing_key().cert_pem)
    parsed = SnsNotificationModel.model_validate(envelope)
    assert parsed.MessageAttributes["tags"].Type == "String.Array"
    assert str(parsed.UnsubscribeUrl).startswith("http://")


def test_custom_attribute_types_keep_their_label_through_every_publish_door(team, make_function):
    """messaging.api.publish (the JSON API, destinations, S3 notifications)
    keeps "String.Array" as SNS does, in the Lambda event and on a queue."""
    from messaging import api, queues
    from messaging.models import QueueMessage

    topic = topics.create_topic(team, "labels")
    queue = queues.create_queue(team, "raw-inbox")
    topics.subscribe_queue(topic, queue, raw=True)
    sub = topics.subscribe(topic, make_function())
    api.publish(topic, "m", attributes={
        "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
        "price": {"DataType": "Number.float", "StringValue": "1.5"},
    })
    msg = TopicMessage.objects.get(topic=topic)
    event = topics.sns_event(topic, sub, msg)["Records"][0]["Sns"]
    assert event["MessageAttributes"]["tags"] == {"Type": "String.Array", "Value": '["a", "b"]'}
    assert event["MessageAttributes"]["price"]["Type"] == "Number.float"
    raw = QueueMessage.objects.get(queue=queue)
    assert raw.attributes["tags"]["Type"] == "String.Array"
