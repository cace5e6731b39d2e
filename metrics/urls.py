from django.urls import path

from metrics import prometheus

urlpatterns = [
    # Prometheus's scrape target (a token setting guards it: metrics.prometheus).
    path("metrics", prometheus.metrics_view, name="metrics-prometheus"),
]
