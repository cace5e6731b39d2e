"""The AWS CLI (awscli from requirements-dev.txt, run as the `aws` command)
against the real stack: S3 path-style (high-level `aws s3` and `aws s3api`,
a file over 8 MB so the CLI uploads and downloads it in parts), SQS on its
JSON protocol and SNS on its query protocol, each with an error case
(exit code 254/255, AWS's error code on stderr). Outputs are read from
`--output json`, except `aws s3 ls`, which only prints text."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.helpers import create, wait_for

pytestmark = pytest.mark.integration

MB = 1024 * 1024
AWS = Path(sys.executable).with_name("aws")
# The CLI's exit codes for an error the service answered (v1: 255, v2: 254).
SERVICE_ERROR_RCS = (254, 255)

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''


class Cli:
    """Runs `aws ...` against the stack with a key of its own, nothing
    read from the machine's ~/.aws."""

    def __init__(self, stack, home: Path):
        if not AWS.exists():
            pytest.fail(f"{AWS} is missing: `bin/setup test` installs awscli from requirements-dev.txt")
        key, secret = stack.api_key()
        config = home / "config"
        # Path-style, as Stratus serves S3. A second profile presigns with
        # SigV4 (the CLI's own advice; its default there is still SigV2).
        config.write_text(
            "[default]\ns3 =\n    addressing_style = path\n"
            "[profile v4]\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n"
        )
        # A named profile takes its key from the credentials file, not the environment.
        (home / "credentials").write_text(
            f"[v4]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
        )
        self.url = stack.url
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            # An error is the answer under test, not something to retry.
            "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "",
        }

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(AWS), "--endpoint-url", self.url, "--output", "json", *args],
            env=self.env, cwd=cwd, capture_output=True, text=True, timeout=180,
        )

    def __call__(self, *args: str, cwd: Path | None = None):
        """The command's parsed JSON output (None when it prints nothing);
        the test fails with its stderr when it exits non-zero."""
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None

    def text(self, *args: str, cwd: Path | None = None) -> str:
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def fails(self, *args: str, code: str, rcs=SERVICE_ERROR_RCS) -> str:
        """Runs a command that must fail with AWS's error `code`; its stderr."""
        done = self.run(*args)
        assert done.returncode in rcs, (done.returncode, done.stdout, done.stderr)
        assert f"({code})" in done.stderr, done.stderr
        return done.stderr


@pytest.fixture(scope="module")
def aws(stack, tmp_path_factory):
    return Cli(stack, tmp_path_factory.mktemp("aws-home"))


def ls(output: str) -> list[tuple[str, str]]:
    """`aws s3 ls` lines as (size or "PRE", name)."""
    rows = []
    for line in output.splitlines():
        parts = line.split()
        if parts[:1] == ["PRE"]:
            rows.append(("PRE", parts[1]))
        elif len(parts) >= 4:
            rows.append((parts[2], " ".join(parts[3:])))
    return rows


# S3 ---------------------------------------------------------------------------


def test_s3_copies_lists_syncs_and_removes(aws, tmp_path):
    data = os.urandom(20 * MB)
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "note.txt").write_text("note")
    tree = tmp_path / "tree"
    for name, text in {"a/one.txt": "1", "a/deep/two.txt": "22", "top.txt": "333"}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)

    assert aws.text("s3", "mb", "s3://cli-files").strip() == "make_bucket: cli-files"
    assert ("PRE", "cli-files") not in ls(aws.text("s3", "ls"))
    assert "cli-files" in aws.text("s3", "ls").split()

    # Over 8 MB: the CLI uploads in 8 MB parts (CreateMultipartUpload, UploadPart, Complete).
    aws.text("s3", "cp", "big.bin", "s3://cli-files/dir/big.bin", "--no-progress", cwd=tmp_path)
    aws.text("s3", "cp", "note.txt", "s3://cli-files/note.txt", "--no-progress", cwd=tmp_path)
    head = aws("s3api", "head-object", "--bucket", "cli-files", "--key", "dir/big.bin")
    parts = [data[i:i + 8 * MB] for i in range(0, len(data), 8 * MB)]
    multipart_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert (head["ContentLength"], head["ETag"]) == (len(data), f'"{multipart_etag}-3"')
    # ... and downloads it back in ranged GETs.
    aws.text("s3", "cp", "s3://cli-files/dir/big.bin", "back.bin", "--no-progress", cwd=tmp_path)
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).digest() == hashlib.sha256(data).digest()

    # Bucket to bucket over 8 MB: copied part by part (UploadPartCopy), then moved.
    aws.text("s3", "cp", "s3://cli-files/dir/big.bin", "s3://cli-files/tmp/copy.bin", "--no-progress")
    aws.text("s3", "mv", "s3://cli-files/tmp/copy.bin", "s3://cli-files/dir/moved.bin", "--no-progress")
    moved = aws("s3api", "head-object", "--bucket", "cli-files", "--key", "dir/moved.bin")
    assert (moved["ContentLength"], moved["ETag"]) == (len(data), head["ETag"])
    aws.text("s3", "cp", "s3://cli-files/dir/moved.bin", "moved.bin", "--no-progress", cwd=tmp_path)
    assert hashlib.sha256((tmp_path / "moved.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    aws.text("s3", "rm", "s3://cli-files/dir/moved.bin")

    assert ls(aws.text("s3", "ls", "s3://cli-files/")) == [("PRE", "dir/"), ("4", "note.txt")]
    assert ls(aws.text("s3", "ls", "s3://cli-files/dir/")) == [(str(len(data)), "big.bin")]
    assert ls(aws.text("s3", "ls", "s3://cli-files/no")) == [("4", "note.txt")]
    assert ls(aws.text("s3", "ls", "s3://cli-files", "--recursive")) == [
        (str(len(data)), "dir/big.bin"), ("4", "note.txt"),
    ]

    synced = aws.text("s3", "sync", "tree", "s3://cli-files/tree", "--no-progress", cwd=tmp_path)
    assert sorted(line.split()[1] for line in synced.splitlines()) == [
        "tree/a/deep/two.txt", "tree/a/one.txt", "tree/top.txt",
    ]
    # Nothing changed: nothing to send (sizes and times compared from the listing).
    assert aws.text("s3", "sync", "tree", "s3://cli-files/tree", "--no-progress", cwd=tmp_path) == ""
    (tree / "top.txt").write_text("changed")
    (tree / "a" / "one.txt").unlink()
    synced = aws.text("s3", "sync", "tree", "s3://cli-files/tree", "--delete", "--no-progress", cwd=tmp_path)
    assert sorted(line.split(":")[0] for line in synced.splitlines()) == ["delete", "upload"]
    aws.text("s3", "sync", "s3://cli-files/tree", "down", "--no-progress", cwd=tmp_path)
    down = tmp_path / "down"
    assert sorted(str(p.relative_to(down)) for p in down.rglob("*") if p.is_file()) == [
        "a/deep/two.txt", "top.txt",
    ]
    assert (down / "top.txt").read_text() == "changed"
    # The downloads got the objects' times: nothing to do again, even to the second.
    assert aws.text("s3", "sync", "s3://cli-files/tree", "down", "--exact-timestamps", "--no-progress",
                    cwd=tmp_path) == ""

    stderr = aws.fails("s3", "rb", "s3://cli-files", code="BucketNotEmpty", rcs=(1,))
    assert "remove_bucket failed" in stderr
    removed = aws.text("s3", "rm", "s3://cli-files/tree", "--recursive")
    assert sorted(line.split()[1] for line in removed.splitlines()) == [
        "s3://cli-files/tree/a/deep/two.txt", "s3://cli-files/tree/top.txt",
    ]
    # Nothing under the prefix: the CLI says so with exit code 1.
    empty = aws.run("s3", "ls", "s3://cli-files/tree/")
    assert (empty.returncode, empty.stdout) == (1, "")
    assert aws.text("s3", "rb", "s3://cli-files", "--force").splitlines()[-1] == "remove_bucket: cli-files"
    aws.fails("s3", "ls", "s3://cli-files", code="NoSuchBucket")
    aws.fails("s3api", "head-bucket", "--bucket", "cli-files", code="404")


def test_s3api_objects_notifications_and_presigned_urls(aws, tmp_path):
    (tmp_path / "body.txt").write_text("hello world, range me")
    assert aws("s3api", "create-bucket", "--bucket", "cli-api") == {"Location": "/cli-api"}
    assert aws("s3api", "get-bucket-location", "--bucket", "cli-api") == {"LocationConstraint": None}
    put = aws("s3api", "put-object", "--bucket", "cli-api", "--key", "docs/a.txt", "--body", "body.txt",
              "--content-type", "text/plain", "--metadata", "owner=me,stage=dev", cwd=tmp_path)
    assert put["ETag"] == f'"{hashlib.md5(b"hello world, range me").hexdigest()}"'
    head = aws("s3api", "head-object", "--bucket", "cli-api", "--key", "docs/a.txt")
    assert (head["ContentLength"], head["ContentType"], head["ETag"]) == (21, "text/plain", put["ETag"])
    assert head["Metadata"] == {"owner": "me", "stage": "dev"}

    got = aws("s3api", "get-object", "--bucket", "cli-api", "--key", "docs/a.txt", "--range", "bytes=6-10",
              "part.out", cwd=tmp_path)
    assert (got["ContentRange"], got["ContentLength"]) == ("bytes 6-10/21", 5)
    assert (tmp_path / "part.out").read_bytes() == b"world"

    copied = aws("s3api", "copy-object", "--bucket", "cli-api", "--key", "docs/b.txt",
                 "--copy-source", "cli-api/docs/a.txt")
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    aws("s3api", "put-object", "--bucket", "cli-api", "--key", "docs/c.txt", "--body", "body.txt",
        cwd=tmp_path)
    listed = aws("s3api", "list-objects-v2", "--bucket", "cli-api", "--start-after", "docs/a.txt")
    assert [o["Key"] for o in listed["Contents"]] == ["docs/b.txt", "docs/c.txt"]
    version_1 = aws("s3api", "list-objects", "--bucket", "cli-api", "--marker", "docs/a.txt")
    assert [o["Key"] for o in version_1["Contents"]] == ["docs/b.txt", "docs/c.txt"]
    one_page = aws("s3api", "list-objects-v2", "--bucket", "cli-api", "--prefix", "docs/",
                   "--max-keys", "1", "--no-paginate")
    assert ([o["Key"] for o in one_page["Contents"]], one_page["IsTruncated"]) == (["docs/a.txt"], True)

    deleted = aws("s3api", "delete-objects", "--bucket", "cli-api", "--delete",
                  json.dumps({"Objects": [{"Key": "docs/b.txt"}, {"Key": "docs/c.txt"}]}))
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["docs/b.txt", "docs/c.txt"]
    listed = aws("s3api", "list-objects-v2", "--bucket", "cli-api")
    assert [o["Key"] for o in listed["Contents"]] == ["docs/a.txt"]

    aws.fails("s3api", "get-object", "--bucket", "cli-api", "--key", "docs/b.txt", "gone.out",
              code="NoSuchKey")
    aws.fails("s3api", "head-object", "--bucket", "cli-api", "--key", "docs/b.txt", code="404")
    aws.fails("s3api", "list-objects-v2", "--bucket", "cli-nothing", code="NoSuchBucket")

    # A notification to a queue, read back with the CLI.
    queue_url = aws("sqs", "create-queue", "--queue-name", "cli-s3-events")["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", queue_url,
                    "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    configuration = {"QueueConfigurations": [{
        "Id": "incoming", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
    }]}
    assert aws("s3api", "put-bucket-notification-configuration", "--bucket", "cli-api",
               "--notification-configuration", json.dumps(configuration)) is None
    stored = aws("s3api", "get-bucket-notification-configuration", "--bucket", "cli-api")
    [queue_config] = stored["QueueConfigurations"]
    assert (queue_config["Id"], queue_config["QueueArn"], queue_config["Events"]) == (
        "incoming", queue_arn, ["s3:ObjectCreated:*"]
    )
    assert queue_config["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"}]
    for key in ("skipped.txt", "in/new.txt"):
        aws("s3api", "put-object", "--bucket", "cli-api", "--key", key, "--body", "body.txt", cwd=tmp_path)
    events = []

    def object_event():
        got = aws("sqs", "receive-message", "--queue-url", queue_url, "--wait-time-seconds", "5",
                  "--max-number-of-messages", "10") or {}
        for message in got.get("Messages", []):
            events.append(json.loads(message["Body"]))
            aws("sqs", "delete-message", "--queue-url", queue_url,
                "--receipt-handle", message["ReceiptHandle"])
        return [e for e in events if "Records" in e]

    [event] = wait_for(object_event, timeout=60)
    # S3 first sends a test event to a newly configured queue.
    assert [e["Event"] for e in events if "Records" not in e] == ["s3:TestEvent"]
    [record] = event["Records"]
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectCreated:Put", "in/new.txt")
    assert record["s3"]["configurationId"] == "incoming"

    # The CLI's default presigned URL (SigV2) and a SigV4 one; each verified.
    for profile, signed_with in (((), "AWSAccessKeyId="), (("--profile", "v4"), "X-Amz-Signature=")):
        url = aws.text("s3", "presign", "s3://cli-api/docs/a.txt", "--expires-in", "300", *profile).strip()
        assert signed_with in url
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert (answer.status, answer.read()) == (200, b"hello world, range me")
        tampered = url.replace("docs/a.txt", "in/new.txt")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=30)
        assert refused.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()

    # Leave no object behind (test_s3_real counts the stack's object files).
    aws.text("s3", "rb", "s3://cli-api", "--force")
    aws("sqs", "delete-queue", "--queue-url", queue_url)
    aws.fails("s3api", "head-bucket", "--bucket", "cli-api", code="404")


# SQS --------------------------------------------------------------------------


def test_sqs_queues_messages_and_attributes(aws):
    dlq_url = aws("sqs", "create-queue", "--queue-name", "cliq-dlq")["QueueUrl"]
    dlq_arn = aws("sqs", "get-queue-attributes", "--queue-url", dlq_url,
                  "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    url = aws("sqs", "create-queue", "--queue-name", "cliq-work",
              "--attributes", "VisibilityTimeout=30,DelaySeconds=0")["QueueUrl"]
    fifo_url = aws("sqs", "create-queue", "--queue-name", "cliq-jobs.fifo",
                   "--attributes", "FifoQueue=true,ContentBasedDeduplication=true")["QueueUrl"]
    assert aws("sqs", "get-queue-url", "--queue-name", "cliq-work") == {"QueueUrl": url}
    listed = aws("sqs", "list-queues", "--queue-name-prefix", "cliq-")["QueueUrls"]
    assert sorted(listed) == sorted([dlq_url, url, fifo_url])
    assert aws("sqs", "list-queues", "--queue-name-prefix", "cliq-jobs")["QueueUrls"] == [fifo_url]

    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}
    assert aws("sqs", "set-queue-attributes", "--queue-url", url, "--attributes", json.dumps({
        "RedrivePolicy": json.dumps(redrive), "MessageRetentionPeriod": "3600",
        "ReceiveMessageWaitTimeSeconds": "1",
    })) is None
    attributes = aws("sqs", "get-queue-attributes", "--queue-url", url,
                     "--attribute-names", "All")["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert (attributes["MessageRetentionPeriod"], attributes["VisibilityTimeout"]) == ("3600", "30")
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "1"
    assert aws("sqs", "list-dead-letter-source-queues", "--queue-url", dlq_url) == {"queueUrls": [url]}
    aws.fails("sqs", "set-queue-attributes", "--queue-url", url, "--attributes",
              json.dumps({"RedrivePolicy": json.dumps({"maxReceiveCount": "3"})}),
              code="InvalidAttributeValue")
    assert aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names",
               "RedrivePolicy")["Attributes"]["RedrivePolicy"] == attributes["RedrivePolicy"]

    message_attributes = {
        "price": {"DataType": "Number.float", "StringValue": "9.5"},
        "kind": {"DataType": "String", "StringValue": "order"},
    }
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", "hello",
               "--message-attributes", json.dumps(message_attributes))
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    batch = aws("sqs", "send-message-batch", "--queue-url", url, "--entries", json.dumps([
        {"Id": "a", "MessageBody": "one",
         "MessageAttributes": {"n": {"DataType": "Number.int", "StringValue": "1"}}},
        {"Id": "b", "MessageBody": "two"},
    ]))
    assert sorted(s["Id"] for s in batch["Successful"]) == ["a", "b"] and not batch.get("Failed")

    got = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "5",
              "--max-number-of-messages", "10", "--attribute-names", "All",
              "--message-attribute-names", "All")["Messages"]
    by_body = {m["Body"]: m for m in got}
    while len(by_body) < 3:  # SQS may answer with fewer than there are; ask again
        more = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "5",
                   "--max-number-of-messages", "10", "--attribute-names", "All",
                   "--message-attribute-names", "All") or {}
        assert more.get("Messages"), f"only {sorted(by_body)} came back"
        by_body.update({m["Body"]: m for m in more["Messages"]})
    hello = by_body["hello"]
    assert hello["MessageId"] == sent["MessageId"]
    # The custom type label is kept, and the digests are SQS's.
    assert hello["MessageAttributes"] == message_attributes
    assert hello["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert by_body["one"]["MessageAttributes"]["n"]["DataType"] == "Number.int"
    assert hello["Attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(hello["Attributes"])

    # Visible again at once: received a second time.
    aws("sqs", "change-message-visibility", "--queue-url", url, "--receipt-handle", hello["ReceiptHandle"],
        "--visibility-timeout", "0")
    again = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "5",
                "--attribute-names", "ApproximateReceiveCount")["Messages"]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [("hello", "2")]
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", again[0]["ReceiptHandle"])
    deleted = aws("sqs", "delete-message-batch", "--queue-url", url, "--entries", json.dumps([
        {"Id": "one", "ReceiptHandle": by_body["one"]["ReceiptHandle"]},
        {"Id": "junk", "ReceiptHandle": "not-a-handle"},
    ]))
    assert [s["Id"] for s in deleted["Successful"]] == ["one"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in deleted["Failed"]] == [
        ("junk", "ReceiptHandleIsInvalid", True)
    ]
    counts = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names",
                 "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}
    assert aws("sqs", "purge-queue", "--queue-url", url) is None
    counts = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == (
        "0", "0"
    )

    # FIFO: in order within a group; the same body within 5 minutes is one message.
    first = aws("sqs", "send-message", "--queue-url", fifo_url, "--message-body", "step 1",
                "--message-group-id", "g")
    duplicate = aws("sqs", "send-message", "--queue-url", fifo_url, "--message-body", "step 1",
                    "--message-group-id", "g")
    assert duplicate["MessageId"] == first["MessageId"]
    aws("sqs", "send-message", "--queue-url", fifo_url, "--message-body", "step 2", "--message-group-id", "g")
    aws.fails("sqs", "send-message", "--queue-url", fifo_url, "--message-body", "no group",
              code="MissingParameter")
    receive = ("sqs", "receive-message", "--queue-url", fifo_url, "--max-number-of-messages", "10",
               "--attribute-names", "All", "--receive-request-attempt-id", "try-1")
    got = aws(*receive)["Messages"]
    assert [m["Body"] for m in got] == ["step 1", "step 2"]
    # A retried attempt (its answer lost) gets the same messages and receipts.
    retried = aws(*receive)["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retried] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in got
    ]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    assert int(got[0]["Attributes"]["SequenceNumber"]) < int(got[1]["Attributes"]["SequenceNumber"])

    for queue in (url, fifo_url, dlq_url):
        assert aws("sqs", "delete-queue", "--queue-url", queue) is None
    stderr = aws.fails("sqs", "get-queue-url", "--queue-name", "cliq-work",
                       code="AWS.SimpleQueueService.NonExistentQueue")
    assert "GetQueueUrl" in stderr
    assert (aws("sqs", "list-queues", "--queue-name-prefix", "cliq-") or {}).get("QueueUrls", []) == []


# SNS --------------------------------------------------------------------------


def test_sns_topics_subscriptions_and_publishing(stack, aws):
    fn_arn = create(stack.lambda_client(), "cli-sns-reader", PRINTER, Timeout=5)["FunctionArn"]
    topic = aws("sns", "create-topic", "--name", "cli-news")["TopicArn"]
    assert topic.endswith(":cli-news")
    assert aws("sns", "create-topic", "--name", "cli-news")["TopicArn"] == topic  # idempotent
    aws("sns", "set-topic-attributes", "--topic-arn", topic, "--attribute-name", "DisplayName",
        "--attribute-value", "CLI News")
    attributes = aws("sns", "get-topic-attributes", "--topic-arn", topic)["Attributes"]
    assert (attributes["TopicArn"], attributes["DisplayName"]) == (topic, "CLI News")

    url = aws("sqs", "create-queue", "--queue-name", "cli-news-inbox")["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", url,
                    "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    to_queue = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs",
                   "--notification-endpoint", queue_arn)["SubscriptionArn"]
    to_function = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "lambda",
                      "--notification-endpoint", fn_arn)["SubscriptionArn"]
    aws("sns", "set-subscription-attributes", "--subscription-arn", to_queue,
        "--attribute-name", "RawMessageDelivery", "--attribute-value", "true")
    aws("sns", "set-subscription-attributes", "--subscription-arn", to_queue,
        "--attribute-name", "FilterPolicy", "--attribute-value", json.dumps({"tags": [{"prefix": "ur"}]}))
    sub_attributes = aws("sns", "get-subscription-attributes", "--subscription-arn", to_queue)["Attributes"]
    assert sub_attributes["RawMessageDelivery"] == "true"
    assert json.loads(sub_attributes["FilterPolicy"]) == {"tags": [{"prefix": "ur"}]}
    aws.fails("sns", "set-subscription-attributes", "--subscription-arn", to_queue,
              "--attribute-name", "FilterPolicy", "--attribute-value", "{not json",
              code="InvalidParameter")

    listed = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in listed) == sorted(
        [("sqs", queue_arn, to_queue), ("lambda", fn_arn, to_function)]
    )
    everywhere = aws("sns", "list-subscriptions")["Subscriptions"]
    assert {to_queue, to_function} <= {s["SubscriptionArn"] for s in everywhere}

    # Filtered out of the queue (the function still gets it) ...
    aws("sns", "publish", "--topic-arn", topic, "--message", "routine", "--message-attributes",
        json.dumps({"tags": {"DataType": "String", "StringValue": "routine"}}))
    # ... and delivered raw to it, with its attributes as queue message attributes.
    message_attributes = {
        "tags": {"DataType": "String.Array", "StringValue": '["urgent", "ops"]'},
        "price": {"DataType": "Number.float", "StringValue": "2.5"},
    }
    sent = aws("sns", "publish", "--topic-arn", topic, "--message", "urgent one", "--subject", "Alert",
               "--message-attributes", json.dumps(message_attributes))
    got = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "10",
              "--message-attribute-names", "All")["Messages"]
    assert [m["Body"] for m in got] == ["urgent one"]
    assert got[0]["MessageAttributes"] == message_attributes
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got[0]["ReceiptHandle"])

    def function_events():
        rows = stack.rows(
            "Invocation.objects.filter(function__name='cli-sns-reader', status='succeeded')"
            ".values_list('logs', flat=True)"
        )
        records = [json.loads(line[len("EVENT "):])["Records"][0]["Sns"]
                   for logs in rows for line in logs.splitlines() if line.startswith("EVENT ")]
        return records if len(records) >= 2 else None

    records = {r["Message"]: r for r in wait_for(function_events, timeout=90)}
    assert set(records) == {"routine", "urgent one"}
    assert records["urgent one"]["MessageId"] == sent["MessageId"]
    assert records["urgent one"]["Subject"] == "Alert"
    assert records["urgent one"]["MessageAttributes"]["price"] == {"Type": "Number.float", "Value": "2.5"}

    batch = aws("sns", "publish-batch", "--topic-arn", topic, "--publish-batch-request-entries", json.dumps([
        {"Id": "1", "Message": "b1",
         "MessageAttributes": {"tags": {"DataType": "String", "StringValue": "urgent"}}},
        {"Id": "2", "Message": "b2"},
    ]))
    assert sorted(s["Id"] for s in batch["Successful"]) == ["1", "2"] and not batch.get("Failed")
    got = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "10")["Messages"]
    assert [m["Body"] for m in got] == ["b1"]

    aws("sns", "unsubscribe", "--subscription-arn", to_function)
    listed = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [to_queue]
    aws("sns", "delete-topic", "--topic-arn", topic)
    assert topic not in [t["TopicArn"] for t in (aws("sns", "list-topics") or {}).get("Topics", [])]
    aws.fails("sns", "get-topic-attributes", "--topic-arn", topic, code="NotFound")
    aws.fails("sns", "publish", "--topic-arn", topic, "--message", "to nobody", code="NotFound")
