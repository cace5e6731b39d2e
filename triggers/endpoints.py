"""The public webhook endpoint under /hooks/: no session, no CSRF (callers
are programs); access is the secret URL and the signature. (HTTP routes are
served by triggers.http_routes, before Django.)"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from triggers import webhooks


@csrf_exempt
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    return webhooks.receive(request, token)
