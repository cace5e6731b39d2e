"""S3 on the real path: boto3's `s3` client (default transfer settings) ->
uvicorn -> the AWS front door -> object files and rows; a restart of the
web process loses no object."""

import hashlib
import os
import urllib.request

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.integration

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(stack):
    key, secret = stack.api_key()
    return boto3.client(
        "s3", endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, read_timeout=120, signature_version="s3v4",
                      s3={"addressing_style": "path"}),
    )


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
    files = [p for p in (stack.data_dir / "objects").glob("??/*")]
    assert len(files) == 2
    assert list((stack.data_dir / "objects" / "tmp").glob("*")) == []
