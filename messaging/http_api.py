"""A small JSON API to publish and send, signed with SigV4 like the Lambda
API (awsapi.sigv4; sign for the service "lambda"). The key's team scopes
the names. Errors use the Lambda API's shape: x-amzn-ErrorType and
{"Type", "message"}."""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from awsapi import errors
from awsapi.guard import guarded, json_body, require_write
from functions.models import ApiKey
from messaging import fifo, queues, topics
from messaging.models import Queue, Topic
from messaging.validation import MessagingError


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The Lambda API's authentication and error handling, for members who
    may write; a messaging refusal is an InvalidParameterValueException."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        def call(key: ApiKey) -> HttpResponse:
            require_write(key)
            try:
                return view(request, key, *args, **kwargs)
            except MessagingError as e:
                raise errors.invalid_parameter(e.message) from None

        return guarded(request, call)

    return wrapper


def _named(model, key: ApiKey, name: str):
    """The key's team's topic or queue of that name, or 404."""
    obj = model.objects.select_related("team").filter(team=key.team, name=name).first()
    if obj is None:
        raise errors.AwsError(
            404, "ResourceNotFoundException", f"{model._meta.verbose_name.title()} not found: {name}"
        )
    return obj


@api_view
def publish(request: HttpRequest, key: ApiKey, name: str) -> HttpResponse:
    body = json_body(request)
    topic = _named(Topic, key, name)
    msg = topics.publish(
        topic, body.get("Message"), body.get("Subject"), body.get("MessageAttributes"),
        group_id=body.get("MessageGroupId"), dedup_id=body.get("MessageDeduplicationId"),
    )
    return JsonResponse(_answer(msg))


@api_view
def send(request: HttpRequest, key: ApiKey, name: str) -> HttpResponse:
    body = json_body(request)
    queue = _named(Queue, key, name)
    msg = queues.send(
        queue, body.get("MessageBody"), body.get("MessageAttributes"), body.get("DelaySeconds"),
        sender_id=key.access_key_id, group_id=body.get("MessageGroupId"),
        dedup_id=body.get("MessageDeduplicationId"),
    )
    return JsonResponse(_answer(msg))


def _answer(msg) -> dict:
    """{"MessageId"}, and for a FIFO queue or topic its "SequenceNumber"."""
    answer = {"MessageId": str(msg.message_id)}
    if msg.sequence is not None:
        answer["SequenceNumber"] = fifo.sequence_text(msg.sequence)
    return answer
