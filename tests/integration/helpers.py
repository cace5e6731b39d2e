import io
import json
import time
import uuid
import zipfile
from contextlib import contextmanager

import boto3
import requests
from botocore.config import Config


def zip_of(files: dict[str, str]) -> bytes:
    """A zip of `files` (name -> text), the same bytes for the same files.
    zipfile would stamp each entry with the current time (2-second steps),
    so two zips of one code made a moment apart could differ: another
    CodeSha256, and the dependency build a test expects to be reused is
    built again (tests/unit/test_dependencies.py failed that way)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            # The modes writestr gives a name: a folder, or a file rw for its owner.
            info.external_attr = (0o40775 << 16) | 0x10 if name.endswith("/") else 0o600 << 16
            zf.writestr(info, text)
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


def aws_clients(stack, *services: str, **config) -> dict:
    """{service: aws_client} for `services`, all signing with one new key
    of the stack's admin (one team's clients)."""
    key, secret = stack.api_key()
    return {name: aws_client(stack, name, key, secret, **config) for name in services}


def aws_resource(stack, service: str, key: str | None = None, secret: str | None = None):
    """boto3's resource layer for `service` on `stack`, configured as
    aws_client's clients (a new key of the admin unless `key`/`secret`)."""
    if key is None:
        key, secret = stack.api_key()
    return boto3.resource(
        service, endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )


def id_table(ddb, name: str | None = None, stream: str | None = None) -> tuple[str, str | None]:
    """A PAY_PER_REQUEST DynamoDB table keyed by `id` (S), named `name` or
    a new random name, with a stream of view type `stream` (KEYS_ONLY,
    NEW_IMAGE, ...) or none: (table name, LatestStreamArn or None)."""
    name = name or f"t{uuid.uuid4().hex[:8]}"
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream}} if stream else {}
    created = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], **extra,
    )
    return name, created["TableDescription"].get("LatestStreamArn")


def mapped(lam, name: str, source: str, arn: str, **fields) -> dict:
    """Function `name` (app.handler in `source`, see `create`) with an event
    source mapping on the stream `arn` from TRIM_HORIZON; `fields` are more
    CreateEventSourceMapping fields. The mapping as created."""
    create(lam, name, source)
    return lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", **fields,
    )


def mapping_calls(stack, mapping_id: str) -> list[dict]:
    """The invocations of event source mapping `mapping_id`, in the order
    they were handed over, from the stack's own records:
    [{"status", "source", "records": [the event's Records]}]."""
    rows = stack.rows(
        f"Invocation.objects.filter(trigger='event-source-mapping:{mapping_id}')"
        ".order_by('created_at').values('status', 'source', 'event')"
    )
    return [{"status": r["status"], "source": r["source"], "records": json.loads(r["event"])["Records"]}
            for r in rows]


@contextmanager
def running(stack):
    """`stack` (a tests.stack.Stack) started for the block and stopped after
    it, also when it failed to start half-way; for a module's own stack."""
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
