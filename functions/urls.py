from django.urls import path

from functions import lambda_api, layer_views, url_tag_views, views

urlpatterns = [
    path("", views.index, name="fn-list"),
    path("functions/new/", views.create, name="fn-create"),
    path("functions/<uuid:function_id>/", views.detail, name="fn-detail"),
    path("functions/<uuid:function_id>/code.zip", views.code_zip, name="fn-code-zip"),
    path("functions/<uuid:function_id>/code/", views.code_save, name="fn-code-save"),
    path("functions/<uuid:function_id>/code/upload/", views.code_upload, name="fn-code-upload"),
    path("functions/<uuid:function_id>/code/files/", views.code_file_add, name="fn-code-file-add"),
    path("functions/<uuid:function_id>/code/delete/", views.code_file_delete, name="fn-code-file-delete"),
    path("functions/<uuid:function_id>/configuration/", views.configure, name="fn-config"),
    path("functions/<uuid:function_id>/async/", views.configure_async, name="fn-async-config"),
    path("functions/<uuid:function_id>/policy/", views.configure_policy, name="fn-policy"),
    path("functions/<uuid:function_id>/delete/", views.delete, name="fn-delete"),
    path("functions/<uuid:function_id>/url/", url_tag_views.url_save, name="fn-url-save"),
    path("functions/<uuid:function_id>/url/delete/", url_tag_views.url_delete, name="fn-url-delete"),
    path("functions/<uuid:function_id>/tags/", url_tag_views.tags_save, name="fn-tags"),
    path("functions/<uuid:function_id>/layers/", layer_views.function_layers, name="fn-layers"),
    path("layers/", layer_views.layer_list, name="layer-list"),
    path("layers/<str:account_id>/<str:name>/<int:version>/delete/", layer_views.layer_version_delete,
         name="layer-version-delete"),
    path("functions/<uuid:function_id>/invoke/", views.invoke, name="fn-invoke"),
    path("functions/<uuid:function_id>/events/", views.event_save, name="fn-event-save"),
    path("functions/<uuid:function_id>/live/rows/", views.live_rows, name="fn-live-rows"),
    path(
        "functions/<uuid:function_id>/live/invocations/<uuid:request_id>/",
        views.invocation_state, name="fn-inv-state",
    ),
    # The Versions tab (functions.versions_tab).
    path("functions/<uuid:function_id>/versions/", views.version_publish, name="fn-version-publish"),
    path("functions/<uuid:function_id>/aliases/", views.alias_create, name="fn-alias-create"),
    path("functions/<uuid:function_id>/aliases/<str:alias>/", views.alias_update, name="fn-alias-update"),
    path(
        "functions/<uuid:function_id>/aliases/<str:alias>/delete/",
        views.alias_delete, name="fn-alias-delete",
    ),
    # Not an AWS path: where GetFunction's Code.Location points (the AWS
    # front door leaves it to Django, awsapi.door.NOT_AWS_PREFIXES).
    path("2015-03-31/stratus-code/<str:token>", lambda_api.code_download, name="lambda-code"),
]
