"""The runs page's query: invocations of every function a user can see,
filtered, newest first, one page at a time.

Paging is by keyset, never by OFFSET: a page is "the next PAGE_SIZE rows
older (or newer) than this cursor", where a cursor is one row's
(created_at, request_id), and rows are ordered by that pair, descending.
Each page is one indexed range read (indexes `inv_created_rid` and, with a
function chosen, `inv_fn_created_rid`, migration invocations 0007) whose
cost does not grow with how deep the page is, and nothing ever counts the
whole set.

Searching the log text is a substring match (case-insensitive; on SQLite
its LIKE, which folds ASCII letters only) and has to read each row's logs,
so it is bounded: one page examines at most LOG_SEARCH_WINDOW rows (the
newest that pass the other filters, below the cursor). When the window
holds fewer than a page of matches, the page says how far back it looked
and its "Older" cursor continues below the window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from functions.access import teams_for
from functions.models import Function
from invocations.models import RAN, Invocation

PAGE_SIZE = 50
# Rows whose logs one page of a log-text search reads, at most.
LOG_SEARCH_WINDOW = 5000
# The row's heavy text stays in the database: a page shows none of it.
_DEFERRED = ("event", "result", "logs", "error", "origin")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """One row's place in the order: (created_at, request_id). Its text
    form, `<unix microseconds>.<request id hex>`, goes in the URL."""

    created_at: datetime
    request_id: uuid.UUID

    @classmethod
    def of(cls, inv: Invocation) -> Cursor:
        return cls(inv.created_at, inv.request_id)

    def encode(self) -> str:
        micros = round(self.created_at.timestamp() * 1_000_000)
        return f"{micros}.{self.request_id.hex}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """BadCursor unless `text` is what encode() makes."""
        micros, dot, hex_id = (text or "").partition(".")
        try:
            if not dot or not micros.lstrip("-").isdigit():
                raise ValueError
            when = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
            return cls(when, uuid.UUID(hex=hex_id))
        except (ValueError, OverflowError, OSError):
            raise BadCursor(f"The page cursor {text!r} is not one this page made.") from None


@dataclass
class Filters:
    """What the runs page asks for; empty values filter nothing.

    function_id: one function (must be visible, else nothing matches);
    status: an invocations.models.STATUSES value; start: "cold" or "warm";
    source: a SOURCES value; trigger: Invocation.trigger exactly
    ("route:<uuid>"); since/until: created_at in [since, until);
    request_id: a full request id or a prefix of 8+ hex digits;
    log_text: a substring of the logs (see the module's docstring)."""

    function_id: uuid.UUID | None = None
    status: str = ""
    start: str = ""
    source: str = ""
    trigger: str = ""
    since: datetime | None = None
    until: datetime | None = None
    request_id: str = ""
    log_text: str = ""


@dataclass
class Page:
    """rows: newest first. older/newer: the cursors of the next pages,
    None when there is nothing that way. searched_back_to: for a log
    search whose window ran out before the page filled, the created_at
    of the oldest row it read (None otherwise)."""

    rows: list[Invocation] = field(default_factory=list)
    older: Cursor | None = None
    newer: Cursor | None = None
    searched_back_to: datetime | None = None


def request_id_range(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The request ids that `text` names, as an inclusive range: one id for
    a full request id, every id starting so for a prefix of 8 to 31 hex
    digits (dashes ignored); None for anything else. A range keeps the
    search on the primary key's index on every database."""
    digits = text.strip().lower().replace("-", "")
    if not 8 <= len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    low = uuid.UUID(hex=digits.ljust(32, "0"))
    high = uuid.UUID(hex=digits.ljust(32, "f"))
    return low, high


def _unindexed(column: str):
    """The column as an expression no index serves. Status, source, cold
    or warm and the user's teams match large parts of the table: read by
    their index, a page would sort everything they match (SQLite's planner,
    without statistics, prefers them). Checked per row while the newest-
    first index is read, a page costs the same at any depth."""
    return Coalesce(F(column), F(column))


def visible(user) -> QuerySet:
    """Invocations of the functions the user can see: their teams'; a
    staff user's, every team's."""
    rows = Invocation.objects.all()
    if user.is_staff:
        return rows
    mine = Function.objects.filter(team__in=teams_for(user)).values("id")
    return rows.alias(visible_fn=_unindexed("function_id")).filter(visible_fn__in=mine)


def visible_functions(user) -> QuerySet:
    fns = Function.objects.select_related("team").order_by("name", "team__name")
    return fns if user.is_staff else fns.filter(team__in=teams_for(user))


def filtered(user, filters: Filters) -> QuerySet:
    """visible(user) narrowed by `filters` (not ordered, not paged)."""
    rows = visible(user)
    f = filters
    if f.function_id:
        rows = rows.filter(function_id=f.function_id)
    if f.status:
        rows = rows.alias(status_value=_unindexed("status")).filter(status_value=f.status)
    if f.start:
        # Only a call that ran is cold or warm (Invocation.ran): a retried
        # call that then expired may keep its first attempt's cold_start.
        rows = rows.alias(cold_value=_unindexed("cold_start")).filter(cold_value=f.start == "cold")
        rows = rows.alias(ran_value=_unindexed("status")).filter(ran_value__in=RAN)
        # ... and it started (a call whose alias was gone failed unstarted).
        rows = rows.alias(started_value=_unindexed("started_at")).filter(started_value__isnull=False)
    if f.source:
        rows = rows.alias(source_value=_unindexed("source")).filter(source_value=f.source)
    if f.trigger:
        rows = rows.filter(trigger=f.trigger)
    if f.since:
        rows = rows.filter(created_at__gte=f.since)
    if f.until:
        rows = rows.filter(created_at__lt=f.until)
    if f.request_id:
        found = request_id_range(f.request_id)
        if found is None:
            return rows.none()
        rows = rows.filter(request_id__gte=found[0], request_id__lte=found[1])
    return rows


def _older_than(rows: QuerySet, c: Cursor, *, inclusive: bool = False) -> QuerySet:
    # created_at <= t bounds the index range; the OR only sorts out ties.
    ties = Q(request_id__lte=c.request_id) if inclusive else Q(request_id__lt=c.request_id)
    return rows.filter(Q(created_at__lt=c.created_at) | ties, created_at__lte=c.created_at)


def _newer_than(rows: QuerySet, c: Cursor, *, inclusive: bool = False) -> QuerySet:
    ties = Q(request_id__gte=c.request_id) if inclusive else Q(request_id__gt=c.request_id)
    return rows.filter(Q(created_at__gt=c.created_at) | ties, created_at__gte=c.created_at)


def _log_window(rows: QuerySet, order: tuple[str, str]) -> Cursor | None:
    """The LOG_SEARCH_WINDOW-th row of `rows` in `order`, read from the
    (created_at, request_id) index alone, none of its logs; None when there
    are fewer rows."""
    last = rows.order_by(*order).values_list("created_at", "request_id")
    found = list(last[LOG_SEARCH_WINDOW - 1:LOG_SEARCH_WINDOW])
    return Cursor(*found[0]) if found else None


def page(user, filters: Filters, *, older: Cursor | None = None, newer: Cursor | None = None,
         size: int = PAGE_SIZE) -> Page:
    """One page of filtered(user, filters): the `size` rows just older than
    `older`, or just newer than `newer`, or the newest. One query (two for
    a log search), whatever the depth; rows come with their function."""
    rows = filtered(user, filters)
    if newer is not None:
        return _newer_page(rows, filters, newer, size)
    if older is not None:
        rows = _older_than(rows, older)
    window_end = None
    if filters.log_text:
        window_end = _log_window(rows, ("-created_at", "-request_id"))
        if window_end is not None:
            # Down to the window's last row, itself included.
            rows = _newer_than(rows, window_end, inclusive=True)
        rows = rows.filter(logs__icontains=filters.log_text)
    found = list(_with_function(rows.order_by("-created_at", "-request_id"))[:size + 1])
    out = Page(rows=found[:size])
    if len(found) > size:
        out.older = Cursor.of(out.rows[-1])
    elif window_end is not None:
        # The window ran out first: older pages search below it.
        out.older = window_end
        out.searched_back_to = window_end.created_at
    if older is not None:
        out.newer = Cursor.of(out.rows[0]) if out.rows else older
    return out


def _with_function(rows: QuerySet) -> QuerySet:
    return rows.select_related("function", "function__team").defer(*_DEFERRED)


def _newer_page(rows: QuerySet, filters: Filters, newer: Cursor, size: int) -> Page:
    """The page just above `newer` (read oldest first, shown newest first).
    A log search reads at most LOG_SEARCH_WINDOW rows up from the cursor."""
    rows = _newer_than(rows, newer)
    window_end = None
    if filters.log_text:
        window_end = _log_window(rows, ("created_at", "request_id"))
        if window_end is not None:
            rows = _older_than(rows, window_end, inclusive=True)
        rows = rows.filter(logs__icontains=filters.log_text)
    found = list(_with_function(rows.order_by("created_at", "request_id"))[:size + 1])
    out = Page(rows=list(reversed(found[:size])))
    if len(found) > size:
        out.newer = Cursor.of(out.rows[0])
    elif window_end is not None:
        out.newer = window_end
    out.older = Cursor.of(out.rows[-1]) if out.rows else newer
    return out
