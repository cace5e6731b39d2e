"""Mounted at 2015-03-31/: the paths of botocore's Lambda service model."""

from django.urls import path, re_path

from functions import lambda_api

urlpatterns = [
    path("functions", lambda_api.functions_view, name="lambda-functions"),
    path("functions/", lambda_api.functions_view),
    path("functions/<str:function_name>", lambda_api.function_view, name="lambda-function"),
    path(
        "functions/<str:function_name>/configuration",
        lambda_api.configuration_view,
        name="lambda-configuration",
    ),
    path("functions/<str:function_name>/code", lambda_api.code_view, name="lambda-code-update"),
    # Not an AWS path: where GetFunction's Code.Location points.
    path("stratus-code/<str:token>", lambda_api.code_download, name="lambda-code"),
    # Anything else answers in the API's error shape, not an HTML 404 (newlines
    # included: Django matches a pattern ending in $ in full).
    re_path(r"^(?P<rest>[\s\S]*)$", lambda_api.unknown_view),
]
