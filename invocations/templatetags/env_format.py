"""Filters of the environments views."""

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def span(seconds) -> str:
    """Seconds as people read a span: "42 s", "3 min 5 s", "2 h 4 min",
    "3 d 2 h"; "" for None."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


@register.filter
def from_epoch(seconds: float) -> datetime:
    """An aware datetime from epoch seconds."""
    return datetime.fromtimestamp(float(seconds), tz=UTC)
