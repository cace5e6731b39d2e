"""The time ranges the charts offer and the window each one covers.

A range is named in the URL (`?range=1h|24h|7d`); each has the step the
metrics contract sums its per-minute buckets into (metrics.series: 60 s for
1 h, 600 s for 24 h, 3600 s for 7 d), so a chart has 60, 144 or 168 points."""

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Range:
    name: str  # as in the URL
    label: str
    span_s: int  # seconds covered
    step_s: int  # seconds per point


RANGES = {
    r.name: r
    for r in (
        Range("1h", "1 hour", 3600, 60),
        Range("24h", "24 hours", 24 * 3600, 600),
        Range("7d", "7 days", 7 * 24 * 3600, 3600),
    )
}
DEFAULT = "1h"


class RangeError(ValueError):
    """An unknown range; its message says which ones there are."""


def parse(value: str | None) -> Range:
    """The range named `value` (None or "" -> the default, 1 h);
    RangeError for any other name."""
    if not value:
        return RANGES[DEFAULT]
    try:
        return RANGES[value]
    except KeyError:
        names = ", ".join(RANGES)
        raise RangeError(f"Unknown range {value[:20]!r}: use one of {names}.") from None


def window(r: Range, now: datetime) -> tuple[datetime, datetime]:
    """(since, until) in UTC for range `r` ending with the step that holds
    `now`: both on step boundaries (unix seconds divisible by the step),
    `until - since == span`, so the current, still filling step is the
    last point and a call that just finished lands in it."""
    now_s = int(now.timestamp())
    until = (now_s // r.step_s + 1) * r.step_s
    since = until - r.span_s
    return datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC)
