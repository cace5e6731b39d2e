from django.urls import path

from invocations import env_views, views

urlpatterns = [
    path("invocations/<uuid:request_id>/", views.detail, name="inv-detail"),
    path("dead-letters/", views.dead_letters, name="dl-list"),
    path("environments/", env_views.environments, name="env-list"),
    path("dead-letters/<uuid:dead_letter_id>/redrive/", views.dead_letter_redrive, name="dl-redrive"),
]
