"""Schedule expressions as EventBridge writes them.

- `rate(1 minute)`, `rate(5 minutes)`, `rate(1 hour)`, `rate(2 days)`: the
  unit is singular for 1 and plural otherwise, as AWS insists.
- `cron(minutes hours day-of-month month day-of-week year)`: six fields;
  one of day-of-month and day-of-week must be `?`; day-of-week counts
  1 = SUN .. 7 = SAT (names work too); `L`, `W` and `#` as croniter has them.
  Evaluated in the schedule's time zone (daylight saving included).

The next fire time is always computed from *now*: fires missed while the
scheduler was down are skipped, not caught up.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

_RATE = re.compile(r"^rate\(\s*(\d+)\s+([a-z]+)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
# Years a cron year field may name, as EventBridge allows.
_YEARS = range(1970, 2200)


class ExpressionError(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(
            f"Unknown time zone {name!r}; use an IANA name such as UTC or Europe/Paris."
        ) from None


def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(available_timezones() - {"UTC"})
    return [("UTC", "UTC")] + [(n, n) for n in names]


def _rate_seconds(expression: str) -> int | None:
    m = _RATE.fullmatch(expression)
    if not m:
        return None
    value, unit = int(m.group(1)), m.group(2)
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise ExpressionError(
            f"Unknown unit {unit!r} in {expression}; use minute(s), hour(s) or day(s)."
        )
    if value < 1:
        raise ExpressionError("A rate must be 1 or more, e.g. rate(1 minute).")
    expected = singular if value == 1 else singular + "s"
    if unit != expected:
        raise ExpressionError(
            f"Write rate({value} {expected}): AWS uses the singular for 1 and the plural otherwise."
        )
    return value * _UNITS[singular]


def _aws_dow_to_croniter(field: str) -> str:
    """AWS counts days of the week 1 (SUN) to 7 (SAT); croniter 0 to 6."""

    def shift(number: str) -> str:
        n = int(number)
        if not 1 <= n <= 7:
            raise ExpressionError(f"Day-of-week {n} is out of range: use 1 (SUN) to 7 (SAT).")
        return str(n - 1)

    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        # In "6#3" only the day is a day; the 3 is "the third".
        day, hash_, nth = base.partition("#")
        day = re.sub(r"\d+", lambda m: shift(m.group(0)), day)
        parts.append(day + hash_ + nth + slash + step)
    return ",".join(parts)


def _year_set(field: str) -> set[int] | None:
    """The years a cron year field allows; None for any year."""
    if field in ("*", "?"):
        return None
    years: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                lo, hi = _YEARS.start, _YEARS.stop - 1
            elif "-" in base:
                lo, hi = (int(x) for x in base.split("-", 1))
            else:
                lo = int(base)
                hi = lo if not step_text else _YEARS.stop - 1
        except ValueError:
            raise ExpressionError(f"The year field {field!r} is not valid; use e.g. * or 2030.") from None
        if step < 1 or lo > hi or lo not in _YEARS or hi not in _YEARS:
            raise ExpressionError(f"The year field {field!r} is out of range (1970-2199).")
        years.update(range(lo, hi + 1, step))
    return years


class Expression:
    """A parsed expression that can say when it fires next."""

    def __init__(self, text: str):
        self.text = text.strip()
        self.interval: int | None = None
        self.cron = ""
        self.years: set[int] | None = None
        self.interval = _rate_seconds(self.text)
        if self.interval is not None:
            return
        m = _CRON.fullmatch(self.text)
        if not m:
            raise ExpressionError(
                "Write rate(N minutes|hours|days) or cron(minutes hours day-of-month month "
                "day-of-week year), e.g. rate(5 minutes) or cron(0 12 * * ? *)."
            )
        fields = m.group(1).split()
        if len(fields) != 6:
            raise ExpressionError(
                f"cron() takes six fields (minutes hours day-of-month month day-of-week year); "
                f"this one has {len(fields)}."
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ExpressionError(
                "In cron(), exactly one of day-of-month and day-of-week must be ?, "
                "e.g. cron(0 12 * * ? *) or cron(0 9 ? * MON-FRI *)."
            )
        dom = "*" if dom == "?" else dom
        dow = "*" if dow == "?" else _aws_dow_to_croniter(dow)
        self.cron = " ".join([minute, hour, dom, month, dow])
        if not croniter.is_valid(self.cron):
            raise ExpressionError(f"{self.text} is not a valid cron expression; check each field.")
        self.years = _year_set(year)

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime | None:
        """The first fire time strictly after moment (aware), or None if the
        expression never fires again (a year field in the past)."""
        if self.interval is not None:
            return moment + timedelta(seconds=self.interval)
        local = moment.astimezone(tz)
        for _ in range(1000):
            if self.years is not None:
                later = [y for y in self.years if y >= local.year]
                if not later:
                    return None
                if local.year not in self.years:
                    # Jump to just before the next allowed year.
                    local = datetime(min(later), 1, 1, tzinfo=tz) - timedelta(microseconds=1)
            nxt = croniter(self.cron, local).get_next(datetime)
            if self.years is None or nxt.year in self.years:
                return nxt.astimezone(moment.tzinfo)
            local = nxt
        return None

    def preview(self, moment: datetime, tz: ZoneInfo, count: int = 5) -> list[datetime]:
        """The next count fire times after moment, in tz."""
        times: list[datetime] = []
        current = moment
        while len(times) < count:
            nxt = self.next_after(current, tz)
            if nxt is None:
                break
            times.append(nxt.astimezone(tz))
            current = nxt
        return times


def never_fires(text: str) -> str:
    """The form's and the preview's words for an expression with no fire
    time left."""
    return f"{text} never fires again (its year field is in the past)."


def parse(text: str) -> Expression:
    return Expression(text)
