"""The AWS front door on the wire (uvicorn with httptools, boto3 as the
client): an answer given before the request's body was read leaves the
keep-alive connection fit for the next request, and unsigned AWS-shaped
requests get AWS's errors in their service's protocol, not console pages."""

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def client(stack, service: str, key: str | None = None, secret: str | None = None, **config):
    if key is None:
        config["signature_version"] = UNSIGNED
        key, secret = "unused", "unused"
    return boto3.client(
        service, endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}, **config),
    )


@pytest.fixture(scope="module")
def reader_keys(stack):
    """A read-only member of the admin's team, with a key of its own."""
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from functions.access import default_team\nfrom functions.models import Membership\n"
        "User = get_user_model()\nteam = default_team(User.objects.get(username='admin'))\n"
        "viewer, _ = User.objects.get_or_create(username='wire-viewer')\n"
        "Membership.objects.get_or_create(team=team, user=viewer, defaults={'role': 'readonly'})\n"
    )
    return stack.api_key("wire-viewer")


def error(exc) -> tuple[int, str]:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]


@pytest.mark.parametrize("size", [1, 5, 10, 1000, 70_000])
def test_a_refused_put_leaves_the_connection_fit_for_the_next_request(stack, reader_keys, size):
    owner = client(stack, "s3", *stack.api_key())
    bucket = f"wire-{size}"
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="there", Body=b"kept")
    reader = client(stack, "s3", *reader_keys)
    for _ in range(2):
        with pytest.raises(ClientError) as denied:
            reader.put_object(Bucket=bucket, Key="k", Body=b"x" * size)
        assert error(denied) == (403, "AccessDenied")
        # The same pooled connection: no leftover body parsed as a request.
        listed = reader.list_objects_v2(Bucket=bucket)
        assert [o["Key"] for o in listed["Contents"]] == ["there"]
        assert reader.get_object(Bucket=bucket, Key="there")["Body"].read() == b"kept"


def test_an_anonymous_sqs_client_gets_missing_authentication_token(stack):
    sqs = client(stack, "sqs")
    with pytest.raises(ClientError) as refused:
        sqs.list_queues()
    # SQS's JSON answer carries the query code, which boto3 reports.
    assert error(refused) == (403, "MissingAuthenticationToken")
    assert refused.value.response["Error"]["Message"].startswith("Missing Authentication Token")
    raw = requests.post(f"{stack.url}/", data=b"{}", timeout=30, headers={
        "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0",
    })
    assert raw.status_code == 403
    assert raw.json()["__type"] == "MissingAuthenticationTokenException"


def test_an_anonymous_sns_client_gets_missing_authentication_token(stack):
    sns = client(stack, "sns")
    with pytest.raises(ClientError) as refused:
        sns.list_topics()
    assert error(refused) == (403, "MissingAuthenticationToken")
    # A form with no AWS header at all: its Action says what it is.
    raw = requests.post(f"{stack.url}/", data={"Action": "ListTopics", "Version": "2010-03-31"}, timeout=30)
    assert raw.status_code == 403 and raw.headers["Content-Type"].startswith("text/xml")
    assert b"<Code>MissingAuthenticationToken</Code>" in raw.content


def test_an_anonymous_s3_client_gets_access_denied_and_changes_nothing(stack):
    owner = client(stack, "s3", *stack.api_key())
    owner.create_bucket(Bucket="anonymous-wire")
    owner.put_object(Bucket="anonymous-wire", Key="k", Body=b"kept")
    anonymous = client(stack, "s3")
    calls = [
        lambda: anonymous.get_object(Bucket="anonymous-wire", Key="k"),
        lambda: anonymous.put_object(Bucket="anonymous-wire", Key="k", Body=b"x"),
        lambda: anonymous.list_objects_v2(Bucket="anonymous-wire"),
        lambda: anonymous.delete_object(Bucket="anonymous-wire", Key="k"),
        lambda: anonymous.head_object(Bucket="anonymous-wire", Key="k"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        if refused.value.operation_name != "HeadObject":
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert owner.get_object(Bucket="anonymous-wire", Key="k")["Body"].read() == b"kept"


def test_the_console_stays_djangos(stack):
    from tests.integration.helpers import login

    session = login(stack)
    page = session.get(f"{stack.url}/buckets/", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    # A console form without its CSRF token is still refused by Django.
    forged = requests.post(f"{stack.url}/functions/new/", data={"name": "x"}, timeout=30,
                           cookies=session.cookies, allow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
