"""functions.qualifiers: what $LATEST, a version and an alias resolve to."""

import random

import pytest

from functions import qualifiers
from functions.models import Alias, FunctionVersion


@pytest.fixture
def fn(make_function):
    return make_function()


def publish(fn, number, **changes):
    fields = {name: getattr(fn, name) for name in qualifiers.FROZEN}
    fields.update(changes)
    return FunctionVersion.objects.create(function=fn, version=number, **fields)


@pytest.mark.django_db
def test_latest_and_none_are_the_function_itself(fn):
    assert qualifiers.resolve(fn, None) is fn and fn.executed_version == "$LATEST"
    assert qualifiers.resolve(fn, "$LATEST") is fn and fn.qualifier == "$LATEST"


@pytest.mark.django_db
def test_a_version_is_a_frozen_copy_that_cannot_be_saved(fn):
    v1 = publish(fn, 1, memory_mb=256, timeout_s=9)
    got = qualifiers.resolve(fn, "1")
    assert got is not fn and got.id == fn.id
    assert (got.memory_mb, got.timeout_s, got.revision, got.executed_version) == (256, 9, v1.revision, "1")
    assert (fn.memory_mb, fn.revision) != (256, v1.revision)
    with pytest.raises(TypeError):
        got.save()


@pytest.mark.django_db
def test_missing_versions_and_aliases_are_not_found(fn):
    with pytest.raises(qualifiers.QualifierNotFound):
        qualifiers.resolve(fn, "7")
    with pytest.raises(qualifiers.QualifierNotFound):
        qualifiers.resolve(fn, "live")


@pytest.mark.django_db
def test_an_alias_splits_by_weight(fn):
    publish(fn, 1)
    publish(fn, 2)
    Alias.objects.create(function=fn, name="live", function_version="1",
                         routing_config={"AdditionalVersionWeights": {"2": 0.25}})
    chooser = random.Random(7)
    runs = [qualifiers.resolve(fn, "live", chooser).executed_version for _ in range(4000)]
    share = runs.count("2") / len(runs)
    assert set(runs) == {"1", "2"} and 0.22 < share < 0.28
    assert qualifiers.pick("1", {}, chooser) == "1"


@pytest.mark.django_db
def test_a_version_copy_never_touches_the_functions_cached_code(fn):
    from functions.models import CodeBundle

    other = CodeBundle.objects.create(sha256="ab" * 32, size=1, unzipped_size=1)
    publish(fn, 1, code_id=other.sha256)
    own_code = fn.code  # cached on fn
    got = qualifiers.resolve(fn, "1")
    assert got.code.sha256 == other.sha256
    assert fn.code is own_code and fn._state.fields_cache["code"].sha256 == own_code.sha256
