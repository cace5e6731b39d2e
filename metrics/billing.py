"""Pricing: the one place that turns a run's duration and memory into
billed milliseconds, GB-seconds and money, as Lambda bills.

Rules (Lambda's pricing page; the amounts are settings, console/settings.py):
- the billed duration is the run's duration rounded up to
  STRATUS_BILLING_ROUNDING_MS (1 ms, Lambda since December 2020, or 100 ms,
  the classic model), at least one unit;
- GB-seconds = billed seconds x memory in GB (memory MB / 1024);
- cost = requests x price per million / 1,000,000
  + GB-seconds x price per GB-second;
- a call that never ran (throttled, cancelled before it started, expired in
  the queue) is not billed: neither a request nor any duration;
- the free tier (requests and GB-seconds) is per team and calendar month
  (applied by metrics.usage).

Amounts are Decimals (never floats) in STRATUS_BILLING_CURRENCY."""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.conf import settings

# Statuses of calls that never ran (invocations.models.STATUSES).
NOT_BILLED = frozenset({"throttled", "cancelled", "expired"})

MB_PER_GB = Decimal(1024)
MS_PER_S = Decimal(1000)
MILLION = Decimal(1_000_000)


def rounding_ms() -> int:
    """The billing unit in ms: 1 or 100 (the setting, checked at start)."""
    return settings.STRATUS_BILLING_ROUNDING_MS


def billed_ms(duration_ms: float) -> int:
    """`duration_ms` (ms, >= 0) rounded up to the billing unit, at least
    one unit: with 1 ms, 0.4 -> 1, 100.0 -> 100, 100.01 -> 101; with
    100 ms, 0.4 -> 100, 100.0 -> 100, 100.01 -> 200."""
    unit = rounding_ms()
    # Through the float's shortest text, so 100.0 is exactly 100 and not
    # a hair above it.
    units = (Decimal(repr(float(duration_ms))) / unit).to_integral_value(rounding=ROUND_CEILING)
    return max(1, int(units)) * unit


def billed_ms_for(status: str, duration_ms: float | None) -> int:
    """The billed duration of a finished call: 0 for one that never ran
    (NOT_BILLED), else billed_ms of its duration (None counts as 0)."""
    if status in NOT_BILLED:
        return 0
    return billed_ms(duration_ms or 0.0)


def gb_seconds(billed: int, memory_mb: int) -> Decimal:
    """Billed ms at `memory_mb` MB in GB-seconds: 1000 ms at 1024 MB -> 1."""
    return Decimal(billed) / MS_PER_S * Decimal(memory_mb) / MB_PER_GB


@dataclass(frozen=True)
class Prices:
    """Price per million requests and per GB-second, and the free tier per
    team and month (requests, GB-seconds); from the settings by default."""

    per_million_requests: Decimal
    per_gb_second: Decimal
    free_requests: Decimal
    free_gb_seconds: Decimal
    currency: str = "USD"

    @classmethod
    def from_settings(cls) -> "Prices":
        return cls(
            per_million_requests=settings.STRATUS_PRICE_PER_MILLION_REQUESTS,
            per_gb_second=settings.STRATUS_PRICE_PER_GB_SECOND,
            free_requests=settings.STRATUS_FREE_TIER_REQUESTS,
            free_gb_seconds=settings.STRATUS_FREE_TIER_GB_SECONDS,
            currency=settings.STRATUS_BILLING_CURRENCY,
        )

    def requests_cost(self, requests: int | Decimal) -> Decimal:
        return Decimal(requests) * self.per_million_requests / MILLION

    def duration_cost(self, gb_s: Decimal) -> Decimal:
        return gb_s * self.per_gb_second

    def usage_cost(self, requests: int | Decimal, gb_s: Decimal) -> Decimal:
        """Requests and GB-seconds in money, before any free tier."""
        return self.requests_cost(requests) + self.duration_cost(gb_s)


def cost(billed: int, memory_mb: int, *, prices: Prices | None = None) -> Decimal:
    """One call's cost: one request and `billed` ms at `memory_mb` MB
    (before the free tier). 1 ms at 128 MB at Lambda's prices:
    0.0000002 + 0.000125 x 0.0000166667 = 0.000000202083337500."""
    prices = prices or Prices.from_settings()
    return prices.usage_cost(1, gb_seconds(billed, memory_mb))


def invocation_cost(status: str, billed: int | None, memory_mb: int) -> Decimal | None:
    """A finished call's cost, None when it is not billed (never ran, or
    not finished: no billed duration yet)."""
    if status in NOT_BILLED or billed is None:
        return None
    return cost(billed, memory_mb)


def decimal_of(value: float | int | Decimal | None) -> Decimal:
    """A stored float (MetricMinute.gb_seconds, a database SUM) as a
    Decimal, through its shortest text so 0.1 stays 0.1."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)

