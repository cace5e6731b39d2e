"""Webhooks: a secret URL per trigger, an optional HMAC signature in
GitHub's `X-Hub-Signature-256: sha256=<hex>` style, and an async
invocation with the request as a payload 2.0 event."""

import hashlib
import hmac
import json
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse

from invocations import qualified
from triggers import payloads
from triggers.http_responses import json_message
from triggers.models import Webhook

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Lambda's limit for an async event.
MAX_ASYNC_BYTES = 1024 * 1024


def signature_for(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(signature_for(secret, body), presented.strip())


def receive(request: HttpRequest, token: str) -> HttpResponse:
    hook = Webhook.objects.filter(token=token, enabled=True).select_related("function__team").first()
    if hook is None:
        return json_message(404, "Not Found")
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_ASYNC_BYTES:
            return json_message(413, "Request Entity Too Large")
    except ValueError:
        pass
    body = request.body
    secret = hook.secret
    if secret and not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
        return json_message(401, f"Missing or wrong {SIGNATURE_HEADER} signature.")
    request_id = uuid.uuid4()
    event = payloads.http_event(
        request,
        raw_path=request.path,
        route_key="$default",
        path_parameters={},
        request_id=request_id,
        account_id=hook.function.team.account_id,
        body=body,
    )
    event_text = json.dumps(event)
    if len(event_text.encode()) > MAX_ASYNC_BYTES:
        return json_message(413, "Request Entity Too Large")
    qualified.submit_async(
        hook.function, hook.qualifier, event_text, source="webhook",
        request_id=request_id, priority=hook.priority, trigger=hook.key,
    )
    hook.mark_fired()
    response = JsonResponse({"requestId": str(request_id)}, status=202)
    response["x-stratus-request-id"] = str(request_id)
    return response
