from django.urls import path

from tables import views

# A table is named by its team's account id and its name (unique in a team).
T = "tables/<str:account_id>/<str:name>/"

urlpatterns = [
    path("tables/", views.table_list, name="tbl-list"),
    path(T, views.table_detail, name="tbl-detail"),
    path(T + "delete/", views.table_delete, name="tbl-delete"),
    path(T + "stream/", views.table_stream, name="tbl-stream"),
    path(T + "ttl/", views.table_ttl, name="tbl-ttl"),
    path(T + "items/new/", views.item_new, name="tbl-item-new"),
    path(T + "items/edit/", views.item_edit, name="tbl-item-edit"),
    path(T + "items/delete/", views.item_delete, name="tbl-item-delete"),
    # The function page's Triggers tab: map a table's stream to the function.
    path("functions/<uuid:function_id>/map-table-stream/", views.map_stream, name="tbl-fn-map-stream"),
]
