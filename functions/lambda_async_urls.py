"""Lambda API operations whose paths carry a later API date than
2015-03-31 (botocore's service model puts them there)."""

from django.urls import path, re_path

from functions import lambda_api, lambda_async_api

urlpatterns = [
    path(
        "2019-09-25/functions/<str:function_name>/event-invoke-config",
        lambda_async_api.event_invoke_config_view,
        name="lambda-event-invoke-config",
    ),
    path(
        "2017-10-31/functions/<str:function_name>/concurrency",
        lambda_async_api.concurrency_view,
        name="lambda-concurrency",
    ),
    path("2019-09-30/functions/<str:function_name>/concurrency", lambda_async_api.concurrency_view),
    # Anything else under these dates answers in the API's error shape.
    re_path(r"^(?:2019-09-25|2017-10-31|2019-09-30)/(?P<rest>[\s\S]*)$", lambda_api.unknown_view),
]
