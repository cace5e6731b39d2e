"""Payload 2.0 events, the Scheduled Event, and mapping results back to HTTP."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from triggers import payloads
from triggers.http_responses import BadFunctionResponse, from_result

NOW = datetime(2024, 3, 12, 19, 3, 58, 390000, tzinfo=UTC)


def _event(request, **kwargs):
    defaults = dict(
        raw_path="/users/42", route_key="GET /users/{id}", path_parameters={"id": "42"},
        request_id=uuid.UUID(int=7), account_id="123456789012", body=request.body, now=NOW,
    )
    defaults.update(kwargs)
    return payloads.http_event(request, **defaults)


def test_it_builds_the_2_0_event_for_a_get():
    request = RequestFactory().get(
        "/http/users/42?a=1&a=2&b=",
        HTTP_X_CUSTOM="one",
        HTTP_COOKIE="s=1; theme=dark",
        HTTP_USER_AGENT="tester/1.0",
    )
    event = _event(request)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /users/{id}"
    assert event["rawPath"] == "/users/42"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["s=1", "theme=dark"]
    assert event["headers"]["x-custom"] == "one"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["pathParameters"] == {"id": "42"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    ctx = event["requestContext"]
    assert ctx["accountId"] == "123456789012"
    assert ctx["http"] == {
        "method": "GET", "path": "/users/42", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "tester/1.0",
    }
    assert ctx["requestId"] == str(uuid.UUID(int=7))
    assert ctx["routeKey"] == "GET /users/{id}"
    assert ctx["stage"] == "$default"
    assert ctx["time"] == "12/Mar/2024:19:03:58 +0000"
    assert ctx["timeEpoch"] == 1710270238390
    assert ctx["domainName"] == "testserver"
    assert ctx["domainPrefix"] == "testserver"
    assert len(ctx["apiId"]) == 10


def test_it_leaves_out_empty_parts():
    event = _event(RequestFactory().get("/http/"), path_parameters={})
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event


def test_it_keeps_text_bodies_as_text():
    request = RequestFactory().post("/http/x", data='{"a": 1}', content_type="application/json")
    event = _event(request)
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False


def test_it_base64_encodes_binary_bodies():
    raw = bytes(range(256))
    request = RequestFactory().post("/http/x", data=raw, content_type="application/octet-stream")
    event = _event(request)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_it_base64_encodes_text_types_that_are_not_utf8():
    request = RequestFactory().post("/http/x", data=b"\xff\xfe", content_type="text/plain")
    assert _event(request)["isBase64Encoded"] is True


def test_it_tells_text_types():
    assert payloads.is_text_type("text/html; charset=utf-8")
    assert payloads.is_text_type("application/vnd.api+json")
    assert payloads.is_text_type("application/x-www-form-urlencoded")
    assert not payloads.is_text_type("image/png")
    assert not payloads.is_text_type("application/octet-stream")


def test_it_builds_the_scheduled_event(make_function):
    from triggers.models import Schedule

    fn = make_function()
    schedule = Schedule.objects.create(function=fn, expression="rate(1 minute)")
    event = json.loads(payloads.scheduled_event(schedule, NOW))
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == fn.team.account_id
    assert event["time"] == "2024-03-12T19:03:58Z"
    assert event["region"] == "us-east-1"
    assert event["resources"] == [
        f"arn:aws:events:us-east-1:{fn.team.account_id}:rule/stratus-hello-{schedule.id.hex[:8]}"
    ]
    assert event["detail"] == {}
    uuid.UUID(event["id"])


# Response mapping --------------------------------------------------------------


def test_it_maps_a_status_code_dict():
    response = from_result(json.dumps({
        "statusCode": 201,
        "headers": {"X-Thing": "yes", "Content-Type": "text/plain"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": "made",
    }))
    assert response.status_code == 201
    assert response["X-Thing"] == "yes"
    assert response["Content-Type"] == "text/plain"
    assert response.content == b"made"
    set_cookies = response.cookies.output()
    assert "a=1" in set_cookies and "b=2" in set_cookies and "HttpOnly" in set_cookies


def test_it_decodes_a_base64_body():
    response = from_result(json.dumps({
        "statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True,
        "headers": {"content-type": "application/octet-stream"},
    }))
    assert response.content == b"\x00\x01"


def test_it_joins_multi_value_headers():
    response = from_result(json.dumps({"statusCode": 200, "multiValueHeaders": {"X-M": ["a", "b"]}}))
    assert response["X-M"] == "a,b"


def test_it_defaults_to_json_content_type():
    response = from_result(json.dumps({"statusCode": 204}))
    assert response.status_code == 204
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", [{"hello": "world"}, ["a", 1], "text", 42, None])
def test_it_returns_other_values_as_200_json(value):
    response = from_result(json.dumps(value))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == value


def test_a_returned_string_is_sent_as_json_text_with_its_quotes_as_aws_documents():
    # AWS's function URL docs, "Example output for a string response".
    response = from_result(json.dumps("Hello, world!"))
    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.content == b'"Hello, world!"' and len(response.content) == 15


@pytest.mark.parametrize("value", [
    {"statusCode": "teapot"}, {"statusCode": 99}, {"statusCode": 200, "body": "%%", "isBase64Encoded": True},
    {"statusCode": 200, "headers": ["x"]},
])
def test_it_refuses_malformed_proxy_answers(value):
    with pytest.raises(BadFunctionResponse):
        from_result(json.dumps(value))
