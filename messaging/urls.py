from django.urls import path

from messaging import http_api, sns_links, tab_views, views, webhooks

T = "topics/<uuid:topic_id>/"
Q = "queues/<uuid:queue_id>/"
F = "functions/<uuid:function_id>/triggers/"

urlpatterns = [
    path("topics/", views.topic_list, name="msg-topic-list"),
    path(T, views.topic_detail, name="msg-topic-detail"),
    path(T + "publish/", views.topic_publish, name="msg-topic-publish"),
    path(T + "delete/", views.topic_delete, name="msg-topic-delete"),
    path(T + "webhook/", views.topic_webhook, name="msg-topic-webhook"),
    path(T + "webhook/disable/", views.topic_webhook_disable, name="msg-topic-webhook-disable"),
    path(T + "subscriptions/", views.subscription_add, name="msg-subscription-add"),
    path(T + "subscriptions/<uuid:subscription_id>/toggle/", views.subscription_toggle,
         name="msg-subscription-toggle"),
    path(T + "subscriptions/<uuid:subscription_id>/delete/", views.subscription_delete,
         name="msg-subscription-delete"),
    path("queues/", views.queue_list, name="msg-queue-list"),
    path(Q, views.queue_detail, name="msg-queue-detail"),
    path(Q + "settings/", views.queue_settings, name="msg-queue-settings"),
    path(Q + "send/", views.queue_send, name="msg-queue-send"),
    path(Q + "redrive/", views.queue_redrive, name="msg-queue-redrive"),
    path(Q + "purge/", views.queue_purge, name="msg-queue-purge"),
    path(Q + "delete/", views.queue_delete, name="msg-queue-delete"),
    path(Q + "mappings/", views.mapping_add, name="msg-mapping-add"),
    path(Q + "mappings/<uuid:mapping_id>/toggle/", views.mapping_toggle, name="msg-mapping-toggle"),
    path(Q + "mappings/<uuid:mapping_id>/delete/", views.mapping_delete, name="msg-mapping-delete"),
    # The function page's Triggers tab: its "Subscribe to a topic" and
    # "Poll a queue" forms.
    path(F + "topics/", tab_views.subscribe, name="msg-fn-subscribe"),
    path(F + "queues/", tab_views.map_queue, name="msg-fn-map-queue"),
    path(F + "mappings/<uuid:mapping_id>/toggle/", tab_views.mapping_toggle, name="msg-fn-mapping-toggle"),
    path(F + "mappings/<uuid:mapping_id>/delete/", tab_views.mapping_delete, name="msg-fn-mapping-delete"),
    # Public, CSRF-exempt: a topic's webhook. Two segments under /hooks/, so
    # the triggers app's one-segment /hooks/<token>/ never matches it (and
    # console.urls includes this module first anyway).
    path("hooks/topics/<str:token>/", webhooks.receive, name="msg-topic-hook"),
    # Public, unsigned GETs: the links in SNS messages (SubscribeURL,
    # UnsubscribeURL with ?Action=...; SigningCertURL).
    path("sns/", sns_links.action, name="msg-sns-action"),
    path("sns/<str:name>", sns_links.certificate, name="msg-sns-certificate"),
    # The JSON API (SigV4).
    path("api/topics/<str:name>/publish", http_api.publish, name="msg-api-publish"),
    path("api/queues/<str:name>/messages", http_api.send, name="msg-api-send"),
]
