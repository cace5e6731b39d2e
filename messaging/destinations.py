"""Topics and queues as destinations of async invocations, registered with
the engine (invocations.destinations) from MessagingConfig.ready()."""

from invocations import destinations
from messaging import api
from messaging.models import Queue, Topic


def _choices(model, label: str):
    def choices(team, exclude) -> list[tuple[str, str]]:
        items = model.objects.filter(team=team).order_by("name")
        return [(item.arn, f"{label} {item.name}") for item in items]

    return choices


TOPIC = destinations.Kind(
    service="sns", label="topic", find=api.find_topic_by_arn,
    deliver=lambda topic, body, _source, _priority: api.publish(topic, body),
    choices=_choices(Topic, "Topic"), example="TOPIC",
)
QUEUE = destinations.Kind(
    service="sqs", label="queue", find=api.find_queue_by_arn,
    deliver=lambda queue, body, _source, _priority: api.send(queue, body),
    choices=_choices(Queue, "Queue"), example="QUEUE",
)


def register() -> None:
    destinations.register(TOPIC)
    destinations.register(QUEUE)
