"""invocations.provisioning's arithmetic: which version's environments a
configuration asks for (an alias's split by weight), what is wanted, and
the status written back."""

import pytest

from functions import qualifiers
from functions.models import Alias, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import provisioning


def publish(fn, number):
    fields = {name: getattr(fn, name) for name in qualifiers.FROZEN}
    return FunctionVersion.objects.create(function=fn, version=number, **fields)


@pytest.fixture
def fn(make_function):
    made = make_function()
    publish(made, 1)
    publish(made, 2)
    return made


@pytest.mark.django_db
def test_a_version_gets_them_all_and_an_alias_splits_by_weight(fn):
    on_version = ProvisionedConcurrencyConfig(function=fn, qualifier="2", requested=3)
    assert provisioning.split(fn, on_version) == [("2", 3)]
    Alias.objects.create(function=fn, name="live", function_version="1",
                         routing_config={"AdditionalVersionWeights": {"2": 0.25}})
    on_alias = ProvisionedConcurrencyConfig(function=fn, qualifier="live", requested=4)
    assert provisioning.split(fn, on_alias) == [("1", 3), ("2", 1)]
    Alias.objects.create(function=fn, name="edge", function_version="$LATEST")
    on_latest = ProvisionedConcurrencyConfig(function=fn, qualifier="edge", requested=2)
    assert provisioning.split(fn, on_latest) == []


@pytest.mark.django_db
def test_wanted_keys_each_version_and_status_follows_what_is_allocated(fn):
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="1", requested=2)
    want = provisioning.wanted()
    key = provisioning.key_of(config, "1")
    assert list(want) == [key]
    wanted_config, version, count = want[key]
    assert (version.executed_version, version.qualifier, count) == ("1", "1", 2)
    assert version.revision == FunctionVersion.objects.get(function=fn, version=1).revision
    provisioning._write_status(want, {key: [{"id": "a"}]}, {})
    config.refresh_from_db()
    assert (config.allocated, config.status) == (1, "IN_PROGRESS")
    provisioning._write_status(provisioning.wanted(), {key: [{"id": "a"}, {"id": "b"}]}, {})
    config.refresh_from_db()
    assert (config.allocated, config.status) == (2, "READY")
    provisioning._write_status(provisioning.wanted(), {key: [{"id": "a"}]}, {config.pk: "no image"})
    config.refresh_from_db()
    assert (config.status, config.status_reason) == ("FAILED", "no image")


@pytest.mark.django_db
def test_a_version_waiting_for_its_dependency_build_gets_no_environments(fn):
    # Published with Publish=True during a build: its code lacks its packages.
    FunctionVersion.objects.filter(function=fn, version=2).update(state="Pending")
    ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="2", requested=1)
    assert provisioning.wanted() == {}
    FunctionVersion.objects.filter(function=fn, version=2).update(state="Active")
    assert len(provisioning.wanted()) == 1


@pytest.mark.django_db
def test_a_configuration_on_a_version_whose_build_failed_is_failed_with_the_reason(fn):
    # Version 2 was published with Publish=True during a dependency build;
    # the configuration names it through an alias.
    from functions import dependencies
    from functions.models import DependencyBuild

    build = DependencyBuild.objects.create(source=fn.code, runtime=fn.runtime, status="InProgress")
    FunctionVersion.objects.filter(function=fn, version=2).update(state="Pending")
    Alias.objects.create(function=fn, name="live", function_version="2")
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=2)
    assert provisioning.upkeep() == 0  # nothing to start while the build runs
    config.refresh_from_db()
    assert (config.status, config.status_reason) == ("IN_PROGRESS", "")
    dependencies.finish(build, reason="pip install failed: No matching distribution found for nope-xyz")
    provisioning.upkeep()
    config.refresh_from_db()
    assert (config.status, config.allocated) == ("FAILED", 0)
    assert "Version 2" in config.status_reason and "Failed" in config.status_reason
    assert "nope-xyz" in config.status_reason and "(DependencyError)" in config.status_reason


@pytest.mark.django_db
def test_a_configuration_on_a_version_made_active_becomes_ready(fn):
    FunctionVersion.objects.filter(function=fn, version=2).update(state="Pending")
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="2", requested=1)
    want, waiting = provisioning.survey()
    assert want == {} and waiting[config.pk][1:] == ("IN_PROGRESS", "")
    FunctionVersion.objects.filter(function=fn, version=2).update(state="Active")
    want, waiting = provisioning.survey()
    assert waiting == {}
    provisioning._write_status(want, {provisioning.key_of(config, "2"): [{"id": "a"}]}, {}, waiting)
    config.refresh_from_db()
    assert (config.allocated, config.status) == (1, "READY")


@pytest.mark.django_db
def test_the_upkeep_says_in_progress_before_it_starts_the_missing_ones(fn, monkeypatch):
    # The alias moved from version 1 (one environment, READY) to version 2:
    # while version 2's environment initialises (seconds), the configuration
    # is IN_PROGRESS with none available, not the READY of version 1.
    from invocations.models import Environment

    alias = Alias.objects.create(function=fn, name="live", function_version="1")
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=1,
                                                         allocated=1, status="READY")
    Environment.objects.create(id="old", node="elsewhere", provisioned_for=provisioning.key_of(config, "1"))
    Alias.objects.filter(pk=alias.pk).update(function_version="2")  # not through UpdateAlias
    seen = []

    def start_one(resolved, key):
        seen.append(ProvisionedConcurrencyConfig.objects.values_list(
            "status", "allocated").get(pk=config.pk))
        Environment.objects.create(id="new", node="here", provisioned_for=key)
        return "new"

    monkeypatch.setattr(provisioning, "_start_one", start_one)
    monkeypatch.setattr(provisioning, "_lock", lambda key: True)
    monkeypatch.setattr(provisioning, "_unlock", lambda key: None)
    assert provisioning.upkeep() == 1
    assert seen == [("IN_PROGRESS", 0)]
    config.refresh_from_db()
    assert (config.status, config.allocated) == ("READY", 1)


@pytest.mark.django_db
def test_a_round_does_not_overwrite_what_update_alias_wrote_after_it_looked(fn):
    from functions import provisioned
    from invocations.models import Environment

    alias = Alias.objects.create(function=fn, name="live", function_version="1")
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=1)
    key = provisioning.key_of(config, "1")
    Environment.objects.create(id="old", node="n1", provisioned_for=key)
    want, waiting = provisioning.survey()  # a round looks: version 1, 1 of 1
    alias.function_version = "2"
    alias.save()
    provisioned.alias_moved(fn, alias)  # UpdateAlias meanwhile
    config.refresh_from_db()
    assert (config.status, config.allocated) == ("IN_PROGRESS", 0)
    provisioning._write_status(want, {key: [{"id": "old"}]}, {}, waiting)  # the round's older view
    config.refresh_from_db()
    assert (config.status, config.allocated) == ("IN_PROGRESS", 0)
    # The next round looks again and counts version 2's environments.
    want, waiting = provisioning.survey()
    provisioning._write_status(want, {provisioning.key_of(config, "2"): [{"id": "new"}]}, {}, waiting)
    config.refresh_from_db()
    assert (config.status, config.allocated) == ("READY", 1)


@pytest.mark.django_db
def test_a_failed_configuration_does_not_flicker_while_a_round_tries_again(fn, monkeypatch):
    config = ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="1", requested=1,
                                                         status="FAILED", status_reason="no image")
    seen = []

    def start_one(resolved, key):
        seen.append(ProvisionedConcurrencyConfig.objects.values_list("status", flat=True).get(pk=config.pk))
        raise RuntimeError("no image")

    monkeypatch.setattr(provisioning, "_start_one", start_one)
    monkeypatch.setattr(provisioning, "_lock", lambda key: True)
    monkeypatch.setattr(provisioning, "_unlock", lambda key: None)
    provisioning.upkeep()
    assert seen == ["FAILED"]
    config.refresh_from_db()
    assert config.status == "FAILED" and "no image" in config.status_reason
