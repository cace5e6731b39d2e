from django.urls import path

from monitor import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="mon-dashboard"),
    path("dashboard/metrics.json", views.dashboard_data, name="mon-dashboard-data"),
    path("dashboard/functions/", views.dashboard_functions, name="mon-dashboard-functions"),
    path("functions/<uuid:function_id>/metrics.json", views.function_data, name="mon-fn-data"),
]
