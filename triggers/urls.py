from django.urls import path

from triggers import endpoints, views

urlpatterns = [
    path("functions/<uuid:function_id>/triggers/", views.tab, name="trg-tab"),
    path("functions/<uuid:function_id>/triggers/list/", views.trigger_list, name="trg-list"),
    path("functions/<uuid:function_id>/triggers/routes/", views.route_add, name="trg-route-add"),
    path(
        "functions/<uuid:function_id>/triggers/schedules/",
        views.schedule_add, name="trg-schedule-add",
    ),
    path(
        "functions/<uuid:function_id>/triggers/schedules/preview/",
        views.schedule_preview, name="trg-schedule-preview",
    ),
    path(
        "functions/<uuid:function_id>/triggers/webhooks/",
        views.webhook_add, name="trg-webhook-add",
    ),
    path(
        "functions/<uuid:function_id>/triggers/<str:kind>/<uuid:trigger_id>/toggle/",
        views.toggle, name="trg-toggle",
    ),
    path(
        "functions/<uuid:function_id>/triggers/<str:kind>/<uuid:trigger_id>/delete/",
        views.delete, name="trg-delete",
    ),
    # Public: webhooks' secret URLs. (HTTP routes under /http/ are served
    # before Django sees the request: triggers.http_routes, console.asgi.)
    path("hooks/<str:token>/", endpoints.webhook, name="trg-hook"),
]
