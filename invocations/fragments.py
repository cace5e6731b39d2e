"""Every HTML fragment the engine sends to the live console, in one place.

The worker renders them and invocations.live carries them to Channels
groups; htmx swaps them in out-of-band (see templates/invocations/live_*.html);
one small htmx extension (static/js/live-rows.js) upserts rows and keeps
any swap from going backwards (final -> running -> queued)."""

import html

from django.template.loader import render_to_string


def log_line(request_id, line: str) -> str:
    """One log line appended to the invocation's log block."""
    return f'<div hx-swap-oob="beforeend:#logs-{request_id}">{html.escape(line)}\n</div>'


def started(inv) -> str:
    """The running row, status and outcome. The row rides in a
    <template class="live-row"> that static/js/live-rows.js upserts: it
    parses wherever the sender merged it, and never replaces a final row
    (nor does the status or outcome: live-rows.js refuses swaps backwards)."""
    return render_to_string("invocations/live_row.html", {"inv": inv})


def finished(inv) -> str:
    """The final row (upserted: created where the page never saw the
    start), status, outcome and the whole stored log."""
    return render_to_string("invocations/live_finished.html", {"inv": inv})


def function_stats(fn, stats: dict) -> str:
    """The function's cell on the team's function list."""
    return render_to_string("functions/live_stats.html", {"fn": fn, "stats": stats})
