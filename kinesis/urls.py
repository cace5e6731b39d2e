from django.urls import path

from kinesis import views

S = "streams/<uuid:stream_id>/"

urlpatterns = [
    path("streams/", views.stream_list, name="kin-stream-list"),
    path(S, views.stream_detail, name="kin-stream-detail"),
    path(S + "put/", views.stream_put, name="kin-stream-put"),
    path(S + "reshard/", views.stream_reshard, name="kin-stream-reshard"),
    path(S + "retention/", views.stream_retention, name="kin-stream-retention"),
    path(S + "delete/", views.stream_delete, name="kin-stream-delete"),
    path(S + "shards/<str:shard_id>/", views.shard_records, name="kin-shard-records"),
]
