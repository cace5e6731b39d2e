"""The first call on a provisioned alias reads nothing: the web's copies
(functions.provisioned_lookup) and the worker's versions
(invocations.provisioned_versions) are read before it."""

import asyncio

import pytest
from django.test import RequestFactory

from functions import changes, invoke_api, lookup, provisioned_lookup, qualifiers
from functions.models import Alias, ApiKey, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import concurrency, provisioned_versions, runner


def publish(fn, number):
    fields = {name: getattr(fn, name) for name in qualifiers.FROZEN}
    return FunctionVersion.objects.create(function=fn, version=number, **fields)


@pytest.fixture(autouse=True)
def empty_copies():
    lookup._dropped(None)
    runner._versions.clear()
    yield
    lookup._dropped(None)
    runner._versions.clear()


@pytest.fixture
def provisioned(make_function):
    fn = make_function(name="prov")
    publish(fn, 1)
    publish(fn, 2)
    Alias.objects.create(function=fn, name="live", function_version="1",
                         routing_config={"AdditionalVersionWeights": {"2": 0.5}})
    ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=1)
    ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="2", requested=1)
    return fn


def no_thread(*args, **kwargs):
    raise AssertionError("the call went to a thread (a look-up missed this process's copies)")


def test_it_makes_the_first_call_on_the_alias_read_nothing(
        provisioned, team, monkeypatch, django_assert_num_queries):
    assert provisioned_lookup.preload() == 2
    key = ApiKey(team=team)
    request = RequestFactory().post("/2015-03-31/functions/prov:live/invocations")
    monkeypatch.setattr(invoke_api.asgi, "in_thread", no_thread)
    with django_assert_num_queries(0):
        picked = {asyncio.run(invoke_api._function(request, key, "prov:live")).executed_version
                  for _ in range(40)}
        versioned = asyncio.run(invoke_api._function(request, key, "prov:2"))
        terms = concurrency.cached_terms(team.id)
    assert picked == {"1", "2"}  # the alias's weight still picks per call
    assert versioned.executed_version == "2" and versioned.qualifier == "2"
    assert terms is not None
    one = lookup.cached_qualified(lookup.cached(team, "prov"), "live")
    assert one.qualifier == "live" and one.revision in {
        v.revision for v in FunctionVersion.objects.filter(function=provisioned)}


def test_an_alias_moved_is_read_again(provisioned, team):
    provisioned_lookup.preload()
    Alias.objects.filter(function=provisioned, name="live").update(function_version="2", routing_config={})
    lookup._dropped("function")  # what the alias's save announces
    assert lookup.cached(team, "prov") is None
    provisioned_lookup.preload()
    fn = lookup.cached(team, "prov")
    assert lookup.cached_qualified(fn, "live").executed_version == "2"


def test_copies_dropped_while_it_read_are_not_stored(provisioned, team, monkeypatch):
    real = lookup.build_qualified

    def changed_meanwhile(*args, **kwargs):
        lookup._dropped("function")
        return real(*args, **kwargs)

    monkeypatch.setattr(lookup, "build_qualified", changed_meanwhile)
    assert provisioned_lookup.preload() == 0
    assert lookup.cached(team, "prov") is None


def test_nothing_provisioned_reads_one_query(make_function, django_assert_num_queries):
    make_function(name="plain")
    with django_assert_num_queries(1):
        assert provisioned_lookup.preload() == 0


def test_a_configuration_saved_wakes_the_preload_and_keeps_the_copies(provisioned, team, monkeypatch):
    provisioned_lookup.preload()
    heard = []
    monkeypatch.setattr(changes, "_handlers", [*changes._handlers, heard.append])
    provisioned_lookup._wake.clear()
    provisioned_lookup._changed("provisioned")
    assert provisioned_lookup._wake.is_set()
    ProvisionedConcurrencyConfig.objects.filter(qualifier="2").first().save()
    assert heard == ["provisioned"]
    assert lookup.cached(team, "prov") is not None  # "provisioned" drops nothing


def test_the_worker_reads_the_provisioned_versions_ahead(provisioned, django_assert_num_queries):
    assert provisioned_versions.wanted() == {(str(provisioned.id), "1"), (str(provisioned.id), "2")}
    assert provisioned_versions.preload() == 2
    assert provisioned_versions.preload() == 0  # versions never change: read once
    revision = str(FunctionVersion.objects.get(function=provisioned, version=1).revision)
    with django_assert_num_queries(0):
        fn = runner.function_for(str(provisioned.id), revision, "1")
    assert fn.executed_version == "1"


def test_each_round_reads_the_teams_terms_again_so_they_never_expire(provisioned, team):
    # Kept terms that are not the team's (as if read long ago): a round
    # that only looked them up would keep them until their TTL, and the
    # first call after it would read them in a thread.
    concurrency._terms[team.id] = (float("inf"), 12345, 678)
    provisioned_lookup.preload()
    assert concurrency.cached_terms(team.id) == concurrency.terms(team.id, fresh=True)
    assert concurrency.cached_terms(team.id) != (12345, 678)
