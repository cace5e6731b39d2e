"""The links SNS puts in its messages, served as plain GETs on the
console's port (no signature, as SNS serves them):

- `/sns/SimpleNotificationService-<hash>.pem`: the certificate that signs
  every message (messaging.sns_signing), PEM;
- `/sns/?Action=ConfirmSubscription&TopicArn=...&Token=...` (SubscribeURL):
  confirms a pending HTTP/S subscription; the token is the secret;
- `/sns/?Action=Unsubscribe&SubscriptionArn=...` (UnsubscribeURL): removes
  the subscription, unless it was confirmed with AuthenticateOnUnsubscribe.

Answers are SNS's query-protocol XML (`ConfirmSubscriptionResponse`,
`UnsubscribeResponse`, `ErrorResponse`), serialised from botocore's model
as the AWS front door does."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from awsapi import arns
from awsapi.protocols import ServiceError
from awsapi.protocols.router import load_service
from awsapi.protocols.serializer import serialise_error, serialise_response
from messaging import sns_signing, topics
from messaging.models import Subscription, Topic
from messaging.validation import MessagingError


def _answer(response) -> HttpResponse:
    answer = HttpResponse(response.body, status=response.status)
    for name, value in response.headers.items():
        answer[name] = value
    return answer


def _error(code: str, message: str, status: int = 400) -> HttpResponse:
    return _answer(serialise_error(load_service("sns"), ServiceError(code, message, status=status), "query"))


@require_GET
def certificate(request: HttpRequest, name: str) -> HttpResponse:
    key = sns_signing.signing_key()
    if name != key.cert_name:
        return HttpResponse("No such certificate.\n", status=404, content_type="text/plain")
    answer = HttpResponse(key.cert_pem, content_type="application/x-pem-file")
    answer["Cache-Control"] = "public, max-age=86400"
    return answer


@require_GET
def action(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("Action")
    if name == "ConfirmSubscription":
        return _confirm(request)
    if name == "Unsubscribe":
        return _unsubscribe(request)
    return _error("InvalidAction", f"Could not find operation {name!r}: the SubscribeURL and UnsubscribeURL "
                  "take Action=ConfirmSubscription or Action=Unsubscribe.")


def _arn(text: str):
    try:
        arn = arns.parse(text)
    except arns.ArnError:
        return None
    return arn if arn.service == "sns" else None


def _confirm(request: HttpRequest) -> HttpResponse:
    arn = _arn(request.GET.get("TopicArn", ""))
    token = request.GET.get("Token", "")
    if arn is None:
        return _error("InvalidParameter", "Invalid parameter: TopicArn")
    if not token:
        return _error("InvalidParameter", "Invalid parameter: Token")
    topic = Topic.objects.select_related("team").filter(
        team__account_id=arn.account, name=arn.resource
    ).first()
    if topic is None:
        return _error("NotFound", "Topic does not exist", 404)
    try:
        sub = topics.confirm(topic, token, authenticated=False)
    except MessagingError as e:
        return _error("InvalidParameter", f"Invalid parameter: {e.message}")
    operation = load_service("sns").operation_model("ConfirmSubscription")
    return _answer(serialise_response(operation, {"SubscriptionArn": sub.arn}, "query"))


def _unsubscribe(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("SubscriptionArn", "")
    arn = _arn(text)
    topic_name, _, ident = arn.resource.partition(":") if arn else ("", "", "")
    if arn is None or not ident:
        return _error("InvalidParameter", "Invalid parameter: SubscriptionArn")
    try:
        ident = uuid.UUID(ident)
    except ValueError:
        return _error("InvalidParameter", "Invalid parameter: SubscriptionArn")
    sub = Subscription.objects.select_related("topic__team").filter(
        topic__team__account_id=arn.account, topic__name=topic_name, id=ident
    ).first()
    operation = load_service("sns").operation_model("Unsubscribe")
    if sub is None:
        # Unsubscribing what is gone succeeds, as in SNS.
        return _answer(serialise_response(operation, {}, "query"))
    if sub.authenticate_on_unsubscribe:
        return _error(
            "AuthorizationError",
            "This subscription was confirmed with AuthenticateOnUnsubscribe: unsubscribe with a signed "
            "Unsubscribe call.", 403,
        )
    topics.unsubscribe(sub)
    return _answer(serialise_response(operation, {}, "query"))

