from django.urls import path

from invocations import consumers, env_consumers

websocket_urlpatterns = [
    path("ws/functions/", consumers.TeamConsumer.as_asgi()),
    path("ws/functions/<uuid:function_id>/", consumers.FunctionConsumer.as_asgi()),
    path("ws/invocations/<uuid:request_id>/", consumers.InvocationConsumer.as_asgi()),
    path("ws/environments/", env_consumers.InstallationConsumer.as_asgi()),
    path(
        "ws/environments/functions/<uuid:function_id>/", env_consumers.FunctionEnvironmentsConsumer.as_asgi()
    ),
]
