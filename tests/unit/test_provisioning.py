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
