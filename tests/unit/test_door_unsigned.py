"""Unsigned requests that an AWS client made get AWS's answer to a missing
signature, in their service's protocol (the front door, through the
production ASGI application); a browser's requests stay Django's."""

import json
from xml.etree import ElementTree

import pytest

from tests.unit import asgi_client

pytestmark = pytest.mark.django_db

SDK = {"amz-sdk-invocation-id": "5b1c0e1e-0000-4000-8000-000000000000", "amz-sdk-request": "attempt=1; max=1"}


def xml_code(content: bytes) -> str:
    root = ElementTree.fromstring(content)
    return next(el.text for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Code")


def test_it_answers_an_unsigned_json_request_in_json():
    answer = asgi_client.call("POST", "/", b"{}", {
        "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0",
    })
    assert answer.status_code == 403
    assert answer.json()["__type"] == "MissingAuthenticationTokenException"
    assert answer["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"


def test_it_answers_an_unsigned_query_form_without_aws_headers_in_xml():
    answer = asgi_client.call("POST", "/", b"Action=ListTopics&Version=2010-03-31",
                              {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert answer.status_code == 403
    assert answer["content-type"].startswith("text/xml")
    assert xml_code(answer.content) == "MissingAuthenticationToken"


def test_it_answers_an_unsigned_sqs_query_request_to_a_queue_url():
    answer = asgi_client.call("POST", "/000000000000/jobs", b"Action=SendMessage&MessageBody=x",
                              {"Content-Type": "application/x-www-form-urlencoded", **SDK})
    assert (answer.status_code, xml_code(answer.content)) == (403, "MissingAuthenticationToken")


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
def test_it_answers_anonymous_s3_access_denied(method):
    answer = asgi_client.call(method, "/some-bucket/some/key", b"data" if method == "PUT" else b"",
                              {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **SDK})
    assert answer.status_code == 403
    assert "x-amz-request-id" in answer
    if method != "HEAD":
        assert xml_code(answer.content) == "AccessDenied"
        assert b"<html" not in answer.content.lower()


def test_a_form_posted_to_the_root_without_an_aws_action_stays_djangos():
    answer = asgi_client.call("POST", "/", b"Action=Mine&x=1",
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert "x-amzn-requestid" not in answer
    assert answer["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/", "/functions/", "/buckets/", "/static/css/app.css", "/admin/"])
def test_a_browsers_requests_stay_djangos(path):
    answer = asgi_client.call("GET", path, headers={"User-Agent": "Mozilla/5.0", "Accept": "text/html"})
    assert "x-amzn-requestid" not in answer and "x-amz-request-id" not in answer


def test_snss_deliveries_to_a_webhook_stay_djangos():
    body = json.dumps({"Type": "Notification", "Message": "hi"}).encode()
    answer = asgi_client.call("POST", "/hooks/topics/not-a-token/", body, {
        "x-amz-sns-message-type": "Notification", "Content-Type": "text/plain; charset=UTF-8",
    })
    assert "x-amzn-requestid" not in answer and "x-amz-request-id" not in answer


# asgi.finishing_body: an answer started before the body was read.

def run_door(headers: list[tuple[bytes, bytes]], chunks: list[bytes], read_first: int = 0):
    """A door that reads `read_first` messages, then answers; what it sent
    and what it received."""
    import asyncio

    from awsapi import asgi

    scope = {"type": "http", "headers": headers}
    pending = list(chunks)
    received, sent = [], []

    async def receive():
        chunk = pending.pop(0)
        received.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def door():
        door_receive, door_send = asgi.finishing_body(scope, receive, send)
        for _ in range(read_first):
            await door_receive()
        await asgi.send_response(door_send, 403, b"no", [])

    asyncio.run(door())
    return dict(sent[0]["headers"]), received


def test_an_answer_before_a_body_the_client_waits_to_send_closes_the_connection():
    headers, received = run_door([(b"expect", b"100-continue"), (b"content-length", b"1")], [b"x"])
    # Not read: reading would ask for it (100 Continue).
    assert (headers.get(b"connection"), received) == (b"close", [])


def test_an_answer_before_a_short_body_reads_it_and_keeps_the_connection():
    headers, received = run_door([(b"content-length", b"3")], [b"a", b"b", b"c"])
    assert (headers.get(b"connection"), received) == (None, [b"a", b"b", b"c"])


def test_an_answer_before_a_long_body_closes_the_connection():
    from awsapi import asgi

    chunk = b"x" * (256 * 1024)
    headers, received = run_door([], [chunk] * (asgi.DRAIN_MAX // len(chunk) + 3), read_first=1)
    assert headers.get(b"connection") == b"close"
    assert len(b"".join(received)) <= asgi.DRAIN_MAX + 2 * len(chunk)


def test_an_answer_after_the_whole_body_changes_nothing():
    headers, received = run_door([(b"expect", b"100-continue")], [b"a", b"b"], read_first=2)
    assert (headers.get(b"connection"), received) == (None, [b"a", b"b"])
