"""SigV4 verification against requests signed by botocore itself."""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import RequestFactory
from django.utils import timezone

from awsapi import sigv4
from functions.models import ApiKey

HOST = "testserver"


def sign(method: str, path: str, body: bytes, akid: str, secret: str, *,
         headers: dict | None = None, region: str = "us-east-1") -> dict:
    """Sign like an SDK would; return the headers to send (Host included)."""
    req = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body,
                     headers=dict(headers or {}))
    SigV4Auth(Credentials(akid, secret), "lambda", region).add_auth(req)
    return {"host": HOST, **{k: v for k, v in req.headers.items()}}


def django_request(method: str, path: str, body: bytes, headers: dict):
    """A Django request as the server receives it: the path decoded, the
    query string raw, headers in META."""
    parts = urlsplit(path)
    headers = dict(headers)
    content_type = headers.pop("Content-Type", "application/octet-stream")
    return RequestFactory().generic(
        method, parts.path + (f"?{parts.query}" if parts.query else ""),
        data=body, content_type=content_type, headers=headers,
    )


@pytest.fixture
def api_key(users, team):
    return ApiKey.issue(users["member"], team)


def test_it_accepts_a_request_signed_by_botocore(api_key):
    key, secret = api_key
    body = b'{"hello": "world"}'
    path = "/2015-03-31/functions/hello/invocations"
    headers = sign("POST", path, body, key.access_key_id, secret,
                   headers={"Content-Type": "application/json"})
    assert sigv4.verify(django_request("POST", path, body, headers)) == key
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_accepts_percent_encoded_arns_and_query_strings(api_key):
    key, secret = api_key
    path = ("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012"
            "%3Afunction%3Ahello/configuration?Qualifier=%24LATEST&MaxItems=5")
    headers = sign("GET", path, b"", key.access_key_id, secret)
    assert sigv4.verify(django_request("GET", path, b"", headers)) == key


def test_it_accepts_a_signed_content_sha256(api_key):
    key, secret = api_key
    body = b"{}"
    headers = sign("POST", "/2015-03-31/functions", body, key.access_key_id, secret,
                   headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert sigv4.verify(django_request("POST", "/2015-03-31/functions", body, headers)) == key


def test_it_rejects_an_unsigned_payload_claim(api_key):
    key, secret = api_key
    headers = sign("POST", "/2015-03-31/functions", b"{}", key.access_key_id, secret,
                   headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("POST", "/2015-03-31/functions", b"{}", headers))
    assert e.value.code == "InvalidSignatureException"


def test_it_rejects_a_tampered_body(api_key):
    key, secret = api_key
    headers = sign("POST", "/2015-03-31/functions", b'{"a": 1}', key.access_key_id, secret)
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("POST", "/2015-03-31/functions", b'{"a": 2}', headers))
    assert e.value.code == "InvalidSignatureException"
    assert "does not match the signature you provided" in e.value.message


def test_it_rejects_a_tampered_path(api_key):
    key, secret = api_key
    headers = sign("GET", "/2015-03-31/functions/a", b"", key.access_key_id, secret)
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(django_request("GET", "/2015-03-31/functions/b", b"", headers))


def test_it_rejects_a_wrong_secret(api_key):
    key, _ = api_key
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, "not-the-secret")
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "InvalidSignatureException"


def test_it_rejects_an_unknown_key(db):
    headers = sign("GET", "/2015-03-31/functions", b"", "AKIANOSUCHKEY0000000", "x")
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "UnrecognizedClientException"


def test_it_rejects_a_key_whose_user_left_the_team(api_key, users, team):
    key, secret = api_key
    team.membership_set.filter(user=users["member"]).delete()
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, secret)
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "UnrecognizedClientException"


def test_it_rejects_a_missing_header(db):
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", {}))
    assert e.value.code == "MissingAuthenticationTokenException"


def test_it_rejects_a_malformed_header(db):
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=nonsense", "X-Amz-Date": "x"}
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "IncompleteSignatureException"


def test_it_rejects_a_request_signed_too_long_ago(api_key, monkeypatch):
    key, secret = api_key
    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=16)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: old)
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, secret)
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "InvalidSignatureException"
    assert "Signature expired" in e.value.message


def test_it_updates_last_used_at_at_most_once_a_minute(api_key):
    key, secret = api_key
    recent = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, secret)
    sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    key.refresh_from_db()
    assert key.last_used_at == recent


@pytest.mark.parametrize("wire_path", [
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahi",
    # Some SDKs leave ':' unencoded; the raw path from daphne covers both.
    "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hi",
])
def test_it_uses_the_raw_path_from_the_asgi_scope(api_key, wire_path):
    key, secret = api_key
    headers = sign("GET", wire_path, b"", key.access_key_id, secret)
    request = django_request("GET", wire_path, b"", headers)
    request.scope = {"raw_path": wire_path.encode()}
    assert sigv4.verify(request) == key


def test_it_rejects_a_signature_for_another_region(api_key):
    key, secret = api_key
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, secret, region="eu-west-1")
    with pytest.raises(sigv4.SignatureError) as e:
        sigv4.verify(django_request("GET", "/2015-03-31/functions", b"", headers))
    assert e.value.code == "InvalidSignatureException" and "region" in e.value.message
