"""A small JSON API to publish and send, signed with SigV4 like the Lambda
API (functions.sigv4; sign for the service "lambda"). The key's team scopes
the names. Errors use the Lambda API's shape: x-amzn-ErrorType and
{"Type", "message"}."""

import functools
import json
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from functions import lambda_errors as errors
from functions import sigv4
from functions.access import role_in
from functions.models import ApiKey
from messaging import queues, topics
from messaging.models import Queue, Topic
from messaging.validation import MessagingError

log = logging.getLogger(__name__)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            try:
                key = sigv4.verify(request)
            except sigv4.SignatureError as e:
                raise errors.signature_error(e.code, e.message) from None
            if role_in(key.user, key.team) == "readonly":
                raise errors.access_denied(
                    f"{key.user.username} is read-only in the team {key.team.name}."
                )
            return view(request, key, *args, **kwargs)
        except MessagingError as e:
            return errors.invalid_parameter(e.message).response()
        except errors.LambdaError as e:
            return e.response()
        except Exception:
            log.exception("messaging API %s %s failed", request.method, request.path)
            return errors.service_error("Stratus failed to handle this request; see its log.").response()

    return wrapper


def _body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as e:
        raise errors.invalid_content(str(e)) from None
    if not isinstance(body, dict):
        raise errors.invalid_content("expected a JSON object")
    return body


def _not_found(kind: str, name: str) -> errors.LambdaError:
    return errors.LambdaError(404, "ResourceNotFoundException", f"{kind} not found: {name}")


@api_view
def publish(request: HttpRequest, key: ApiKey, name: str) -> HttpResponse:
    body = _body(request)
    topic = Topic.objects.select_related("team").filter(team=key.team, name=name).first()
    if topic is None:
        raise _not_found("Topic", name)
    msg = topics.publish(
        topic, body.get("Message"), body.get("Subject"), body.get("MessageAttributes")
    )
    return JsonResponse({"MessageId": str(msg.message_id)})


@api_view
def send(request: HttpRequest, key: ApiKey, name: str) -> HttpResponse:
    body = _body(request)
    queue = Queue.objects.select_related("team").filter(team=key.team, name=name).first()
    if queue is None:
        raise _not_found("Queue", name)
    msg = queues.send(
        queue, body.get("MessageBody"), body.get("MessageAttributes"), body.get("DelaySeconds", 0),
        sender_id=key.access_key_id,
    )
    return JsonResponse({"MessageId": str(msg.message_id)})
