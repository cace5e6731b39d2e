import io
import json
import time
import zipfile
from contextlib import contextmanager

import boto3
import requests
from botocore.config import Config


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def create(client, name: str, source: str, **kwargs):
    kwargs.setdefault("Timeout", 10)
    return client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": source})},
        **kwargs,
    )


def invoke_json(client, name: str, payload, **kwargs):
    resp = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    body = resp["Payload"].read()
    return resp, json.loads(body) if body else None


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    """Poll a condition in a test (the platform itself never polls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def login(stack, username: str = "admin", password: str = "admin-pass-123") -> requests.Session:
    session = requests.Session()
    session.get(f"{stack.url}/accounts/login/")
    resp = session.post(
        f"{stack.url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{stack.url}/accounts/login/"},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[:500]
    return session


def settle(fetch, done, timeout: float = 60, interval: float = 0.5):
    """Call `fetch` until `done(value)` or `timeout`, and return the last
    value either way, so the test's asserts can say what was wrong."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def aws_client(stack, service: str, key: str | None = None, secret: str | None = None, **config):
    """A boto3 client for `service` on `stack` (us-east-1), signing with
    `key`/`secret` or, without them, a new key of the stack's admin.
    `config` is botocore Config options; one attempt (retries would hide
    errors) and a 60 s read timeout unless `read_timeout` is given."""
    if key is None:
        key, secret = stack.api_key()
    config.setdefault("read_timeout", 60)
    return boto3.client(
        service, endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, **config),
    )


@contextmanager
def running(stack):
    """`stack` (a tests.stack.Stack) started for the block and stopped after
    it, also when it failed to start half-way; for a module's own stack."""
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
