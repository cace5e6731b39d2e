"""The public endpoints: routes under /http/ and webhooks under /hooks/.
No session, no CSRF (callers are programs); access is the route's own auth
or the webhook's secret URL and signature.

They are plain sync views on purpose: Django's ASGI handler gives each
request its own thread, so a route waiting on a slow function does not hold
up other requests."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from triggers import http_routes, webhooks


@csrf_exempt
def http_route(request: HttpRequest, path: str = "") -> HttpResponse:
    return http_routes.serve(request, path)


@csrf_exempt
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    return webhooks.receive(request, token)
