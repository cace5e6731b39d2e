"""Invoke's ClientContext (functions.client_context) and what the invoke
frame carries of it and of the qualifier (invocations.runner._request), and
the python3.11 bootstrap's context.client_context."""

import base64
import importlib.util
import json
from pathlib import Path

import pytest

from awsapi.errors import AwsError
from functions import client_context
from invocations import runner
from invocations.models import Invocation

CONTEXT = {"client": {"installation_id": "i-1", "app_title": "App"}, "custom": {"k": "v"}, "env": {"os": "x"}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_it_decodes_a_base64_json_object():
    assert json.loads(client_context.decode(b64(json.dumps(CONTEXT).encode()))) == CONTEXT
    assert client_context.decode(None) == "" and client_context.decode("") == ""


@pytest.mark.parametrize("header", [
    "not base64!", b64(b"not json"), b64(b"[1]"), b64(b'"text"'), b64(b"\xff\xfe"), "e30",
])
def test_anything_else_is_lambdas_invalid_request_content(header):
    with pytest.raises(AwsError) as e:
        client_context.decode(header)
    assert (e.value.status, e.value.code) == (400, "InvalidRequestContentException")
    assert e.value.message == "Client context must be a valid Base64-encoded JSON object."


def test_more_than_3583_bytes_is_refused_and_3583_is_not():
    padded = {"custom": {"p": "x" * 2700}}
    text = b64(json.dumps(padded).encode())
    assert len(text) > client_context.MAX_BYTES
    with pytest.raises(AwsError) as e:
        client_context.decode(text)
    assert e.value.code == "InvalidRequestContentException" and "3583" in e.value.message
    fits = b64(json.dumps({"custom": {"p": "x" * 2660}}).encode())
    assert len(fits) <= client_context.MAX_BYTES and client_context.decode(fits)


@pytest.mark.django_db
def test_the_frame_names_the_qualifier_as_called_and_carries_the_context(make_function):
    fn = make_function(name="frame")
    inv = Invocation(function=fn, function_version="3", qualifier="live",
                     client_context=json.dumps(CONTEXT))
    frame = runner._request(inv, fn, 0.0)
    assert frame["invokedFunctionArn"] == f"{fn.arn}:live" and frame["functionVersion"] == "3"
    assert json.loads(frame["clientContext"]) == CONTEXT
    # A row stored before the qualifier was kept: the version it ran.
    older = runner._request(Invocation(function=fn, function_version="3"), fn, 0.0)
    assert older["invokedFunctionArn"] == f"{fn.arn}:3" and "clientContext" not in older
    bare = runner._request(Invocation(function=fn), fn, 0.0)
    assert bare["invokedFunctionArn"] == fn.arn


def test_the_python_bootstrap_gives_lambdas_client_context_shape(monkeypatch):
    path = Path(__file__).resolve().parents[2] / "runtimes" / "shared" / "python" / "bootstrap.py"
    # Beside it in the image (/var/runtime): its protocol module.
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location("stratus_bootstrap_cc", path)
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    context = bootstrap.LambdaContext({"clientContext": json.dumps(CONTEXT)})
    cc = context.client_context
    assert (cc.custom, cc.env) == (CONTEXT["custom"], CONTEXT["env"])
    client = cc.client
    assert (client.installation_id, client.app_title, client.app_package_name) == ("i-1", "App", None)
    assert bootstrap.LambdaContext({}).client_context is None
    # Printed as Lambda's Python runtime prints it, not <... object at 0x...>.
    assert repr(cc) == (
        "ClientContext([custom={'k': 'v'},env={'os': 'x'},client=Client([installation_id=i-1,app_title=App,"
        "app_version_name=None,app_version_code=None,app_package_name=None])])"
    )
    assert str(client) == repr(client) and repr(client).startswith("Client([installation_id=i-1,")
    assert bootstrap.LambdaContext({"clientContext": '{"custom": {"a": 1}}'}).client_context.client is None
