"""Topics and queues as destinations of async invocations, registered with
the engine (invocations.destinations) from MessagingConfig.ready()."""

import logging

from invocations import destinations
from messaging import api
from messaging.models import Queue, Topic

log = logging.getLogger(__name__)


def _choices(model, label: str):
    def choices(team, exclude) -> list[tuple[str, str]]:
        # FIFO queues and topics need a message group: Lambda does not
        # offer them as destinations.
        items = model.objects.filter(team=team, fifo=False).order_by("name")
        return [(item.arn, f"{label} {item.name}") for item in items]

    return choices


def _logged(deliver):
    """A target that refuses the record (a FIFO queue or topic, a full
    message) is logged: the record is in the invocation all the same."""

    def safe(target, body, source, _priority):
        try:
            deliver(target, body)
        except api.MessagingError as e:
            log.warning("destination %s of %s refused the record: %s", target.arn, source, e.message)

    return safe


TOPIC = destinations.Kind(
    service="sns", label="topic", find=api.find_topic_by_arn,
    deliver=_logged(lambda topic, body: api.publish(topic, body)),
    choices=_choices(Topic, "Topic"), example="TOPIC",
)
QUEUE = destinations.Kind(
    service="sqs", label="queue", find=api.find_queue_by_arn,
    deliver=_logged(lambda queue, body: api.send(queue, body)),
    choices=_choices(Queue, "Queue"), example="QUEUE",
)


def register() -> None:
    destinations.register(TOPIC)
    destinations.register(QUEUE)
