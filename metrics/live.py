"""Chart updates as they happen: when a call is recorded, the worker (or
the web, for a throttle) sends one out-of-band fragment to whoever watches
the function's, its team's or the installation's charts.

Groups: `metrics-fn-<function id>`, `metrics-team-<team id>`,
`metrics-all` (the charts' consumers join them). The fragment is
`<template id="metrics-tick" hx-swap-oob="true" data-tick="{json}">`,
the JSON (HTML-escaped in the attribute) being {"function_id",
"function_name", "team_id", "qualifier", "t" (the minute's unix seconds),
"at" (unix seconds), "status" (succeeded, failed, timed_out,
out_of_memory, throttled), "duration_ms" (or null), "cold",
"gb_seconds"}. Sent through invocations.live, and only to watched groups
(the runner asks who watches in the Redis round trip it makes anyway)."""

from __future__ import annotations

import json

from django.utils.html import format_html

from metrics import recording
from metrics.recording import Sample


def fn_group(function_id) -> str:
    return f"metrics-fn-{function_id}"


def team_group(team_id) -> str:
    return f"metrics-team-{team_id}"


ALL_GROUP = "metrics-all"


def groups_of(function_id, team_id) -> list[str]:
    return [fn_group(function_id), team_group(team_id), ALL_GROUP]


def tick_groups(inv) -> list[str]:
    """The groups a recorded call of `inv` (an Invocation with its
    function, or a Sample) moves the charts of."""
    if isinstance(inv, Sample):
        return groups_of(inv.function_id, inv.team_id)
    return groups_of(inv.function_id, inv.function.team_id)


def is_tick_group(group: str) -> bool:
    return group.startswith("metrics-")


def tick(sample: Sample) -> dict:
    return {
        "function_id": sample.function_id, "function_name": sample.function_name, "team_id": sample.team_id,
        "qualifier": sample.qualifier, "t": sample.minute, "at": round(sample.at, 3), "status": sample.status,
        "duration_ms": None if sample.duration_ms is None else round(sample.duration_ms, 3),
        "cold": sample.cold, "gb_seconds": round(sample.gb_seconds, 9),
    }


def tick_fragment(inv) -> str:
    """The out-of-band fragment of a recorded call (an Invocation with its
    function, or a Sample); "" when its status records nothing (expired,
    cancelled)."""
    sample = inv if isinstance(inv, Sample) else recording.sample_of(inv)
    if sample is None:
        return ""
    data = json.dumps(tick(sample), separators=(",", ":"))
    return format_html('<template id="metrics-tick" hx-swap-oob="true" data-tick="{}"></template>', data)
