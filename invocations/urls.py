from django.urls import path

from invocations import views

urlpatterns = [
    path("invocations/<uuid:request_id>/", views.detail, name="inv-detail"),
]
