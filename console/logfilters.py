"""Logging filters for the processes' logs (configured in settings.LOGGING).

While Redis is down, Celery beat logs "Message Error" with two stacks for
every schedule entry on every tick: hundreds of lines a second of the same
news. BeatOutageFilter keeps the first such message of an outage without
its stacks and drops the rest until a minute has passed."""

import logging
import time

QUIET_FOR_S = 60.0


class BeatOutageFilter(logging.Filter):
    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.last_shown = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Message Error"):
            return True
        now = time.monotonic()
        if now - self.last_shown < QUIET_FOR_S:
            return False
        self.last_shown = now
        error = record.args[0] if isinstance(record.args, tuple) and record.args else record.exc_info
        record.msg, record.args, record.exc_info, record.exc_text = (
            "could not queue a periodic task (%s); is Redis up? (repeats silenced for a minute)",
            (error,), None, None,
        )
        return True
