"""What a warm call costs the database, counted: a warm sync Invoke at the
door (unqualified, a version, an alias) reads nothing; an async event of a
version or an alias reads its config in one query, as $LATEST's does; the
provisioned upkeep's round reads three queries whatever it keeps."""

import pytest

from functions import lookup, qualifiers
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import delivery, provisioning
from invocations.models import Invocation
from tests.unit.test_fuzz_api import door  # noqa: F401 - fixture


def publish(fn, number):
    fields = {name: getattr(fn, name) for name in qualifiers.FROZEN}
    return FunctionVersion.objects.create(function=fn, version=number, **fields)


@pytest.fixture(autouse=True)
def empty_copies():
    lookup._dropped(None)
    yield
    lookup._dropped(None)


@pytest.mark.parametrize("name", ["target", "target:1", "target:live"])
def test_it_reads_nothing_for_a_warm_sync_invoke(door, name, django_assert_num_queries):  # noqa: F811
    fn = Function.objects.get(name="target")
    publish(fn, 1)
    Alias.objects.create(function=fn, name="live", function_version="1")
    assert door(name, b"{}", {}, "", True)[0] == 200  # the first call reads the copies
    with django_assert_num_queries(0):
        status, headers, _ = door(name, b"{}", {}, "", True)
    assert status == 200


@pytest.mark.parametrize("function_version,qualifier", [("$LATEST", ""), ("1", ""), ("1", "live")])
def test_an_events_config_is_one_query(make_function, function_version, qualifier, django_assert_num_queries):
    fn = make_function("target")
    publish(fn, 1)
    inv = Invocation(function=fn, function_version=function_version, qualifier=qualifier)
    with django_assert_num_queries(1):
        config = delivery.config_of(inv)
    assert config.pk is None and config.maximum_retry_attempts == 2


def test_the_provisioned_upkeep_reads_three_queries(make_function, django_assert_num_queries):
    for name in ("one", "two"):
        fn = make_function(name)
        publish(fn, 1)
        publish(fn, 2)
        Alias.objects.create(function=fn, name="live", function_version="1",
                             routing_config={"AdditionalVersionWeights": {"2": 0.5}})
        ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=2)
        ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="2", requested=1)
    with django_assert_num_queries(3):
        want = provisioning.wanted()
    assert sorted((fn.name, fn.executed_version, fn.qualifier, count) for _, fn, count in want.values()) == [
        ("one", "1", "live", 1), ("one", "2", "2", 1), ("one", "2", "live", 1),
        ("two", "1", "live", 1), ("two", "2", "2", 1), ("two", "2", "live", 1),
    ]
