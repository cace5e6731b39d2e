"""functions.lookup: Invoke's per-process copy of the function row."""

from functions import lookup, service
from functions.models import Function
from invocations import concurrency


def test_a_second_lookup_within_the_ttl_reads_nothing(make_function, team, django_assert_num_queries):
    fn = make_function(name="cached")
    with django_assert_num_queries(1):
        first = lookup.function(team, "cached")
        again = lookup.function(team, "cached")
    assert first is again and first.id == fn.id and first.team is team


def test_it_reads_again_after_the_ttl(make_function, team, monkeypatch, django_assert_num_queries):
    make_function(name="ttl")
    clock = [100.0]
    monkeypatch.setattr(lookup.time, "monotonic", lambda: clock[0])
    lookup.function(team, "ttl")
    clock[0] += lookup.TTL_S + 0.01
    with django_assert_num_queries(1):
        lookup.function(team, "ttl")


def test_saving_or_deleting_the_function_drops_the_copy(make_function, team):
    fn = make_function(name="changes")
    assert lookup.function(team, "changes").timeout_s == 3
    service.update_configuration(Function.objects.get(id=fn.id), timeout_s=30)
    assert lookup.function(team, "changes").timeout_s == 30
    concurrency.set_reserved(Function.objects.get(id=fn.id), 2)
    assert lookup.function(team, "changes").reserved_concurrency == 2
    Function.objects.get(id=fn.id).delete()
    assert lookup.function(team, "changes") is None


def test_a_missing_function_is_not_cached(make_function, team):
    assert lookup.function(team, "later") is None
    make_function(name="later")
    assert lookup.function(team, "later") is not None
