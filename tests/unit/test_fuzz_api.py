"""Fuzzing every input door of functions with hypothesis: the Lambda API
(SigV4-signed requests through the production ASGI app), the Invoke door (the
ASGI app functions.invoke_api.serve, up to the hand-over: the sync
dispatch is stubbed) and the console's function forms; and every SQS, SNS
and S3 operation the AWS front door serves (input drawn from botocore's
model of each operation, with nulls, wrong types, entries without their
keys and gaps in their numbering; S3 with random headers and query
parameters), through the production ASGI app.

Whatever comes in, the answer is below 500 (in the API's error shape when
it is an error), a refused request leaves stored data as it was, and
nothing is ever half-stored: no function without its code bundle, no
bundle without its files, no temporary upload folders, no stored value
that functions.service would refuse.

Bounded in time: few examples, a deadline per example, no example
database, so the module runs in seconds (a failure prints how to
reproduce it)."""

import base64
import io
import json
import os
import zipfile
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsapi import asgi, params, services
from buckets.models import Bucket
from functions import code as codestore
from functions import invoke_api, service
from functions import models as function_models
from functions.models import ApiKey, CodeBundle, Function
from invocations import concurrency, delivery, dispatch
from invocations.done import Done
from invocations.models import EventInvokeConfig, Invocation
from messaging import queues, sns_http, topics
from messaging.models import Queue, QueueMessage, Subscription, Topic
from tests.unit import asgi_client
from tests.unit.test_sigv4 import HOST, sign

# Zips with duplicate entries are among the inputs on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
FUZZ = settings(
    # FUZZ_EXAMPLES=1000 for a deeper run by hand.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=timedelta(seconds=3),
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
    ],
)
ROLE = "arn:aws:iam::123456789012:role/fuzz"
HANDLER_SOURCE = b"def lambda_handler(event, context):\n    return event\n"

# Values ----------------------------------------------------------------------

awkward_text = st.sampled_from([
    "", " ", "hello", "hello\n", "\nhello", "hel\x00lo", "\x00", "\u2028", "é", "a" * 65, "a" * 300,
    "1e400", "NaN", "$LATEST", "../x", "x/y", "arn:aws:lambda:us-east-1:123456789012:function:target",
    ROLE, "arn:aws:iam::1:role/x", "python3.11", "python3.11\n", "lambda_function.lambda_handler",
])
texts = st.one_of(st.text(max_size=12), awkward_text)
# Only what JSON can carry, surrogates included (json.dumps escapes them).
json_texts = st.one_of(texts, st.sampled_from(["\ud800", "a\udfffb"]))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 20000), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), json_texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(json_texts, inner, max_size=3)),
    max_leaves=8,
)
NESTED = b"[" * 1000 + b"]" * 1000
raw_bad_bodies = st.sampled_from([
    NESTED, b'{"a":' + NESTED + b"}", b"[", b"\xff\xfe", b"NaN", b"[1e400]", b'"text"', b"null", b"12",
    b'{"MemorySize": 1e400}', b'{"Timeout": Infinity}', b'{"FunctionName": "x", "FunctionName": 5}',
    b'{"Description": "\\ud800"}', b'{"Environment": {"Variables": {"KEY": "\\u0000"}}}',
    b'{"ReservedConcurrentExecutions": 1e400}', b'{"MaximumRetryAttempts": -0.0}',
])


def member(good):
    """A plausible value most of the time, anything JSON otherwise."""
    return st.one_of(good, good, json_values)


# Zips: entries that clash, escape, nest or do not parse.
entry_names = st.sampled_from([
    "lambda_function.py", "lambda_function.py", "app.py", "x", "x/y.py", "x/", "./lambda_function.py",
    "../evil.py", "/abs.py", "a" * 300, ".", "pkg/__init__.py", "pkg/mod.py", "lambda_function.py/z",
])
sources = st.sampled_from([
    HANDLER_SOURCE, b"def handler(e, c): pass\n", b"x = (\n", b"\x00", b"", b"lambda_handler: int = 1\n",
    b"# -*- coding: nope -*-\n",
])


def _zip(entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


zips = st.one_of(
    st.lists(st.tuples(entry_names, sources), min_size=1, max_size=4).map(_zip),
    st.lists(st.tuples(entry_names, sources), min_size=1, max_size=3).map(lambda e: _zip(e)[:60]),
    st.binary(max_size=40),
)
zip_members = st.one_of(zips.map(lambda z: base64.b64encode(z).decode()), json_values)


def bodies(valid: dict, wild: dict):
    """JSON object bodies, mostly near-valid (a valid body with up to two
    members replaced by wild values, sometimes one left out) so that most
    reach the service and the code store, else wild members only, else
    raw bad bytes."""

    @st.composite
    def near_valid(draw) -> dict:
        body = draw(st.fixed_dictionaries(valid))
        for key in draw(st.lists(st.sampled_from(sorted(wild)), max_size=2, unique=True)):
            body[key] = draw(wild[key])
        if body and draw(st.integers(0, 3)) == 0:
            del body[draw(st.sampled_from(sorted(body)))]
        return body

    objects = st.one_of(near_valid(), near_valid(), near_valid(), st.fixed_dictionaries({}, optional=wild))
    return st.one_of(objects.map(lambda d: json.dumps(d).encode()), raw_bad_bodies)


ACCOUNT = "123456789012"  # the fuzzed team's account (set by the fixtures)
SINK = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sink"
good_zips = st.lists(st.tuples(entry_names, sources), max_size=2).map(
    lambda extra: _zip([("lambda_function.py", HANDLER_SOURCE), *extra])
).map(lambda z: base64.b64encode(z).decode())
env_names = st.one_of(st.sampled_from(["GREETING", "A", "AWS_REGION", "HI\n", "MODE_2"]), json_texts)
environment = st.one_of(
    st.fixed_dictionaries({}, optional={"Variables": st.one_of(
        st.dictionaries(env_names, member(texts), max_size=3), json_values,
    )}),
    json_values,
)
valid_settings = {
    "Runtime": st.just("python3.11"),
    "Role": st.just(ROLE),
    "Handler": st.just("lambda_function.lambda_handler"),
    "Description": st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20),
    "Timeout": st.integers(1, 900),
    "MemorySize": st.integers(128, 10240),
    "Environment": st.fixed_dictionaries({"Variables": st.dictionaries(
        st.from_regex(r"[A-Z][A-Z0-9_]{1,8}", fullmatch=True),
        st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=10), max_size=3,
    )}),
}
wild_settings = {
    "Runtime": member(st.sampled_from(["python3.11", "python3.12", "nodejs20.x"])),
    "Role": member(st.sampled_from([ROLE, "", "arn:aws:iam::1:role/x"])),
    "Handler": member(st.sampled_from(["lambda_function.lambda_handler", "app.handler", "x", "a.b.c"])),
    "Description": member(texts),
    "Timeout": member(st.integers(-1, 1000)),
    "MemorySize": member(st.integers(64, 11000)),
    "Environment": environment,
}
create_bodies = bodies(
    {
        "FunctionName": st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True),
        "Code": st.fixed_dictionaries({"ZipFile": good_zips}),
        **valid_settings,
    },
    {
        "FunctionName": member(st.from_regex(r"[a-zA-Z0-9_-]{1,70}", fullmatch=True)),
        "Code": st.one_of(st.fixed_dictionaries({"ZipFile": zip_members}), json_values),
        "Publish": member(st.just(False)), "PackageType": member(st.sampled_from(["Zip", "Image"])),
        **wild_settings,
    },
)
config_bodies = bodies(valid_settings, {**wild_settings, "RevisionId": json_texts})
code_bodies = bodies(
    {"ZipFile": good_zips},
    {"ZipFile": zip_members, "DryRun": json_values, "RevisionId": json_texts},
)
destination = member(st.sampled_from(["", SINK, "arn:aws:sqs:us-east-1:1:q", SINK + "\n"]))
event_config_bodies = bodies(
    {
        "MaximumRetryAttempts": st.integers(0, 2),
        "MaximumEventAgeInSeconds": st.integers(60, 21600),
        "DestinationConfig": st.fixed_dictionaries({}, optional={
            "OnFailure": st.fixed_dictionaries({"Destination": st.sampled_from(["", SINK])}),
        }),
    },
    {
        "MaximumRetryAttempts": member(st.integers(-1, 3)),
        "MaximumEventAgeInSeconds": member(st.integers(0, 22000)),
        "DestinationConfig": st.one_of(
            st.fixed_dictionaries({}, optional={
                "OnSuccess": st.one_of(st.fixed_dictionaries({"Destination": destination}), json_values),
                "OnFailure": st.one_of(st.fixed_dictionaries({"Destination": destination}), json_values),
            }),
            json_values,
        ),
    },
)
concurrency_bodies = bodies(
    {"ReservedConcurrentExecutions": st.integers(0, 1000)},
    {"ReservedConcurrentExecutions": member(st.integers(-1, 1100))},
)
names = st.one_of(
    st.just("target"), st.just("target"), st.sampled_from(["nope", "target:$LATEST", "target:1"]), texts,
)

# Invariants ------------------------------------------------------------------


def snapshot() -> tuple:
    """Everything a refused request must leave as it was."""
    functions = tuple(Function.objects.order_by("pk").values_list(
        "pk", "name", "runtime", "handler", "code_id", "memory_mb", "timeout_s", "environment",
        "description", "role", "reserved_concurrency", "revision", "editable_file",
    ))
    configs = tuple(EventInvokeConfig.objects.order_by("pk").values_list(
        "function_id", "maximum_retry_attempts", "maximum_event_age_s", "on_success", "on_failure",
    ))
    return (functions, configs, Invocation.objects.count(), function_models.TestEvent.objects.count())


def assert_nothing_partial() -> None:
    """No half-stored data, and nothing stored that the rules refuse."""
    for bundle in CodeBundle.objects.all():
        assert bundle.zip_path.is_file(), f"bundle {bundle.sha256} has no zip"
        assert bundle.files_dir.is_dir(), f"bundle {bundle.sha256} has no files"
    code_dir = django_settings.STRATUS_CODE_DIR
    if code_dir.exists():
        leftovers = [p.name for p in code_dir.iterdir() if p.name.startswith(codestore.TEMP_PREFIXES)]
        assert leftovers == [], leftovers
    for fn in Function.objects.select_related("code"):
        assert fn.code.zip_path.is_file() and fn.code.files_dir.is_dir()
        service.clean_name(fn.name)
        service.clean_runtime(fn.runtime)
        service.clean_handler(fn.handler)
        service.clean_memory(fn.memory_mb)
        service.clean_timeout(fn.timeout_s)
        service.clean_environment(fn.environment)
        service.clean_description(fn.description)
        service.clean_role(fn.role)
        assert fn.reserved_concurrency is None or 0 <= fn.reserved_concurrency <= concurrency.MAX_RESERVED
    for config in EventInvokeConfig.objects.select_related("function__team"):
        delivery.clean(config.function, delivery.settings_of(config))


def assert_api_answer(status: int, headers: dict, content: bytes, before: tuple) -> None:
    assert status < 500, (status, content[:300])
    if status >= 400:
        assert headers.get("x-amzn-errortype"), headers
        assert json.loads(content)["message"]
        assert snapshot() == before, "a refused request changed stored data"
    assert_nothing_partial()


# The Lambda API ----------------------------------------------------------------


@pytest.fixture
def api(users, team, make_function, monkeypatch):
    """call(method, path, body) -> response from the production ASGI app
    (the AWS front door), signed by a member's key; a function "target"
    and a destination "sink" exist."""
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)
    team.account_id = ACCOUNT
    team.save()
    make_function("target")
    make_function("sink")
    key, secret = ApiKey.issue(users["member"], team)

    def call(method: str, path: str, body: bytes = b""):
        before = snapshot()
        headers = sign(method, path, body, key.access_key_id, secret)
        resp = asgi_client.call(method, path, body, {**headers, "Content-Type": "application/json"})
        assert_api_answer(resp.status_code, resp.headers, resp.content, before)
        return resp

    return call


def _path(template: str, name: str) -> str:
    return template.format(quote(name, safe=""))


def test_fuzz_create_function(api):
    @FUZZ
    @given(body=create_bodies)
    def run(body):
        api("POST", "/2015-03-31/functions", body)

    run()


def test_fuzz_update_function_configuration(api):
    @FUZZ
    @given(name=names, body=config_bodies)
    def run(name, body):
        api("PUT", _path("/2015-03-31/functions/{}/configuration", name), body)

    run()


def test_fuzz_update_function_code(api):
    @FUZZ
    @given(name=names, body=code_bodies)
    def run(name, body):
        api("PUT", _path("/2015-03-31/functions/{}/code", name), body)

    run()


def test_fuzz_list_and_get_functions(api):
    query = st.dictionaries(
        st.sampled_from(["MaxItems", "Marker", "FunctionVersion", "MasterRegion", "Qualifier"]),
        st.one_of(texts, st.integers(-2, 20000).map(str)), max_size=3,
    )

    @FUZZ
    @given(name=names, query=query)
    def run(name, query):
        qs = "?" + urlencode(query) if query else ""
        api("GET", "/2015-03-31/functions" + qs)
        api("GET", _path("/2015-03-31/functions/{}", name) + qs)
        api("GET", _path("/2015-03-31/functions/{}/configuration", name) + qs)

    run()


def test_fuzz_event_invoke_config_and_concurrency(api):
    operations = st.sampled_from([
        ("PUT", "/2019-09-25/functions/{}/event-invoke-config", event_config_bodies),
        ("POST", "/2019-09-25/functions/{}/event-invoke-config", event_config_bodies),
        ("GET", "/2019-09-25/functions/{}/event-invoke-config", st.just(b"")),
        ("DELETE", "/2019-09-25/functions/{}/event-invoke-config", st.just(b"")),
        ("PUT", "/2017-10-31/functions/{}/concurrency", concurrency_bodies),
        ("DELETE", "/2017-10-31/functions/{}/concurrency", st.just(b"")),
        ("GET", "/2019-09-30/functions/{}/concurrency", st.just(b"")),
    ])

    @FUZZ
    @given(name=names, operation=operations, data=st.data())
    def run(name, operation, data):
        method, template, body_strategy = operation
        api(method, _path(template, name), data.draw(body_strategy))

    run()


def test_fuzz_delete_function(api, make_function):
    @FUZZ
    @given(name=names, pending=st.integers(0, 3))
    def run(name, pending):
        fn = Function.objects.filter(name="target").first() or make_function("target")
        for _ in range(pending):
            Invocation.objects.create(function=fn, invocation_type="Event", status="queued")
        api("DELETE", _path("/2015-03-31/functions/{}", name))

    run()


# The Invoke door (ASGI), up to the hand-over -----------------------------------------


@pytest.fixture
def door(users, team, make_function, monkeypatch):
    """invoke(name, body, headers, query, signed) -> (status, headers,
    content) from functions.invoke_api.serve, with the database work done
    inline (no door threads: the test's transaction is this thread's) and
    the sync hand-over stubbed. Nothing then waits on the event loop, so
    the coroutine is driven to its end directly, in this thread."""
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)

    async def inline(func, *args):
        return func(*args)

    async def invoke_sync(fn, event, *, source, **kwargs):
        return Done(request_id="00000000-0000-0000-0000-000000000000", status="succeeded", result=event)

    monkeypatch.setattr(asgi, "in_thread", inline)
    monkeypatch.setattr(dispatch, "invoke_sync", invoke_sync)
    make_function("target")
    key, secret = ApiKey.issue(users["member"], team)

    def invoke(name: str, body: bytes, headers: dict, query: str, signed: bool):
        raw_path = "/2015-03-31/functions/" + quote(name, safe="") + "/invocations"
        scope = {
            "type": "http", "method": "POST", "scheme": "http", "http_version": "1.1",
            "path": "/2015-03-31/functions/" + name + "/invocations",
            "raw_path": raw_path.encode(), "query_string": query.encode(), "root_path": "",
            "server": (HOST, 80), "client": ("127.0.0.1", 1234), "headers": [],
        }
        match = invoke_api.matches(scope)
        if match is None:
            return None
        signed_headers = dict(headers)
        if signed:
            signed_headers = sign("POST", raw_path + (f"?{query}" if query else ""), body,
                                  key.access_key_id, secret, headers=headers)
        scope["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in signed_headers.items()]
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        _drive(invoke_api.serve(scope, receive, send, match))
        start = sent[0]
        return (
            start["status"],
            {k.decode().lower(): v.decode("latin-1") for k, v in start["headers"]},
            sent[1]["body"],
        )

    return invoke


def _drive(coroutine):
    """Run a coroutine that never waits for anything to its end."""
    try:
        waited = coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError(f"the Invoke door waited for {waited!r}; stub what it waits for")


def test_fuzz_invoke(door):
    header_values = st.one_of(
        st.sampled_from(["RequestResponse", "Event", "DryRun", "event", "", "Event\n"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10),
    )
    headers = st.fixed_dictionaries({}, optional={
        "X-Amz-Invocation-Type": header_values,
        "X-Amz-Log-Type": st.sampled_from(["Tail", "None", "tail", "x"]),
        "X-Amz-Client-Context": st.sampled_from(["", "e30=", "not base64"]),
    })
    payloads = st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()), raw_bad_bodies, st.binary(max_size=30),
        st.sampled_from([1024 * 1024 + 1, 6 * 1024 * 1024 + 1]).map(lambda n: b'"' + b"x" * (n - 2) + b'"'),
    )
    queries = st.sampled_from(["", "Qualifier=%24LATEST", "Qualifier=1", "Qualifier=%00"])

    signed = st.sampled_from([True, True, True, True, False])

    @FUZZ
    @given(name=names, body=payloads, headers=headers, query=queries, signed=signed)
    def run(name, body, headers, query, signed):
        before = snapshot()
        answer = door(name, body, headers, query, signed)
        if answer is None:
            return  # a path the Invoke door does not serve
        status, response_headers, content = answer
        assert status < 500, (status, content[:300])
        if status >= 400:
            assert response_headers.get("x-amzn-errortype"), response_headers
            assert json.loads(content)["message"]
        if status != 202:
            assert snapshot() == before
        else:
            assert Invocation.objects.count() == before[2] + 1
        assert_nothing_partial()

    run()


# The console's function forms -----------------------------------------------------------

form_texts = st.one_of(st.text(max_size=15), st.sampled_from([
    "", "hello\n", "a" * 300, "1e400", "NaN", "-1", "128", "900", "10240", "10241", "٣", "AA=1\nAA=2",
    "GREETING=hi", "A=1", "AWS_REGION=x", "lambda_function.lambda_handler", "x", "[" * 300 + "]" * 300,
    "arn:aws:lambda:us-east-1:123456789012:function:sink", "0", "2", "60",
]))


def _post(client, path: str, data: dict, before: tuple):
    resp = client.post(path, data)
    assert resp.status_code < 500, resp.status_code
    if resp.status_code == 200:
        assert snapshot() == before, "a refused form changed stored data"
    assert_nothing_partial()
    return resp


@pytest.fixture
def console(client, users, team, make_function, monkeypatch):
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)
    team.account_id = ACCOUNT
    team.save()
    client.force_login(users["member"])
    make_function("target")
    make_function("sink")
    return client


def near_valid_form(valid: dict, wild=form_texts):
    """Form data: valid fields with up to two replaced by wild text."""

    @st.composite
    def build(draw) -> dict:
        data = draw(st.fixed_dictionaries(valid))
        if data:
            for key in draw(st.lists(st.sampled_from(sorted(data)), max_size=2, unique=True)):
                data[key] = draw(wild)
        return data

    return build()


def test_fuzz_the_create_form(console, team):
    fields = near_valid_form({
        "team": st.just(str(team.pk)),
        "name": st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True),
        "runtime": st.just("python3.11"),
        "handler": st.just("lambda_function.lambda_handler"),
        "memory_mb": st.integers(128, 10240).map(str),
        "timeout_s": st.integers(1, 900).map(str),
        "description": st.just("fuzzed"),
        "environment": st.sampled_from(["", "GREETING=hi", "AA=1\nBB=2"]),
        "code_source": st.sampled_from(["inline", "inline", "py", "zip", "other"]),
        "source": st.just(HANDLER_SOURCE.decode()),
    })
    upload_names = st.sampled_from(["a.zip", "lambda_function.py", "a"])
    uploads = st.one_of(st.none(), good_zips.map(base64.b64decode), zips, st.just(HANDLER_SOURCE))

    @FUZZ
    @given(data=fields, upload=uploads, upload_name=upload_names)
    def run(data, upload, upload_name):
        if upload is not None:
            data = {**data, "code_file": SimpleUploadedFile(upload_name, upload)}
        _post(console, reverse("fn-create"), data, snapshot())

    run()


def test_fuzz_the_function_page_forms(console):
    target = Function.objects.get(name="target")
    forms = {
        "fn-config": {
            "handler": st.just("lambda_function.lambda_handler"),
            "memory_mb": st.integers(128, 10240).map(str), "timeout_s": st.integers(1, 900).map(str),
            "description": st.just("d"), "environment": st.sampled_from(["", "GREETING=hi"]),
        },
        "fn-async-config": {
            "maximum_retry_attempts": st.integers(0, 2).map(str),
            "maximum_event_age_s": st.integers(60, 21600).map(str),
            "on_success": st.just(""), "on_failure": st.sampled_from(["", SINK]),
            "reserved_concurrency": st.one_of(st.just(""), st.integers(0, 1000).map(str)),
        },
        "fn-code-save": {"source": st.just(HANDLER_SOURCE.decode())},
        "fn-code-upload": {},
        "fn-event-save": {"event": st.just('{"a": 1}'), "save_as": st.just("saved")},
    }

    @FUZZ
    @given(form=st.sampled_from(sorted(forms)), data=st.data(), upload=st.one_of(good_zips, zips))
    def run(form, data, upload):
        fields = data.draw(near_valid_form(forms[form]))
        if form == "fn-code-upload":
            if isinstance(upload, str):
                upload = base64.b64decode(upload)
            fields["code_file"] = SimpleUploadedFile("code.zip", upload)
        _post(console, reverse(form, args=[target.id]), fields, snapshot())

    run()


# SQS, SNS and S3 through the AWS front door ------------------------------------------
#
# Every operation the door serves for these services, with inputs drawn from
# botocore's model of the operation: mostly values of the right type (and
# real names: the fuzzed queue, topic, bucket), sometimes anything JSON or
# any text, nulls inside lists and maps, entries without their keys. Only
# the answer's shape is asserted: below 500, the protocol's error shape.

AWS_TEXTS = st.one_of(texts, st.sampled_from(["1", "0", "-1", "true", "20", "String", "Number", "x.y"]))


def _typed(shape, names: dict, depth: int = 0):
    """A strategy for values of a botocore shape; `names` overrides members
    by name (real queue URLs, topic ARNs...)."""
    kind = shape.type_name
    if depth > 4:
        return st.none()
    if kind == "structure":
        return st.fixed_dictionaries({}, optional={
            key: names[key] if key in names else _typed(member, names, depth + 1)
            for key, member in shape.members.items()
        })
    if kind == "list":
        return st.lists(_typed(shape.member, names, depth + 1), max_size=3)
    if kind == "map":
        keys = st.sampled_from(shape.key.enum) if shape.key.enum else AWS_TEXTS
        return st.dictionaries(keys, _typed(shape.value, names, depth + 1), max_size=3)
    if kind == "string":
        return st.sampled_from(shape.enum) if shape.enum else AWS_TEXTS
    if kind in ("integer", "long"):
        return st.integers(-2, 300)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    if kind == "timestamp":
        return st.integers(0, 2**31)
    return st.floats(allow_nan=False)


def _wild(strategy):
    """Mostly the typed value; else null or anything JSON (wrong types)."""
    return st.one_of(strategy, strategy, st.none(), json_values)


def _json_typed(shape, names: dict, depth: int = 0):
    """As _typed, with any member, item or map value sometimes wild."""
    kind = shape.type_name
    if depth > 4:
        return json_values
    if kind == "structure":
        return st.fixed_dictionaries({}, optional={
            key: names[key] if key in names else _wild(_json_typed(member, names, depth + 1))
            for key, member in shape.members.items()
        })
    if kind == "list":
        return st.lists(_wild(_json_typed(shape.member, names, depth + 1)), max_size=3)
    if kind == "map":
        keys = st.sampled_from(shape.key.enum) if shape.key.enum else AWS_TEXTS
        return st.dictionaries(keys, _wild(_json_typed(shape.value, names, depth + 1)), max_size=3)
    return _typed(shape, names, depth)


def _signed(service: str, method: str, path: str, body: bytes, headers: dict, key, secret):
    request = AWSRequest(method=method, url=f"http://testserver{path}", data=body, headers=headers)
    auth = S3SigV4Auth if service == "s3" else SigV4Auth
    auth(Credentials(key.access_key_id, secret), service, "us-east-1").add_auth(request)
    return asgi_client.call(method, path, body, dict(request.headers.items()))


@pytest.fixture
def aws(users, team, monkeypatch):
    """(team, key, secret) for the fuzzed team, with nothing sent to a broker."""
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)
    monkeypatch.setattr(sns_http, "queue", lambda *a, **kw: None)
    team.account_id = ACCOUNT
    team.save()
    key, secret = ApiKey.issue(users["member"], team)
    return team, key, secret


def _model(service: str):
    return params._model(service)


def _served(service: str) -> list[str]:
    return sorted(services.get(service).handlers)


# Per operation, so that every one is reached often enough.
FUZZ_EACH = settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3))


@pytest.mark.parametrize("op", _served("sqs"))
def test_fuzz_every_sqs_operation(aws, op):
    team, key, secret = aws
    url = f"http://testserver/{ACCOUNT}/q"
    names = {
        "QueueUrl": st.one_of(st.just(url), st.just(url), st.just(url + "-dlq"), json_values),
        "QueueName": st.one_of(st.sampled_from(["q", "fresh", "q.fifo", "", "a" * 81]), json_values),
        # Never a long poll: 0, or a value SQS refuses.
        "WaitTimeSeconds": st.sampled_from([0, -1, 21, "x", None, [0], 0.5]),
        "MessageBody": _wild(st.one_of(texts, st.just("\x01"))),
    }
    requests = _json_typed(_model("sqs").operation_model(op).input_shape, names)

    def snapshot_sqs():
        return (tuple(Queue.objects.order_by("pk").values_list("pk", "name")), QueueMessage.objects.count())

    @FUZZ_EACH
    @given(params=requests, raw=st.one_of(st.none(), st.none(), st.none(), raw_bad_bodies))
    def run(params, raw):
        for name in ("q", "q-dlq"):
            if not Queue.objects.filter(team=team, name=name).exists():
                queues.create_queue(team, name)
        body = raw if raw is not None else json.dumps(params).encode()
        if op == "ReceiveMessage" and raw is not None:
            return  # a raw body could hold no WaitTimeSeconds and wait for the queue's
        before = snapshot_sqs()
        resp = _signed("sqs", "POST", "/", body, {
            "X-Amz-Target": f"AmazonSQS.{op}", "Content-Type": "application/x-amz-json-1.0",
        }, key, secret)
        assert resp.status_code < 500, (op, body[:300], resp.content[:300])
        if resp.status_code >= 400:
            error = resp.json()
            assert error["__type"] and error["message"], error
            if op not in ("DeleteQueue", "PurgeQueue"):
                assert snapshot_sqs() == before, "a refused request changed stored data"

    run()


SNS_ATTRIBUTE_NAMES = st.sampled_from([
    "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "DisplayName", "Policy", "DeliveryPolicy",
    "RedrivePolicy", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion", "Nope",
])
FILTER_POLICIES = st.sampled_from([
    '{"a": ["x"]}', '{"a": {"b": [{"numeric": [">", 1]}]}}', '{"a":' * 3000 + '["x"]' + "}" * 3000,
    "[" * 3000 + "]" * 3000, '{"$or": [{"a": ["x"]}, {"b": ["y"]}]}', "{", "{}", '{"a": []}',
])


def _query_pairs(value, prefix: str = "") -> list[tuple[str, str]]:
    """Any nested value as query pairs (`A.1.B=x`), the way a careless
    client might write it: numbers may skip, names may be missing."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _query_pairs(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value, 1) for p in _query_pairs(v, f"{prefix}.{i}")]
    return [(prefix, "" if value is None else str(value))]


@pytest.mark.parametrize("op", _served("sns"))
def test_fuzz_every_sns_operation(aws, op):
    team, key, secret = aws
    topic = topics.create_topic(team, "t")
    queue = queues.create_queue(team, "sink-q")
    topic_arn = topic.arn
    sub_arn = topics.subscribe_queue(topic, queue).arn
    arns = st.one_of(
        st.just(topic_arn), st.just(topic_arn), st.just(topic_arn + "x"), st.just(sub_arn), texts,
    )
    names = {
        "TopicArn": arns, "SubscriptionArn": st.one_of(st.just(sub_arn), arns), "TargetArn": arns,
        "Endpoint": st.sampled_from([queue.arn, SINK, "http://127.0.0.1:9/x", "mailto:x", ""]),
        "Protocol": st.sampled_from(["sqs", "lambda", "http", "https", "email", "x"]),
        "AttributeName": SNS_ATTRIBUTE_NAMES,
        "Attributes": st.dictionaries(SNS_ATTRIBUTE_NAMES, st.one_of(FILTER_POLICIES, AWS_TEXTS), max_size=3),
        "AttributeValue": st.one_of(FILTER_POLICIES, AWS_TEXTS),
        "Message": st.one_of(texts, FILTER_POLICIES, st.just('{"default": "x"}')),
    }
    serializer = create_serializer("query")
    requests = _typed(_model("sns").operation_model(op).input_shape, names)
    extra_pairs = st.lists(st.tuples(
        st.sampled_from([
            "MessageAttributes.entry.1.Name", "MessageAttributes.entry.2.Value.DataType",
            "MessageAttributes.entry.3.Value.StringValue", "Attributes.entry.1.key",
            "Attributes.entry.5.value",
            "PublishBatchRequestEntries.member.2.Id", "PublishBatchRequestEntries.member.1.Message",
            "PublishBatchRequestEntries.member.x.Id", "Tags.member.1.Key", "MessageAttributes.entry.1",
        ]),
        AWS_TEXTS,
    ), max_size=3)

    @FUZZ_EACH
    @given(params=requests, extra=extra_pairs, careless=st.booleans())
    def run(params, extra, careless):
        if not Topic.objects.filter(team=team, name="t").exists():
            topics.create_topic(team, "t")
        if careless:
            pairs = [("Action", op), ("Version", "2010-03-31"), *_query_pairs(params)]
        else:
            try:
                pairs = list(serializer.serialize_to_request(
                    params, _model("sns").operation_model(op))["body"].items())
            except Exception:  # a value botocore cannot write: send it the careless way
                pairs = [("Action", op), ("Version", "2010-03-31"), *_query_pairs(params)]
        body = urlencode([*pairs, *extra]).encode()
        before = (Topic.objects.count(), Subscription.objects.count())
        resp = _signed("sns", "POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        }, key, secret)
        assert resp.status_code < 500, (op, body[:300], resp.content[:300])
        if resp.status_code >= 400:
            assert b"<Code>" in resp.content and b"<Message>" in resp.content, resp.content[:300]
            assert (Topic.objects.count(), Subscription.objects.count()) == before

    run()


def test_fuzz_every_s3_operation(aws, settings, tmp_path):
    settings.STRATUS_OBJECTS_DIR = tmp_path / "objects"
    team, key, secret = aws
    header_texts = st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        st.sampled_from([
            "", "0", "-1", "bytes=0-1", "bytes=5-2", "true", "AES256", "fuzz/k", "/fuzz/k",
            "Thu, 01 Jan 1970 00:00:00 GMT", "2020-01-01T00:00:00Z", "1B2M2Y8AsgTpgAmY7PhCfg==",
        ]),
    )
    bodies_s3 = st.one_of(
        st.just(b""), st.binary(max_size=20), raw_bad_bodies,
        st.sampled_from([b"<Delete><Object><Key>k</Key></Object></Delete>",
                         b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
                         b"</CompleteMultipartUpload>",
                         b"<NotificationConfiguration/>", b"<CreateBucketConfiguration><LocationConstraint>"
                         b"eu-west-1</LocationConstraint></CreateBucketConfiguration>"]),
    )
    keys = st.one_of(st.sampled_from(["k", "a/b", "%", " ", "..", "k" * 1100]), texts.filter(bool))
    model = _model("s3")

    @FUZZ
    @given(op=st.sampled_from(_served("s3")), data=st.data(), body=bodies_s3,
           bucket=st.sampled_from(["fuzz", "fuzz", "nope-bucket", "UPPER", "a"]), key_name=keys)
    def run(op, data, body, bucket, key_name):
        if not Bucket.objects.filter(name="fuzz").exists():
            s3_setup = _signed("s3", "PUT", "/fuzz", b"", {}, key, secret)
            assert s3_setup.status_code == 200, s3_setup.content
        operation = model.operation_model(op)
        path, _, fixed = operation.http["requestUri"].partition("?")
        path = path.replace("{Bucket}", bucket).replace("{Key+}", quote(key_name, safe="/"))
        query = [tuple((part.split("=", 1) + [""])[:2]) for part in fixed.split("&") if part]
        headers = {}
        for name, member in operation.input_shape.members.items():
            where = member.serialization.get("location")
            if where == "querystring" and data.draw(st.booleans()):
                query.append((member.serialization.get("name", name), data.draw(header_texts)))
            elif where == "header" and data.draw(st.integers(0, 3)) == 0:
                headers[member.serialization.get("name", name)] = data.draw(header_texts)
        url = path + ("?" + urlencode(query) if query else "")
        resp = _signed("s3", operation.http["method"], url, body, headers, key, secret)
        # 501 NotImplemented is S3's answer for an operation Stratus does not serve.
        not_served = resp.status_code == 501 and b"<Code>NotImplemented</Code>" in resp.content
        assert resp.status_code < 500 or not_served, (op, url, headers, resp.content[:300])
        if resp.status_code >= 400 and operation.http["method"] != "HEAD":
            assert b"<Code>" in resp.content, resp.content[:300]

    run()
