"""metrics.histogram: log buckets and percentiles on known data, within
the documented error bound."""

import math
import random

import pytest

from metrics import histogram as h


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_it_puts_every_value_in_the_bucket_whose_bounds_hold_it():
    for ms in [0.010001, 0.0105, 0.5, 1, 1.05, 3.7, 999.99, 1000, 123456.7, 899_999.9]:
        i = h.bucket_of(ms)
        assert h.lower_bound(i) < ms <= h.upper_bound(i), ms
    # Exact bounds belong to the bucket they close.
    for i in (1, 50, 200, 376):
        assert h.bucket_of(h.upper_bound(i)) == i


def test_buckets_are_five_percent_wide_from_a_hundredth_of_a_ms_to_fifteen_minutes():
    assert h.bucket_of(0) == 0 and h.bucket_of(0.01) == 0 and h.bucket_of(-3) == 0
    assert h.upper_bound(1) / h.upper_bound(0) == pytest.approx(1.05)
    assert h.upper_bound(h.LAST - 1) >= 15 * 60 * 1000 > h.upper_bound(h.LAST - 2)
    assert h.bucket_of(10**12) == h.LAST and h.upper_bound(h.LAST) == math.inf


def test_percentiles_of_one_to_a_thousand_ms_are_within_the_bound():
    values = list(range(1, 1001))
    hist = h.of(values)
    assert h.count(hist) == 1000
    for q, true in [(50, 500), (95, 950), (99, 990), (100, 1000)]:
        got = h.percentile(hist, q)
        assert abs(got - true) / true <= h.ALPHA, (q, got)
        assert got == pytest.approx(true, rel=h.ALPHA)


def test_a_single_value_is_every_percentile():
    hist = h.of([42.0])
    for q in (0, 50, 95, 99, 100):
        assert h.percentile(hist, q) == pytest.approx(42.0, rel=h.ALPHA)


def test_an_empty_histogram_has_no_percentile():
    assert h.percentile({}, 50) is None
    assert h.percentile(None, 99) is None


def test_q_outside_zero_to_a_hundred_is_refused():
    with pytest.raises(ValueError, match="between 0 and 100"):
        h.percentile({"5": 1}, 101)


def test_merging_is_the_histogram_of_both_sets():
    rng = random.Random(7)
    a = [rng.lognormvariate(3, 1.5) for _ in range(500)]
    b = [rng.lognormvariate(6, 0.5) for _ in range(300)]
    merged = h.merge(h.of(a), h.of(b))
    assert merged == h.of(a + b)
    # JSON turns keys into text: merging text-keyed histograms is the same.
    assert h.merge({"3": 2}, {3: 1}) == {"3": 3}
    for q in (50, 95, 99):
        true = nearest_rank(a + b, q)
        assert h.percentile(merged, q) == pytest.approx(true, rel=h.ALPHA)


def test_random_durations_stay_within_the_bound_at_every_percentile():
    rng = random.Random(11)
    values = [rng.uniform(0.02, 800_000) for _ in range(2000)]
    hist = h.of(values)
    for q in range(1, 101):
        assert h.percentile(hist, q) == pytest.approx(nearest_rank(values, q), rel=h.ALPHA)


def test_tiny_durations_answer_a_hundredth_of_a_ms():
    assert h.percentile(h.of([0.001, 0.002, 0.0]), 50) == 0.01


def test_cumulative_counts_at_bucket_bounds_are_exact():
    values = [0.5, 1, 2, 5, 10, 100, 1000]
    hist = h.of(values)
    bounds = [h.upper_bound(h.bucket_of(v)) for v in (1, 10, 1000)]
    assert h.cumulative(hist, bounds) == [2, 5, 7]


def test_percentiles_clamped_to_the_observed_extremes_are_exact_at_the_ends():
    # One call of 2004.79 ms: its bucket's representative is ~2031 ms, the
    # observed min/max make every percentile exact.
    one = h.of([2004.79])
    assert h.percentile(one, 95) != 2004.79
    for q in (0, 50, 95, 99, 100):
        assert h.percentile(one, q, low=2004.79, high=2004.79) == 2004.79
    # Two values far apart: p99 is the larger, p1 the smaller, exactly.
    two = h.of([3.17, 1234.5])
    assert h.percentile(two, 99, low=3.17, high=1234.5) == 1234.5
    assert h.percentile(two, 1, low=3.17, high=1234.5) == 3.17
    # Unknown extremes (rows from before they were kept): the histogram's answer.
    assert h.percentile(two, 99, low=None, high=None) == h.percentile(two, 99)
