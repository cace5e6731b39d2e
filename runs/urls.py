from django.urls import path

from runs import views

urlpatterns = [
    path("runs/", views.run_list, name="runs-list"),
    path("runs/<uuid:request_id>/again/", views.invoke_again, name="runs-again"),
]
