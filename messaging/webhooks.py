"""Topic webhooks: POST /hooks/topics/<token>/ publishes the raw body to the
topic. The secret URL and the optional HMAC check (`X-Hub-Signature-256:
sha256=<hex>`, constant time) are the triggers app's function webhooks',
shared through triggers.webhooks.

Subject: the `X-Stratus-Subject` header. Attributes: one String attribute
per `X-Stratus-Attr-<name>: <value>` header; header names are
case-insensitive and servers read `_` as `-`, so <name> arrives lower-case
with dashes (`X-Stratus-Attr-Color` -> `color`)."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from messaging import topics
from messaging.models import Topic
from messaging.validation import MAX_MESSAGE_BYTES, MessagingError, check_size, clean_attributes
from triggers.http_responses import json_message
from triggers.webhooks import SIGNATURE_HEADER, signature_ok

SUBJECT_HEADER = "X-Stratus-Subject"
ATTRIBUTE_PREFIX = "x-stratus-attr-"
TOO_LARGE = f"The message is over {MAX_MESSAGE_BYTES} bytes (256 KB, SNS's limit), attributes included."


def _header_text(value: str) -> str:
    """Django reads header bytes as latin-1; a client sending UTF-8 meant UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def header_attributes(request: HttpRequest) -> dict[str, str]:
    return {
        name[len(ATTRIBUTE_PREFIX):].lower(): _header_text(value)
        for name, value in request.headers.items()
        if name.lower().startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX)
    }


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_MESSAGE_BYTES
    except ValueError:
        return False


@csrf_exempt
def receive(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        response = json_message(405, "Method Not Allowed: POST the message to this URL.")
        response["Allow"] = "POST"
        return response
    topic = Topic.objects.select_related("team").filter(webhook_token=token).first()
    if topic is None:
        return json_message(404, "Not Found")
    if _too_large(request):
        return json_message(413, TOO_LARGE)
    try:
        body = request.body
    except RequestDataTooBig:
        return json_message(413, TOO_LARGE)
    secret = topic.webhook_secret
    if secret and not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
        return json_message(401, f"Missing or wrong {SIGNATURE_HEADER} signature.")
    if len(body) > MAX_MESSAGE_BYTES:
        return json_message(413, TOO_LARGE)
    try:
        message = body.decode("utf-8")
    except UnicodeDecodeError:
        return json_message(400, "The body must be UTF-8 text: an SNS message is a string.")
    subject = request.headers.get(SUBJECT_HEADER)
    try:
        attributes = clean_attributes(header_attributes(request))
        check_size(message, attributes, "message")
    except MessagingError as e:
        # check_size's error is the only one on the "message" field here.
        return json_message(413 if e.field == "message" else 400, e.message)
    try:
        msg = topics.publish(
            topic, message, _header_text(subject) if subject is not None else None, attributes
        )
    except MessagingError as e:
        return json_message(400, e.message)
    return JsonResponse({"MessageId": str(msg.message_id)}, status=202)
