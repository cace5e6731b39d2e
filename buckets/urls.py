from django.urls import path

from buckets import views

# A bucket is named by its team's account id and its name (unique in a team).
B = "buckets/<str:account_id>/<str:name>/"

urlpatterns = [
    path("buckets/", views.bucket_list, name="bkt-list"),
    path(B, views.bucket_browse, name="bkt-browse"),
    path(B + "delete/", views.bucket_delete, name="bkt-delete"),
    path(B + "download/", views.object_download, name="bkt-download"),
    path(B + "upload/", views.object_upload, name="bkt-upload"),
    path(B + "delete-object/", views.object_delete, name="bkt-object-delete"),
    path(B + "delete-folder/", views.folder_delete, name="bkt-folder-delete"),
    path(B + "notifications/", views.bucket_notifications, name="bkt-notifications"),
]
