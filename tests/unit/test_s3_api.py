"""S3 through the AWS front door, driven by a real boto3 `s3` client
(path-style, SigV4): its requests go through the production ASGI
application (console.asgi -> awsapi.door) and its answers are parsed by
botocore, so shapes and errors are what SDK users meet."""

import hashlib
import io
import os
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.utils import timezone

from awsapi.protocols import serialise_response
from buckets import storage
from buckets.models import Bucket, MultipartUpload, Object
from functions.models import ApiKey
from tests.unit import asgi_client
from tests.unit.aws_clients import s3_client

MB = 1024 * 1024
# Files are removed after the commit that stops naming them: real commits.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("objects_dir")]


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="photos")
    return "photos"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def files_on_disk() -> set[str]:
    root = storage.root()
    return {p.name for p in root.glob("??/*")} if root.exists() else set()


# Buckets ---------------------------------------------------------------------


def test_it_creates_lists_heads_and_deletes_buckets(s3, team):
    assert s3.create_bucket(Bucket="my-bucket.1")["Location"] == "/my-bucket.1"
    s3.create_bucket(Bucket="another")
    listed = s3.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == ["another", "my-bucket.1"]
    assert listed["Owner"]["ID"] == team.account_id
    assert s3.head_bucket(Bucket="another")["BucketRegion"] == "us-east-1"
    s3.delete_bucket(Bucket="another")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["my-bucket.1"]


@pytest.mark.parametrize("name", ["ab", "Upper", "a" * 64, "-start", "end-", "a..b", "192.168.1.1",
                                  "xn--punycode", "under_score", "bad-s3alias"])
def test_it_refuses_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert code_of(e) == "InvalidBucketName"
    assert not Bucket.objects.exists()


def test_it_says_a_bucket_is_already_owned(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert (code_of(e), status_of(e)) == ("BucketAlreadyOwnedByYou", 409)


def test_it_pages_buckets(s3):
    for name in ("b-1", "b-2", "b-3", "other"):
        s3.create_bucket(Bucket=name)
    first = s3.list_buckets(MaxBuckets=2, Prefix="b-")
    assert [b["Name"] for b in first["Buckets"]] == ["b-1", "b-2"]
    rest = s3.list_buckets(MaxBuckets=2, Prefix="b-", ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["b-3"] and "ContinuationToken" not in rest
    assert "b-2" not in first["ContinuationToken"]  # opaque, as S3's


@pytest.mark.parametrize("token", ["garbage", "", "b-1", "eyJ4IjogMX0="])
def test_it_refuses_a_bucket_continuation_token_it_did_not_issue(s3, token):
    s3.create_bucket(Bucket="b-1")
    with pytest.raises(ClientError) as e:
        s3.list_buckets(MaxBuckets=2, ContinuationToken=token)
    assert code_of(e) == "InvalidArgument"
    assert e.value.response["Error"]["ArgumentName"] == "continuation-token"


def test_it_limits_user_metadata_to_2_kb(s3, bucket):
    # 2 KB exactly (the keys' and values' bytes) is taken.
    fits = {"k": "v" * 1000, "key2": "w" * 1043}
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", Metadata=fits)
    assert s3.head_object(Bucket=bucket, Key="ok")["Metadata"] == fits
    big = {"one": "a" * 1500, "two": "b" * 600}
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="big", Body=b"x", Metadata=big)
    assert (code_of(e), status_of(e)) == ("MetadataTooLarge", 400)
    assert e.value.response["Error"]["MaxSizeAllowed"] == "2048"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="ok", CopySource=f"{bucket}/ok", MetadataDirective="REPLACE",
                       Metadata=big)
    assert code_of(e) == "MetadataTooLarge"
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="big", Metadata=big)
    assert code_of(e) == "MetadataTooLarge"
    assert sorted(Object.objects.values_list("key", flat=True)) == ["ok"]
    assert s3.head_object(Bucket=bucket, Key="ok")["Metadata"] == fits
    assert not MultipartUpload.objects.exists()
    assert len(files_on_disk()) == 1


def test_it_answers_the_bucket_location_as_s3_does(s3, bucket):
    # us-east-1 is an empty LocationConstraint element (botocore reads the root's text).
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    operation = s3.meta.service_model.operation_model("GetBucketLocation")
    answer = serialise_response(operation, {"LocationConstraint": "eu-west-1"}, request_id="r")
    assert answer.body.endswith(
        b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>'
    )
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_bucket_location(Bucket="nothing-here")


def test_it_refuses_another_region(s3):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code_of(e) == "IllegalLocationConstraintException"


def test_it_answers_missing_buckets(s3):
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="nowhere")
    assert code_of(e) == "404"
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="nowhere")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="nowhere")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="nowhere", Key="k", Body=b"x")
    assert code_of(e) == "NoSuchBucket"


def test_it_keeps_a_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert (code_of(e), status_of(e)) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_bucket(Bucket=bucket)


def test_buckets_belong_to_their_team(s3, stranger_s3, bucket):
    assert stranger_s3.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as e:
        stranger_s3.get_object(Bucket=bucket, Key="a")
    assert code_of(e) == "NoSuchBucket"
    # Each team has its own names.
    stranger_s3.create_bucket(Bucket=bucket)
    assert Bucket.objects.filter(name=bucket).count() == 2


# Objects ---------------------------------------------------------------------


def test_it_puts_and_gets_an_object_with_its_headers(s3, bucket):
    body = b"hello, objects"
    put = s3.put_object(
        Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain",
        ContentDisposition='attachment; filename="hello.txt"', ContentLanguage="en",
        CacheControl="max-age=60", ContentEncoding="identity", Metadata={"Owner": "ada", "n": "1"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/plain"
    assert got["ContentLength"] == len(body)
    assert got["ContentDisposition"] == 'attachment; filename="hello.txt"'
    assert (got["ContentLanguage"], got["CacheControl"]) == ("en", "max-age=60")
    assert got["ContentEncoding"] == "identity"
    assert got["Metadata"] == {"owner": "ada", "n": "1"}
    assert abs(got["LastModified"] - timezone.now()) < timedelta(seconds=5)
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    assert (head["ContentLength"], head["ETag"]) == (len(body), put["ETag"])
    assert head["Metadata"] == got["Metadata"]


def test_it_keeps_keys_as_they_are(s3, bucket):
    for key in ["a b+c%d/é ü/?x=1&y#z", "/leading", "trailing/", "dots/../x"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == sorted(["a b+c%d/é ü/?x=1&y#z", "/leading", "trailing/", "dots/../x"])


def test_it_answers_an_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert (got["Body"].read(), got["ContentLength"]) == (b"", 0)
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    assert got["ContentType"] == "binary/octet-stream"


def test_it_replaces_an_object_and_removes_the_old_file(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    first = Object.objects.get(key="k").blob
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert files_on_disk() == {Object.objects.get(key="k").blob}
    assert first not in files_on_disk()


def test_it_answers_a_missing_key(s3, bucket):
    with pytest.raises(s3.exceptions.NoSuchKey) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert e.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert code_of(e) == "404"


def test_it_checks_content_md5(s3, bucket):
    import base64

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"body", ContentMD5=wrong)
    assert code_of(e) == "BadDigest"
    assert not Object.objects.exists() and files_on_disk() == set()
    right = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    s3.put_object(Bucket=bucket, Key="k", Body=b"body", ContentMD5=right)


def test_it_takes_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert (code_of(e), status_of(e)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"not-the-etag"')
    assert code_of(e) == "PreconditionFailed"
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert len(files_on_disk()) == 1


def test_it_deletes_objects(s3, bucket):
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_object(Bucket=bucket, Key="never-there")
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "zzz"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["b", "zzz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert not Object.objects.exists() and files_on_disk() == set()


def test_it_copies_objects_with_or_without_their_metadata(s3, bucket):
    s3.create_bucket(Bucket="backup")
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/csv", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket="backup", Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket="backup", Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"payload", "text/csv", {"a": "1"})

    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   ContentType="text/plain", Metadata={"b": "2"})
    head = s3.head_object(Bucket=bucket, Key="src")
    assert (head["ContentType"], head["Metadata"]) == ("text/plain", {"b": "2"})
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"payload"
    # Deleting the source keeps the copy.
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket="backup", Key="dst")["Body"].read() == b"payload"
    assert len(files_on_disk()) == 1


def test_it_refuses_a_copy_onto_itself_without_changes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"},
                       CopySourceIfMatch='"0000"')
    assert (code_of(e), status_of(e)) == ("PreconditionFailed", 412)


# Ranges and conditions ---------------------------------------------------------


@pytest.mark.parametrize("header,expected,content_range", [
    ("bytes=0-3", b"0123", "bytes 0-3/10"),
    ("bytes=7-", b"789", "bytes 7-9/10"),
    ("bytes=-2", b"89", "bytes 8-9/10"),
    ("bytes=5-100", b"56789", "bytes 5-9/10"),
    ("bytes=-50", b"0123456789", "bytes 0-9/10"),
])
def test_it_answers_ranges(s3, bucket, header, expected, content_range):
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == expected
    assert (got["ContentRange"], got["ContentLength"]) == (content_range, len(expected))


def test_it_ignores_a_range_it_cannot_read_and_refuses_one_past_the_end(s3, bucket):
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=5-2")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["Body"].read() == b"0123456789"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-")
    assert (code_of(e), status_of(e)) == ("InvalidRange", 416)
    assert e.value.response["Error"]["ActualObjectSize"] == "10"


def test_it_answers_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)

    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"x"
    assert s3.get_object(Bucket=bucket, Key="k", IfNoneMatch='"other"')["Body"].read() == b"x"
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=before)["Body"].read() == b"x"
    assert s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=after)["Body"].read() == b"x"
    # A true If-Match wins over a false If-Unmodified-Since.
    s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=before)

    for kwargs, status in [
        ({"IfMatch": '"other"'}, 412), ({"IfUnmodifiedSince": before}, 412),
        ({"IfNoneMatch": etag}, 304), ({"IfModifiedSince": after}, 304),
        ({"IfNoneMatch": etag, "IfModifiedSince": before}, 304),
    ]:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="k", **kwargs)
        assert status_of(e) == status, kwargs
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key="k", **kwargs)
        assert code_of(e) == str(status), kwargs
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"other"')
    assert code_of(e) == "PreconditionFailed"


def test_it_overrides_response_headers(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="k", ResponseContentType="application/json",
                        ResponseContentDisposition="inline")
    assert (got["ContentType"], got["ContentDisposition"]) == ("application/json", "inline")


# ListObjectsV2 -------------------------------------------------------------------


@pytest.fixture
def tree(s3, bucket):
    keys = ["a.txt", "docs/1.txt", "docs/2.txt", "docs/sub/3.txt", "docs2/x", "img/a.png", "img/b.png", "z"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return keys


def test_it_lists_every_key_in_order(s3, bucket, tree):
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == tree
    assert listed["KeyCount"] == len(tree) and listed["IsTruncated"] is False
    first = listed["Contents"][0]
    assert (first["Size"], first["ETag"], first["StorageClass"]) == (
        5, f'"{hashlib.md5(b"a.txt").hexdigest()}"', "STANDARD")


def test_it_lists_by_prefix_and_delimiter(s3, bucket, tree):
    root = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in root["Contents"]] == ["a.txt", "z"]
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["docs/", "docs2/", "img/"]
    assert root["KeyCount"] == 5
    docs = s3.list_objects_v2(Bucket=bucket, Prefix="docs/", Delimiter="/")
    assert [o["Key"] for o in docs["Contents"]] == ["docs/1.txt", "docs/2.txt"]
    assert [p["Prefix"] for p in docs["CommonPrefixes"]] == ["docs/sub/"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="docs")["Contents"]] == [
        "docs/1.txt", "docs/2.txt", "docs/sub/3.txt", "docs2/x"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="nothing")


def test_it_pages_with_continuation_tokens(s3, bucket, tree):
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kwargs)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == ["a.txt", "docs/", "docs2/", "img/", "z"]
    assert pages == 3
    paginated = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
    assert [o["Key"] for p in paginated for o in p["Contents"]] == tree
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage!")
    assert code_of(e) == "InvalidArgument"


def test_listed_times_are_whole_seconds_as_the_last_modified_header(s3, bucket, tree):
    # `aws s3 sync --exact-timestamps` sets a download's mtime from the header
    # and compares it with the listing's time: they must agree.
    head = s3.head_object(Bucket=bucket, Key="a.txt")["LastModified"]
    for listed in (s3.list_objects_v2(Bucket=bucket), s3.list_objects(Bucket=bucket)):
        first = listed["Contents"][0]
        assert first["Key"] == "a.txt" and first["LastModified"] == head
        assert all(o["LastModified"].microsecond == 0 for o in listed["Contents"])
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/a.txt")
    assert copied["CopyObjectResult"]["LastModified"].microsecond == 0


def test_it_starts_after_a_key(s3, bucket, tree):
    listed = s3.list_objects_v2(Bucket=bucket, StartAfter="docs/sub/3.txt")
    assert [o["Key"] for o in listed["Contents"]] == ["docs2/x", "img/a.png", "img/b.png", "z"]
    assert listed["StartAfter"] == "docs/sub/3.txt"
    assert "Owner" not in listed["Contents"][0]
    owned = s3.list_objects_v2(Bucket=bucket, FetchOwner=True, MaxKeys=1)
    assert owned["Contents"][0]["Owner"]["DisplayName"] == "alpha"
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0


def test_it_lists_version_1_with_markers(s3, bucket, tree):
    # `aws s3api list-objects` and older SDK code call ListObjects (v1).
    listed = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == tree
    assert listed["IsTruncated"] is False and "NextMarker" not in listed
    assert listed["Contents"][0]["Owner"]["DisplayName"] == "alpha"
    after = s3.list_objects(Bucket=bucket, Marker="docs/sub/3.txt", MaxKeys=2)
    assert ([o["Key"] for o in after["Contents"]], after["IsTruncated"]) == (["docs2/x", "img/a.png"], True)
    assert after["Marker"] == "docs/sub/3.txt" and "NextMarker" not in after  # no delimiter: no NextMarker
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=marker)
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        marker = page["NextMarker"]
    assert seen == ["a.txt", "docs/", "docs2/", "img/", "z"]
    paginated = s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
    assert [o["Key"] for p in paginated for o in p["Contents"]] == tree
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects(Bucket="nothing-here")


# Access ------------------------------------------------------------------------


def test_a_read_only_member_reads_but_does_not_write(s3, reader_s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert reader_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert reader_s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    reader_s3.head_bucket(Bucket=bucket)
    for call in (
        lambda: reader_s3.put_object(Bucket=bucket, Key="k", Body=b"y"),
        lambda: reader_s3.delete_object(Bucket=bucket, Key="k"),
        lambda: reader_s3.create_bucket(Bucket="mine"),
        lambda: reader_s3.create_multipart_upload(Bucket=bucket, Key="big"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert (code_of(e), status_of(e)) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert files_on_disk() == {Object.objects.get().blob}


def test_it_refuses_a_wrong_signature_in_s3_words(users, team, bucket):
    key, _ = ApiKey.issue(users["member"], team)
    with pytest.raises(ClientError) as e:
        s3_client(key.access_key_id, "wrong").list_buckets()
    assert (code_of(e), status_of(e)) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        s3_client("AKIANOSUCHKEY0000000", "x").put_object(Bucket=bucket, Key="k", Body=b"x")
    assert code_of(e) == "InvalidAccessKeyId"
    assert files_on_disk() == set()


def test_it_says_what_it_does_not_implement_in_s3_words(s3, reader_s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert (code_of(e), status_of(e)) == ("NotImplemented", 501)
    assert "not implemented" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    assert code_of(e) == "NotImplemented"
    with pytest.raises(ClientError) as e:
        reader_s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code_of(e) == "NotImplemented"  # a read: not refused as a write first
    with pytest.raises(ClientError) as e:
        reader_s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert code_of(e) == "AccessDenied"


def test_it_answers_what_tools_read_before_they_write(s3, reader_s3, team, bucket):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    versioning = reader_s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in versioning and "MFADelete" not in versioning
    acls = reader_s3.get_bucket_acl(Bucket=bucket), reader_s3.get_object_acl(Bucket=bucket, Key="a.txt")
    for acl in acls:
        assert acl["Owner"]["ID"] == team.account_id
        assert acl["Grants"] == [{"Grantee": {"ID": team.account_id, "DisplayName": team.name,
                                              "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    with pytest.raises(ClientError) as e:
        reader_s3.get_bucket_tagging(Bucket=bucket)
    assert (code_of(e), status_of(e)) == ("NoSuchTagSet", 404)
    assert reader_s3.get_object_tagging(Bucket=bucket, Key="a.txt")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket="nope-bucket")
    assert code_of(e) == "NoSuchBucket"


def _rewrite(client, operation: str, query: dict | None = None, headers: dict | None = None):
    """Send `operation`'s next requests with query parameters or headers
    boto3 would refuse to send (its own validation), still signed."""

    def edit(request, **kwargs):
        parts = urlsplit(request.url)
        pairs = [p for p in parts.query.split("&") if p and p.split("=")[0] not in (query or {})]
        pairs += [f"{k}={v}" for k, v in (query or {}).items()]
        request.url = parts._replace(query="&".join(pairs)).geturl()
        for name, value in (headers or {}).items():
            request.headers[name] = value

    client.meta.events.register(f"before-sign.s3.{operation}", edit)


@pytest.mark.parametrize("operation,call,name", [
    ("ListObjectsV2", lambda c: c.list_objects_v2(Bucket="photos"), "max-keys"),
    ("ListObjects", lambda c: c.list_objects(Bucket="photos"), "max-keys"),
    ("ListBuckets", lambda c: c.list_buckets(), "max-buckets"),
])
def test_it_refuses_an_integer_parameter_that_is_not_one(s3, bucket, operation, call, name):
    _rewrite(s3, operation, query={name: "abc"})
    with pytest.raises(ClientError) as e:
        call(s3)
    assert (code_of(e), status_of(e)) == ("InvalidArgument", 400)
    error = e.value.response["Error"]
    assert error["Message"] == f"Provided {name} not an integer or within integer range"
    assert (error["ArgumentName"], error["ArgumentValue"]) == (name, "abc")


def test_it_refuses_list_parts_numbers_that_are_not_integers(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    for name in ("max-parts", "part-number-marker"):
        client = s3_client(*_keys_of(s3))
        _rewrite(client, "ListParts", query={name: "99999999999"})
        with pytest.raises(ClientError) as e:
            client.list_parts(Bucket=bucket, Key="big", UploadId=upload)
        assert code_of(e) == "InvalidArgument"
        assert e.value.response["Error"]["ArgumentName"] == name


def _keys_of(client) -> tuple[str, str]:
    credentials = client._request_signer._credentials
    return credentials.access_key, credentials.secret_key


def test_it_ignores_a_conditional_date_that_is_not_a_date(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    _rewrite(s3, "GetObject", headers={"If-Modified-Since": "not a date",
                                       "If-Unmodified-Since": "yesterday-ish"})
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"hello"
    _rewrite(s3, "HeadObject", headers={"If-Modified-Since": "32 Foo 2020"})
    assert s3.head_object(Bucket=bucket, Key="a.txt")["ContentLength"] == 5
    # A real date still counts.
    with pytest.raises(ClientError) as e:
        s3_client(*_keys_of(s3)).head_object(Bucket=bucket, Key="a.txt",
                                             IfModifiedSince=timezone.now() + timedelta(days=1))
    assert status_of(e) == 304


# Presigned URLs ------------------------------------------------------------------


def test_presigned_urls_get_and_put(s3, bucket):
    where = {"Bucket": bucket, "Key": "up.txt"}
    put_url = s3.generate_presigned_url("put_object", Params=where, ExpiresIn=60)
    parts = urlsplit(put_url)
    answer = asgi_client.call("PUT", f"{parts.path}?{parts.query}", b"uploaded")
    assert answer.status_code == 200, answer.content
    get_url = s3.generate_presigned_url("get_object", Params=where, ExpiresIn=60)
    parts = urlsplit(get_url)
    answer = asgi_client.call("GET", f"{parts.path}?{parts.query}")
    assert (answer.status_code, answer.content) == (200, b"uploaded")
    assert answer["etag"] == f'"{hashlib.md5(b"uploaded").hexdigest()}"'


def test_sigv2_presigned_urls_get_and_put(users, team, bucket, monkeypatch):
    # What `aws s3 presign` (AWS CLI v1) and boto3 without s3v4 make.
    key, secret = ApiKey.issue(users["member"], team)
    client = s3_client(key.access_key_id, secret, signature="s3")
    put = client.generate_presigned_url("put_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "v2 file.txt", "ContentType": "text/plain"})
    assert "AWSAccessKeyId=" in put and "X-Amz-Signature" not in put
    parts = urlsplit(put)
    answer = asgi_client.call("PUT", f"{parts.path}?{parts.query}", b"by v2", {"content-type": "text/plain"})
    assert answer.status_code == 200, answer.content
    # The signed Content-Type is part of the signature.
    answer = asgi_client.call("PUT", f"{parts.path}?{parts.query}", b"x", {"content-type": "text/html"})
    assert answer.status_code == 403 and b"SignatureDoesNotMatch" in answer.content
    get = client.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "v2 file.txt", "ResponseContentDisposition": "attachment"})
    parts = urlsplit(get)
    answer = asgi_client.call("GET", f"{parts.path}?{parts.query}")
    assert (answer.status_code, answer.content) == (200, b"by v2")
    assert answer["content-disposition"] == "attachment"
    tampered = asgi_client.call("GET", f"{parts.path}?{parts.query.replace('attachment', 'inline')}")
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
    other_key = asgi_client.call("GET", f"{parts.path.replace('file', 'other')}?{parts.query}")
    assert other_key.status_code == 403 and b"SignatureDoesNotMatch" in other_key.content
    later = time.time() + 120
    monkeypatch.setattr("awsapi.sigv4.time.time", lambda: later)
    expired = asgi_client.call("GET", f"{parts.path}?{parts.query}")
    assert expired.status_code == 403 and b"Request has expired" in expired.content


def test_presigned_urls_are_checked(s3, bucket, monkeypatch):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    parts = urlsplit(url)
    tampered = asgi_client.call("GET", f"{parts.path.replace('/k', '/other')}?{parts.query}")
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
    later = timezone.now() + timedelta(seconds=120)
    monkeypatch.setattr("awsapi.sigv4.timezone.now", lambda: later)
    expired = asgi_client.call("GET", f"{parts.path}?{parts.query}")
    assert expired.status_code == 403 and b"Request has expired" in expired.content


# Multipart uploads ----------------------------------------------------------------


def test_upload_fileobj_goes_multipart_and_comes_back_whole(s3, bucket):
    data = os.urandom(11 * MB + 123)
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, use_threads=False)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=config,
                      ExtraArgs={"ContentType": "application/x-big", "Metadata": {"k": "v"}})
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    chunks = [data[i:i + 5 * MB] for i in range(0, len(data), 5 * MB)]
    expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
    assert head["ETag"] == f'"{expected}-3"'
    assert (head["ContentLength"], head["ContentType"], head["Metadata"]) == (len(data), "application/x-big",
                                                                             {"k": "v"})
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", out, Config=config)
    assert out.getvalue() == data
    assert not MultipartUpload.objects.exists()
    assert files_on_disk() == {Object.objects.get().blob}


def test_multipart_by_hand_and_its_errors(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    one = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MB))
    two = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"tail")
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, 5 * MB, one["ETag"]), (2, 4, two["ETag"])]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=10001, Body=b"x")
    assert code_of(e) == "InvalidArgument"
    parts = [{"PartNumber": 1, "ETag": one["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]
    for wrong, code in [(parts[::-1], "InvalidPartOrder"),
                        ([parts[0], {"PartNumber": 2, "ETag": '"0"'}], "InvalidPart")]:
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                         MultipartUpload={"Parts": wrong})
        assert code_of(e) == code
    small = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    tiny = s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=small, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": tiny["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]})
    assert code_of(e) in ("EntityTooSmall", "InvalidPart")
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=small)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=bucket, Key="small", UploadId=small)

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=bucket, Key="mp", Range="bytes=-4")["Body"].read() == b"tail"
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert files_on_disk() == {Object.objects.get().blob}


def test_it_copies_a_large_object_part_by_part(s3, bucket):
    # The AWS CLI's `s3 cp s3://... s3://...` over 8 MB: UploadPartCopy with ranges.
    data = os.urandom(6 * MB + 100)
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    where = {"Bucket": bucket, "Key": "dst", "UploadId": upload, "CopySource": f"{bucket}/src"}
    one = s3.upload_part_copy(PartNumber=1, CopySourceRange=f"bytes=0-{5 * MB - 1}", **where)
    two = s3.upload_part_copy(PartNumber=2, CopySourceRange=f"bytes={5 * MB}-{len(data) - 1}", **where)
    assert one["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[:5 * MB]).hexdigest()}"'
    for bad in (f"bytes=0-{len(data)}", "bytes=5-1", "bytes=0-", "0-10"):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(PartNumber=3, CopySourceRange=bad, **where)
        assert code_of(e) == "InvalidArgument", bad
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(PartNumber=3, **{**where, "CopySource": f"{bucket}/missing"})
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(PartNumber=3, CopySourceIfMatch='"other"', **where)
    assert code_of(e) == "PreconditionFailed"
    parts = [{"PartNumber": 1, "ETag": one["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": two["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data
    # boto3's managed copy takes the same path.
    s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "dst2",
            Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, use_threads=False))
    assert s3.head_object(Bucket=bucket, Key="dst2")["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=bucket, Key="dst2")["Body"].read() == data
    assert files_on_disk() == set(Object.objects.values_list("blob", flat=True))


def test_it_refuses_a_body_over_the_limit(s3, bucket, settings):
    settings.STRATUS_S3_MAX_PUT_BYTES = 1000
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 1001)
    assert code_of(e) == "EntityTooLarge"
    assert not Object.objects.exists() and files_on_disk() == set()
    assert list(storage.spool_dir().glob("*")) == []


def test_it_deletes_a_bucket_with_an_unfinished_upload(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    s3.delete_bucket(Bucket=bucket)
    assert files_on_disk() == set()


def test_it_takes_boto3s_unsigned_aws_chunked_bodies_over_https(users, team, bucket):
    # Over HTTPS boto3 sends PutObject as aws-chunked with a trailing
    # checksum and STREAMING-UNSIGNED-PAYLOAD-TRAILER (TLS vouches for the body).
    key, secret = ApiKey.issue(users["member"], team)
    client = s3_client(key.access_key_id, secret, endpoint="https://testserver")
    data = os.urandom(200_000)
    sent = []
    client.meta.events.register(
        "before-sign.s3.PutObject", lambda request, **kw: sent.append(dict(request.headers))
    )
    client.put_object(Bucket=bucket, Key="tls", Body=data, ContentEncoding="gzip")
    assert "aws-chunked" in sent[0]["Content-Encoding"]
    got = client.get_object(Bucket=bucket, Key="tls")
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert got["ContentEncoding"] == "gzip"
