from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The AWS Lambda REST API is served before Django (awsapi.door,
    # functions.lambda_door); GetFunction's code URL is in functions.urls.
    path("", include("functions.urls")),
    path("", include("invocations.urls")),
    # The global runs page (/runs/) and "Invoke again".
    path("", include("runs.urls")),
    path("", include("messaging.urls")),
    path("", include("buckets.urls")),
    path("", include("kinesis.urls")),
    path("", include("tables.urls")),
    path("", include("metrics.urls")),
    # Triggers tab, HTTP routes under /http/ and webhooks under /hooks/.
    path("", include("triggers.urls")),
    # The Usage page and its CSV (cost per day, function and team).
    path("", include("metrics.usage.urls")),
]
