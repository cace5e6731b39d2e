"""boto3 clients whose requests go to the production ASGI application
(console.asgi, through tests.unit.asgi_client) instead of the network:
botocore serialises and signs them and parses the answers, so unit tests
meet the shapes and errors SDK users do."""

import io
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.config import Config

from tests.unit import asgi_client


class _Raw(io.BytesIO):
    """A response body botocore can stream."""

    def stream(self, **kwargs):
        yield self.getvalue()


def _send(request, **kwargs):
    parts = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    url = parts.path + (f"?{parts.query}" if parts.query else "")
    answer = asgi_client.call(request.method, url, body, headers)
    return AWSResponse(request.url, answer.status_code, HeadersDict(answer.header_list), _Raw(answer.content))


def aws_client(service: str, key: str, secret: str, *, token: str | None = None,
               endpoint: str = "http://testserver", **config):
    """A boto3 client for `service` (us-east-1) signing with access key id
    `key` / `secret` (and session `token`), its requests answered by the
    ASGI app. `config` is botocore Config options; retries are off
    (one attempt) so errors are not hidden."""
    client = boto3.client(
        service, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )
    client.meta.events.register(f"before-send.{service}", _send)
    return client


def aws_resource(service: str, key: str, secret: str, endpoint: str = "http://testserver"):
    """boto3's resource layer for `service` (Table, conditions,
    batch_writer for dynamodb) signing with `key` / `secret`, its requests
    answered by the ASGI app as aws_client's."""
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                    region_name="us-east-1")
    found = session.resource(service, endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))
    found.meta.client.meta.events.register(f"before-send.{service}", _send)
    return found


def code_of(excinfo) -> str:
    """The error code of a pytest.raises(ClientError) `excinfo`."""
    return excinfo.value.response["Error"]["Code"]


def message_of(excinfo) -> str:
    """The error message of a pytest.raises(ClientError) `excinfo`."""
    return excinfo.value.response["Error"]["Message"]


def s3_client(akid: str, secret: str, endpoint: str = "http://testserver", signature: str = "s3v4"):
    """Path-style S3; s3v4 because boto3 presigns with SigV2 otherwise,
    which Stratus does not take."""
    return aws_client("s3", akid, secret, endpoint=endpoint, s3={"addressing_style": "path"},
                      signature_version=signature)


def boto_client(service: str, akid: str, secret: str):
    """`service` without botocore's own parameter checks: the server-side
    validation is what the tests check."""
    return aws_client(service, akid, secret, parameter_validation=False)


def boto_lambda(akid: str, secret: str):
    return boto_client("lambda", akid, secret)
