import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# Django must be set up before the routing imports consumers and models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from awsapi import asgi  # noqa: E402
from awsapi import door as aws_door  # noqa: E402
from buckets import upload_door  # noqa: E402
from functions import invoke_api  # noqa: E402
from invocations.routing import websocket_urlpatterns  # noqa: E402
from monitor import routing as monitor_routing  # noqa: E402
from triggers import http_routes, url_door  # noqa: E402
from buckets import spool_sweep  # noqa: E402

# What uploads killed with the previous web process left in the spool folder.
spool_sweep.at_start()
# Provisioned aliases resolved before their first call.
from functions import provisioned_lookup  # noqa: E402

provisioned_lookup.start()


async def http(scope, receive, send):
    """The fast doors (Lambda's Invoke, HTTP routes, function URLs, the AWS front door for
    every other AWS-signed request) before Django: they answer on the event
    loop, without Django's per-request threads and middleware (awsapi.asgi).
    A door may answer before it read the body; `finishing_body` keeps the
    connection fit for the next request all the same."""
    doors_receive, doors_send = asgi.finishing_body(scope, receive, send)
    match = invoke_api.matches(scope)
    if match is not None:
        return await invoke_api.serve(scope, doors_receive, doors_send, match)
    if http_routes.matches(scope):
        return await http_routes.serve(scope, doors_receive, doors_send)
    if url_door.matches(scope):
        return await url_door.serve(scope, doors_receive, doors_send)
    if aws_door.matches(scope):
        return await aws_door.serve(scope, doors_receive, doors_send)
    if aws_door.query_form(scope):
        # Only its body tells an unsigned query request (Action=ListTopics)
        # from a form posted to /; either door reads it again from the start.
        body, replay = await asgi.peek_body(doors_receive, aws_door.QUERY_FORM_MAX)
        if aws_door.query_action(body):
            return await aws_door.serve(scope, replay, doors_send)
        return await django_asgi_app(scope, replay, send)
    # The console's bucket upload: streamed to disk, not read whole by Django.
    upload = upload_door.matches(scope)
    if upload is not None:
        return await upload_door.serve(scope, doors_receive, doors_send, upload)
    return await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns + monitor_routing.websocket_urlpatterns))
        ),
    }
)
