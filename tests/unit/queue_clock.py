"""The clock of the queue tests: messaging.queues and topics take `now`
from the caller, so these tests hand them instants `at(seconds)` after a
fixed T0 (UTC) instead of waiting."""

from datetime import UTC, datetime, timedelta

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)
