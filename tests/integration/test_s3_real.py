"""S3 on the real path: boto3's `s3` client (default transfer settings) ->
uvicorn -> the AWS front door -> object files and rows; a restart of the
web process loses no object; a bucket's notification runs a function."""

import hashlib
import json
import os
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import aws_client, create, wait_for

pytestmark = pytest.mark.integration

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(stack):
    return aws_client(stack, "s3", read_timeout=120, signature_version="s3v4",
                      s3={"addressing_style": "path"})


def test_a_large_upload_round_trips_and_outlives_a_web_restart(stack, s3, tmp_path):
    data = os.urandom(20 * MB)
    source, back = tmp_path / "big.bin", tmp_path / "back.bin"
    source.write_bytes(data)
    s3.create_bucket(Bucket="large")

    # Default settings: multipart from 8 MB, 8 MB parts, several threads.
    s3.upload_file(str(source), "large", "dir/big.bin")
    s3.put_object(Bucket="large", Key="small.txt", Body=b"small", ContentType="text/plain")
    head = s3.head_object(Bucket="large", Key="dir/big.bin")
    parts = [data[i:i + 8 * MB] for i in range(0, len(data), 8 * MB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert (head["ContentLength"], head["ETag"]) == (len(data), f'"{expected}-3"')

    stack.restart("web")

    # download_file reads it back in ranged GETs, in parallel.
    s3.download_file("large", "dir/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert s3.get_object(Bucket="large", Key="small.txt")["Body"].read() == b"small"
    listed = s3.list_objects_v2(Bucket="large", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["small.txt"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]

    url = s3.generate_presigned_url("get_object", Params={"Bucket": "large", "Key": "small.txt"})
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert (answer.status, answer.read()) == (200, b"small")
    # Nothing left half-written: every file under objects/ is an object's.
    files = sorted(p.name for p in (stack.data_dir / "objects").glob("??/*"))
    named = stack.rows(
        "__import__('buckets.models', fromlist=['Object']).Object.objects.values_list('blob', flat=True)"
    )
    parts = stack.rows(
        "__import__('buckets.models', fromlist=['Part']).Part.objects.values_list('blob', flat=True)"
    )
    # (The stack is shared with other test modules: their objects count too.)
    assert (files, parts) == (sorted(named), []), f"files {files}; objects {named}; parts {parts}"
    assert len(s3.list_objects_v2(Bucket="large")["Contents"]) == 2
    assert list((stack.data_dir / "objects" / "tmp").glob("*")) == []


PRINTER = '''
import json
from urllib.parse import unquote_plus

def handler(event, context):
    record = event["Records"][0]
    print("EVENT " + json.dumps(event))
    return {"key": unquote_plus(record["s3"]["object"]["key"])}
'''


def test_a_put_object_runs_the_function_its_bucket_notifies(stack, s3):
    fn_arn = create(stack.lambda_client(), "s3reader", PRINTER, Timeout=5)["FunctionArn"]
    s3.create_bucket(Bucket="inbox")
    s3.put_bucket_notification_configuration(Bucket="inbox", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "csv-in", "LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
        }],
    })
    s3.put_object(Bucket="inbox", Key="skipped.txt", Body=b"not a csv")
    sent = s3.put_object(Bucket="inbox", Key="in/day 1.csv", Body=b"a,b\n1,2\n")

    def finished():
        return [r for r in stack.rows(
            "Invocation.objects.filter(function__name='s3reader')"
            ".values('status', 'source', 'event', 'result', 'logs', 'trigger')"
        ) if r["status"] in ("succeeded", "failed", "timeout")]

    [row] = wait_for(finished, timeout=90)
    assert (row["status"], row["source"], row["trigger"]) == ("succeeded", "bucket", "bucket:inbox")
    assert json.loads(row["result"]) == {"key": "in/day 1.csv"}
    line = next(x for x in row["logs"].splitlines() if x.startswith("EVENT "))
    [record] = json.loads(line[len("EVENT "):])["Records"]
    assert (record["eventSource"], record["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert record["responseElements"]["x-amz-request-id"] == sent["ResponseMetadata"]["RequestId"]
    assert record["s3"]["configurationId"] == "csv-in"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::inbox"
    assert record["s3"]["object"]["key"] == "in/day+1.csv"
    assert record["s3"]["object"]["size"] == 8
    assert f'"{record["s3"]["object"]["eTag"]}"' == sent["ETag"]


def test_what_tools_read_and_what_is_refused_answer_as_s3(s3):
    s3.create_bucket(Bucket="fidelity")
    s3.put_object(Bucket="fidelity", Key="a.txt", Body=b"a")
    assert "Status" not in s3.get_bucket_versioning(Bucket="fidelity")
    assert s3.get_object_acl(Bucket="fidelity", Key="a.txt")["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert s3.get_object_tagging(Bucket="fidelity", Key="a.txt")["TagSet"] == []
    for call, code, status in [
        (lambda: s3.get_bucket_tagging(Bucket="fidelity"), "NoSuchTagSet", 404),
        (lambda: s3.get_bucket_policy(Bucket="fidelity"), "NotImplemented", 501),
        (lambda: s3.put_object(Bucket="fidelity", Key="b", Body=b"b", Metadata={"m": "x" * 2100}),
         "MetadataTooLarge", 400),
        (lambda: s3.list_buckets(MaxBuckets=1, ContinuationToken="garbage"), "InvalidArgument", 400),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        error = e.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="fidelity")["Contents"]] == ["a.txt"]
    # Pages of buckets, by the token ListBuckets issued.
    s3.create_bucket(Bucket="fidelity-2")
    names, token = [], None
    while True:
        page = s3.list_buckets(MaxBuckets=1, Prefix="fidelity",
                               **({"ContinuationToken": token} if token else {}))
        names += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert names == ["fidelity", "fidelity-2"]
