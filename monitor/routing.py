from django.urls import path

from monitor import consumers

websocket_urlpatterns = [
    path("ws/metrics/functions/<uuid:function_id>/", consumers.FunctionMetricsConsumer.as_asgi()),
    path("ws/metrics/teams/", consumers.TeamsMetricsConsumer.as_asgi()),
    path("ws/metrics/teams/<str:account_id>/", consumers.TeamsMetricsConsumer.as_asgi()),
    path("ws/metrics/all/", consumers.AllMetricsConsumer.as_asgi()),
]
