"""How the console writes a time: the one place every template's timestamps
go through. A template builtin (settings.TEMPLATES, OPTIONS "builtins"), so
no template needs ``{% load %}``:

``{{ moment|abstime }}``
    ``<time datetime="2026-11-30T16:05:12Z">2026-11-30 16:05:12 UTC</time>``:
    to the second, in the active time zone (UTC unless a ``{% timezone %}``
    block says otherwise) with its name. Options, comma-separated:
    ``"ms"`` adds milliseconds (an invocation's start and end), ``"day"``
    the weekday (a schedule's next fire times). Never microseconds.
``{{ moment|reltime }}``
    ``<time datetime="..." title="2026-11-30 16:05:12 UTC" data-rel>5 min
    ago</time>``: "just now" within 5 s, then "12 s ago", "5 min ago",
    "3 h ago", "2 d ago"; "in 25 s" for a time to come; the absolute
    time past 30 days. static/js/times.js rewrites these every few
    seconds with the same rules, so a row that arrived live does not
    say "just now" forever.

``None`` (or "") gives "" so ``|default:"—"`` can follow. A naive datetime
is taken as UTC (settings.TIME_ZONE).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

JUST_NOW_S = 5
ABSOLUTE_AFTER_S = 30 * 86400


def _aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


def iso(moment: datetime, ms: bool = False) -> str:
    """Machine form for <time datetime>: UTC, "2026-11-30T16:05:12Z" (or
    with ".345" milliseconds)."""
    utc = _aware(moment).astimezone(UTC)
    text = f"{utc:%Y-%m-%dT%H:%M:%S}"
    if ms:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def absolute(moment: datetime, ms: bool = False, day: bool = False) -> str:
    """Human form in the active time zone: "2026-11-30 16:05:12 UTC",
    "2026-11-30 16:05:12.345 UTC" (ms), "Mon 2026-11-30 16:05:12 CET" (day)."""
    local = timezone.localtime(_aware(moment))
    text = f"{local:%Y-%m-%d %H:%M:%S}"
    if ms:
        text += f".{local.microsecond // 1000:03d}"
    if day:
        text = f"{local:%a} {text}"
    return f"{text} {local.tzname() or 'UTC'}"


def relative(moment: datetime, now: datetime | None = None) -> str:
    """How long ago (or how far ahead) `moment` is from `now` (default:
    the current time), in the largest whole unit: "just now" (within
    JUST_NOW_S seconds either way), "12 s ago", "5 min ago", "3 h ago",
    "2 d ago", "in 25 s"...; past ABSOLUTE_AFTER_S the absolute time."""
    now = _aware(now or timezone.now())
    seconds = (now - _aware(moment)).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < JUST_NOW_S:
        return "just now"
    if seconds >= ABSOLUTE_AFTER_S:
        return absolute(moment)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if ahead else f"{amount} ago"
    raise AssertionError("unreachable: seconds >= JUST_NOW_S")


def _options(arg: str | None) -> set[str]:
    options = {part.strip() for part in (arg or "").split(",") if part.strip()}
    unknown = options - {"ms", "day"}
    if unknown:
        raise template.TemplateSyntaxError(
            f"abstime takes 'ms' and/or 'day', not {', '.join(sorted(unknown))}"
        )
    return options


@register.filter(is_safe=True)
def abstime(moment: datetime | None, arg: str | None = None) -> str:
    """``<time>`` with the absolute time (see the module's docstring)."""
    if moment in (None, ""):
        return ""
    options = _options(arg)
    ms = "ms" in options
    return format_html(
        '<time datetime="{}">{}</time>', iso(moment, ms), absolute(moment, ms, "day" in options)
    )


@register.filter
def abstext(moment: datetime | None) -> str:
    """The absolute time as plain text, for an attribute such as a title
    ("2026-11-30 16:05:12 UTC")."""
    if moment in (None, ""):
        return ""
    return absolute(moment)


@register.filter(is_safe=True)
def reltime(moment: datetime | None) -> str:
    """``<time data-rel>`` with the relative time, the absolute one as its
    title (see the module's docstring)."""
    if moment in (None, ""):
        return ""
    return format_html(
        '<time datetime="{}" title="{}" data-rel>{}</time>',
        iso(moment), absolute(moment), relative(moment),
    )
