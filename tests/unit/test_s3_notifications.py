"""S3 bucket notifications through the AWS front door, driven by boto3's
`s3`, `sqs` and `sns` clients: the configuration's put, get and checks,
and the events each object change sends to a function, a queue or a topic."""

import hashlib
import json
import re
from datetime import datetime
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from buckets import notifications
from buckets.models import Notification, Object
from functions.models import ApiKey
from invocations import dispatch, tasks
from invocations.models import Invocation
from tests.unit.test_s3_api import code_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("objects_dir")]

# AWS's documented example (Event message structure, version 2.1), as
# the keys each level holds; versionId is left out for unversioned buckets.
RECORD_KEYS = {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
               "requestParameters", "responseElements", "s3"}
S3_KEYS = {"s3SchemaVersion", "configurationId", "bucket", "object"}
BUCKET_KEYS = {"name", "ownerIdentity", "arn"}
CREATED_OBJECT_KEYS = {"key", "size", "eTag", "sequencer"}
REMOVED_OBJECT_KEYS = {"key", "sequencer"}


@pytest.fixture
def queued(monkeypatch):
    """Queued invocation tasks, recorded instead of sent to a broker."""
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append((args[0], kw)))
    return sent


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="photos")
    return "photos"


@pytest.fixture
def fn(make_function):
    return make_function("on-upload")


def function_arn(team, name="on-upload") -> str:
    return f"arn:aws:lambda:us-east-1:{team.account_id}:function:{name}"


def queue_arn(team, name) -> str:
    return f"arn:aws:sqs:us-east-1:{team.account_id}:{name}"


def topic_arn(team, name) -> str:
    return f"arn:aws:sns:us-east-1:{team.account_id}:{name}"


def to_function(team, events=("s3:ObjectCreated:*",), rules=None, config_id="fn-config") -> dict:
    entry = {"Id": config_id, "LambdaFunctionArn": function_arn(team), "Events": list(events)}
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}
    return {"LambdaFunctionConfigurations": [entry]}


def configure(s3, bucket, config):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)


def events_sent() -> list[dict]:
    """The events of the bucket invocations, oldest first."""
    found = Invocation.objects.filter(source="bucket").order_by("created_at")
    return [json.loads(inv.event) for inv in found]


def records() -> list[dict]:
    return [event["Records"][0] for event in events_sent()]


def fail(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e


def receive_all(sqs, url) -> list[str]:
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in found]


# The configuration ------------------------------------------------------------


def test_it_puts_and_gets_a_configuration_of_every_kind(s3, bucket, team, fn, sqs, sns):
    sqs.create_queue(QueueName="uploads")
    sns.create_topic(Name="removals")
    config = {
        "LambdaFunctionConfigurations": [{
            "Id": "thumbnails", "LambdaFunctionArn": function_arn(team),
            "Events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"},
                                               {"Name": "Suffix", "Value": ".jpg"}]}},
        }],
        "QueueConfigurations": [{"Id": "q", "QueueArn": queue_arn(team, "uploads"),
                                 "Events": ["s3:ObjectCreated:*"]}],
        "TopicConfigurations": [{"Id": "t", "TopicArn": topic_arn(team, "removals"),
                                 "Events": ["s3:ObjectRemoved:Delete"]}],
    }
    configure(s3, bucket, config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    got.pop("ResponseMetadata")
    # S3 answers the rule names capitalised, whatever case they were put in.
    config["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"] = [
        {"Name": "Prefix", "Value": "images/"}, {"Name": "Suffix", "Value": ".jpg"}]
    assert got == config


def test_a_bucket_without_a_configuration_has_an_empty_one(s3, bucket):
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert set(got) == {"ResponseMetadata"}


def test_each_put_replaces_the_whole_configuration(s3, bucket, team, fn, sqs):
    sqs.create_queue(QueueName="uploads")
    configure(s3, bucket, {**to_function(team), "QueueConfigurations": [
        {"QueueArn": queue_arn(team, "uploads"), "Events": ["s3:ObjectRemoved:*"]}]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    # An entry put without an Id gets one.
    assert got["QueueConfigurations"][0]["Id"]

    configure(s3, bucket, to_function(team, config_id="second"))
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in got["LambdaFunctionConfigurations"]] == ["second"]
    assert "QueueConfigurations" not in got

    configure(s3, bucket, {})
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("entry, kind", [
    ({"LambdaFunctionArn": "arn:aws:lambda:us-east-1:{account}:function:missing"}, "Lambda"),
    ({"QueueArn": "arn:aws:sqs:us-east-1:{account}:missing"}, "Queue"),
    ({"TopicArn": "arn:aws:sns:us-east-1:{account}:missing"}, "Topic"),
    ({"LambdaFunctionArn": "arn:aws:lambda:us-east-1:999999999999:function:on-upload"}, "Lambda"),
    ({"LambdaFunctionArn": "arn:aws:lambda:us-east-1:{account}:function:on-upload:1"}, "Lambda"),
    ({"QueueArn": "not-an-arn"}, "Queue"),
])
def test_it_refuses_a_target_it_cannot_deliver_to(s3, bucket, team, fn, entry, kind):
    configure(s3, bucket, to_function(team, config_id="kept"))
    arn = next(iter(entry.values())).format(account=team.account_id)
    e = fail(s3.put_bucket_notification_configuration, Bucket=bucket, NotificationConfiguration={
        f"{kind}{'Function' if kind == 'Lambda' else ''}Configurations": [
            {next(iter(entry)): arn, "Events": ["s3:ObjectCreated:*"]}]})
    assert code_of(e) == "InvalidArgument"
    error = e.value.response["Error"]
    assert error["Message"] == "Unable to validate the following destination configurations"
    assert e.value.response["Error"]["ArgumentName1"] == arn
    # What was stored stays as it was.
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in got["LambdaFunctionConfigurations"]] == ["kept"]


@pytest.mark.parametrize("events, rules, words", [
    (["s3:ObjectCreated:Sideways"], None, "The event is not supported for notifications"),
    (["s3:ObjectRestore:*"], None, "The event is not supported for notifications"),
    (["s3:ObjectCreated:*"], [("infix", "a")], "filter rule name must be either prefix or suffix"),
    (["s3:ObjectCreated:*"], [("prefix", "a"), ("Prefix", "b")], "more than one prefix rule"),
])
def test_it_refuses_bad_events_and_filters(s3, bucket, team, fn, events, rules, words):
    e = fail(s3.put_bucket_notification_configuration, Bucket=bucket,
             NotificationConfiguration=to_function(team, events, rules))
    assert code_of(e) == "InvalidArgument"
    assert words in e.value.response["Error"]["Message"]
    assert Notification.objects.count() == 0


def test_only_a_writer_of_the_team_configures_its_buckets(s3, reader_s3, stranger_s3, bucket, team, fn):
    config = to_function(team)
    e = fail(reader_s3.put_bucket_notification_configuration, Bucket=bucket, NotificationConfiguration=config)
    assert code_of(e) == "AccessDenied"
    assert reader_s3.get_bucket_notification_configuration(Bucket=bucket).keys() == {"ResponseMetadata"}
    e = fail(stranger_s3.put_bucket_notification_configuration, Bucket=bucket,
             NotificationConfiguration=config)
    assert code_of(e) == "NoSuchBucket"


def test_deleting_the_bucket_deletes_its_configuration(s3, bucket, team, fn):
    configure(s3, bucket, to_function(team))
    s3.delete_bucket(Bucket=bucket)
    assert Notification.objects.count() == 0


# Events to a function ------------------------------------------------------------


def test_the_event_has_s3s_shape_field_by_field(s3, bucket, team, fn, queued):
    configure(s3, bucket, to_function(team, ["s3:ObjectCreated:Put"]))
    body = b"hello, bucket"
    answer = s3.put_object(Bucket=bucket, Key="photos/My Cat (1).jpg", Body=body)

    [event] = events_sent()
    assert set(event) == {"Records"}
    [rec] = event["Records"]
    assert set(rec) == RECORD_KEYS
    assert rec["eventVersion"] == "2.1"
    assert rec["eventSource"] == "aws:s3"
    assert rec["awsRegion"] == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["eventTime"])
    datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["userIdentity"] == {"principalId": "AWS:" + ApiKey.objects.get(user__username="member").pk}
    assert rec["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert rec["responseElements"] == {"x-amz-request-id": request_id, "x-amz-id-2": request_id}

    s3_part = rec["s3"]
    assert set(s3_part) == S3_KEYS
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == "fn-config"
    assert s3_part["bucket"] == {"name": "photos", "ownerIdentity": {"principalId": team.account_id},
                                 "arn": "arn:aws:s3:::photos"}
    assert set(s3_part["bucket"]) == BUCKET_KEYS
    obj = s3_part["object"]
    assert set(obj) == CREATED_OBJECT_KEYS
    # URL-encoded as S3 sends it: handlers decode it with unquote_plus.
    assert obj["key"] == "photos/My+Cat+%281%29.jpg"
    assert unquote_plus(obj["key"]) == "photos/My Cat (1).jpg"
    assert obj["size"] == len(body)
    assert obj["eTag"] == hashlib.md5(body).hexdigest()  # without quotes
    assert re.fullmatch(r"[0-9A-F]{18}", obj["sequencer"])

    inv = Invocation.objects.get(source="bucket")
    assert inv.invocation_type == "Event" and inv.status == "queued" and inv.function == fn
    assert inv.trigger == "bucket:photos"
    assert inv.origin == {"bucket": "photos", "key": "photos/My Cat (1).jpg",
                          "event_name": "ObjectCreated:Put", "configuration_id": "fn-config"}
    # Its task is queued once the write committed.
    assert [args for args, _ in queued] == [str(inv.request_id)]


def test_each_change_sends_its_event_name(s3, bucket, team, fn, queued, settings):
    settings.STRATUS_S3_MIN_PART_BYTES = 5
    configure(s3, bucket, to_function(team, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]))
    s3.put_object(Bucket=bucket, Key="a", Body=b"one")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="c", UploadId=upload, PartNumber=n,
                            Body=b"part-%d" % n)["ETag"] for n in (1, 2)]
    s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in zip((1, 2), etags, strict=True)]})
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "never"}]})

    got = [(r["eventName"], r["s3"]["object"]["key"]) for r in records()]
    assert got == [("ObjectCreated:Put", "a"), ("ObjectCreated:Copy", "b"),
                   ("ObjectCreated:CompleteMultipartUpload", "c"), ("ObjectRemoved:Delete", "a"),
                   ("ObjectRemoved:Delete", "b"), ("ObjectRemoved:Delete", "c")]
    created = records()[:3]
    assert created[1]["s3"]["object"]["eTag"] == hashlib.md5(b"one").hexdigest()
    assert created[2]["s3"]["object"]["eTag"].endswith("-2")
    assert created[2]["s3"]["object"]["size"] == len(b"part-1part-2")
    for removed in records()[3:]:
        assert set(removed["s3"]["object"]) == REMOVED_OBJECT_KEYS
    sequencers = [r["s3"]["object"]["sequencer"] for r in records()]
    assert sequencers == sorted(sequencers)


@pytest.mark.parametrize("events, sent", [
    (["s3:ObjectCreated:Put"], ["ObjectCreated:Put"]),
    (["s3:ObjectCreated:Copy"], ["ObjectCreated:Copy"]),
    (["s3:ObjectRemoved:Delete"], ["ObjectRemoved:Delete"]),
    (["s3:ObjectCreated:Post", "s3:ObjectCreated:CompleteMultipartUpload"], []),
])
def test_a_configuration_gets_only_the_events_it_names(s3, bucket, team, fn, queued, events, sent):
    configure(s3, bucket, to_function(team, events))
    s3.put_object(Bucket=bucket, Key="a", Body=b"one")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    s3.delete_object(Bucket=bucket, Key="b")
    assert [r["eventName"] for r in records()] == sent


@pytest.mark.parametrize("rules, fired", [
    (None, ["images/cat.jpg", "images/cat.png", "docs/cat.jpg", "cat.jpg"]),
    ([("prefix", "images/")], ["images/cat.jpg", "images/cat.png"]),
    ([("suffix", ".jpg")], ["images/cat.jpg", "docs/cat.jpg", "cat.jpg"]),
    ([("prefix", "images/"), ("suffix", ".jpg")], ["images/cat.jpg"]),
    ([("prefix", "Images/")], []),
])
def test_filters_match_by_prefix_and_suffix(s3, bucket, team, fn, queued, rules, fired):
    configure(s3, bucket, to_function(team, rules=rules))
    for key in ("images/cat.jpg", "images/cat.png", "docs/cat.jpg", "cat.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in records()] == fired


def test_every_matching_configuration_gets_the_event(s3, bucket, team, fn, make_function, queued):
    make_function("other")
    configure(s3, bucket, {"LambdaFunctionConfigurations": [
        {"Id": "all", "LambdaFunctionArn": function_arn(team), "Events": ["s3:ObjectCreated:*"]},
        {"Id": "text", "LambdaFunctionArn": function_arn(team, "other"), "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".txt"}]}}},
    ]})
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="a.bin", Body=b"x")
    got = sorted((inv.function.name, json.loads(inv.event)["Records"][0]["s3"]["configurationId"],
                  inv.origin["key"]) for inv in Invocation.objects.filter(source="bucket"))
    assert got == [("on-upload", "all", "a.bin"), ("on-upload", "all", "a.txt"), ("other", "text", "a.txt")]


def test_a_refused_write_sends_nothing(s3, bucket, team, fn, queued):
    s3.put_object(Bucket=bucket, Key="a", Body=b"one")
    configure(s3, bucket, to_function(team, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]))
    e = fail(s3.put_object, Bucket=bucket, Key="a", Body=b"two", IfNoneMatch="*")
    assert code_of(e) == "PreconditionFailed"
    e = fail(s3.copy_object, Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"},
             CopySourceIfMatch='"nope"')
    assert code_of(e) == "PreconditionFailed"
    s3.delete_object(Bucket=bucket, Key="never-was")  # answered 204, but nothing changed
    assert events_sent() == []
    assert queued == []


def test_an_event_that_cannot_be_stored_fails_the_write_with_it(s3, bucket, team, fn, queued, monkeypatch):
    """Object and event commit together: neither without the other."""
    configure(s3, bucket, to_function(team))

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(dispatch, "submit_async", broken)
    e = fail(s3.put_object, Bucket=bucket, Key="a", Body=b"one")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert not Object.objects.filter(key="a").exists()
    assert Invocation.objects.count() == 0 and queued == []


def test_a_target_deleted_after_the_put_is_skipped(s3, bucket, team, fn, queued):
    configure(s3, bucket, to_function(team))
    fn.delete()
    s3.put_object(Bucket=bucket, Key="a", Body=b"one")
    assert Object.objects.filter(key="a").exists()
    assert events_sent() == []


# Events to a queue and a topic ---------------------------------------------------


def test_a_queue_gets_the_test_event_then_each_event(s3, bucket, team, sqs):
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    configure(s3, bucket, {"QueueConfigurations": [
        {"Id": "to-queue", "QueueArn": queue_arn(team, "uploads"), "Events": ["s3:ObjectCreated:*"]}]})
    [test] = [json.loads(b) for b in receive_all(sqs, url)]
    assert test["Service"] == "Amazon S3" and test["Event"] == "s3:TestEvent" and test["Bucket"] == bucket
    assert {"Time", "RequestId", "HostId"} <= set(test)

    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    [body] = receive_all(sqs, url)
    [rec] = json.loads(body)["Records"]
    assert set(rec) == RECORD_KEYS
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["configurationId"] == "to-queue"
    assert rec["s3"]["object"]["key"] == "report.csv"
    assert rec["s3"]["object"]["size"] == 3


def test_a_topic_gets_a_publish_of_each_event(s3, bucket, team, sns, sqs):
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sns.create_topic(Name="changes")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(team, "inbox"))
    configure(s3, bucket, {"TopicConfigurations": [
        {"Id": "to-topic", "TopicArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
    [test] = [json.loads(b) for b in receive_all(sqs, url)]
    assert json.loads(test["Message"])["Event"] == "s3:TestEvent"
    assert test["Subject"] == "Amazon S3 Notification"

    s3.put_object(Bucket=bucket, Key="old.log", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="old.log")
    [body] = receive_all(sqs, url)
    envelope = json.loads(body)
    assert envelope["TopicArn"] == arn and envelope["Subject"] == "Amazon S3 Notification"
    [rec] = json.loads(envelope["Message"])["Records"]
    assert rec["eventName"] == "ObjectRemoved:Delete"
    assert rec["s3"]["configurationId"] == "to-topic"
    assert set(rec["s3"]["object"]) == REMOVED_OBJECT_KEYS


def test_event_keys_are_encoded_as_s3_encodes_them():
    assert notifications.event_key("a b/c+d=e&f.txt") == "a+b/c%2Bd%3De%26f.txt"
    assert notifications.event_key("ünï") == "%C3%BCn%C3%AF"
    assert unquote_plus(notifications.event_key("x y+z%")) == "x y+z%"

