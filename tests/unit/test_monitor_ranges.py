"""The charts' ranges and windows (monitor.ranges)."""

from datetime import UTC, datetime

import pytest

from monitor import ranges


def test_it_defaults_to_one_hour():
    assert ranges.parse(None).name == "1h"
    assert ranges.parse("").step_s == 60


def test_it_names_the_ranges_it_knows_when_refusing_one():
    with pytest.raises(ranges.RangeError, match="use one of 1h, 24h, 7d"):
        ranges.parse("30d")


@pytest.mark.parametrize(("name", "step", "points"), [("1h", 60, 60), ("24h", 600, 144), ("7d", 3600, 168)])
def test_it_ends_the_window_with_the_step_holding_now(name, step, points):
    now = datetime(2026, 3, 4, 10, 17, 42, 500_000, tzinfo=UTC)
    since, until = ranges.window(ranges.parse(name), now)
    assert since <= now < until
    assert int(until.timestamp()) % step == 0
    assert int(until.timestamp()) - int(now.timestamp()) <= step
    assert (until - since).total_seconds() == step * points
