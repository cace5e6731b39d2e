"""functions.versions: PublishVersion's and the aliases' rules, shared by
the Lambda API and the console."""

import pytest

from functions import qualifiers, service, versions
from functions.models import Alias, FunctionVersion

pytestmark = pytest.mark.django_db


def test_it_publishes_numbers_in_order_and_reuses_an_unchanged_version(make_function):
    fn = make_function("pub")
    first = versions.publish_version(fn, "first")
    assert (first.version, first.description, first.code_id) == (1, "first", fn.code_id)
    assert versions.publish_version(fn, "again").pk == first.pk  # nothing changed
    service.update_configuration(fn, memory_mb=256)
    second = versions.publish_version(fn)
    assert (second.version, second.memory_mb, second.description) == (2, 256, fn.description)
    fn.refresh_from_db()
    assert fn.last_version == 2
    second.delete()
    # Lambda never reuses a number, even a deleted version's.
    service.update_configuration(fn, memory_mb=512)
    assert versions.publish_version(fn).version == 3


def test_it_refuses_a_stale_code_sha_or_revision_and_publishes_nothing(make_function):
    fn = make_function("stale")
    with pytest.raises(service.FunctionError, match="CodeSHA256"):
        versions.publish_version(fn, code_sha256="AAAA")
    with pytest.raises(versions.RevisionChanged):
        versions.publish_version(fn, revision_id="00000000-0000-0000-0000-000000000000")
    assert not FunctionVersion.objects.filter(function=fn).exists()
    current = {"code_sha256": fn.code.sha256_b64, "revision_id": str(fn.revision)}
    assert versions.publish_version(fn, **current).version == 1


def test_alias_rules(make_function):
    fn = make_function("al")
    v1 = versions.publish_version(fn)
    service.update_configuration(fn, memory_mb=256)
    v2 = versions.publish_version(fn)
    live = versions.create_alias(fn, "live", "1", routing_config={"AdditionalVersionWeights": {"2": 0.25}})
    assert live.routing_config == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(versions.Conflict):
        versions.create_alias(fn, "live", "1")
    bad = [
        ("123", "1", None),  # all digits names a version
        ("x", "9", None),  # no such version
        ("x", "$LATEST", {"AdditionalVersionWeights": {"1": 0.5}}),  # routing on $LATEST
        ("x", "1", {"AdditionalVersionWeights": {"$LATEST": 0.5}}),
        ("x", "1", {"AdditionalVersionWeights": {"2": 1.5}}),
        ("x", "1", {"AdditionalVersionWeights": {"2": True}}),
        ("x", "1", {"AdditionalVersionWeights": {"1": 0.5}}),  # its own version
        ("x", "1", {"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}),
    ]
    for name, version, routing in bad:
        with pytest.raises(service.FunctionError):
            versions.create_alias(fn, name, version, routing_config=routing)
    assert list(Alias.objects.filter(function=fn).values_list("name", flat=True)) == ["live"]

    before = live.revision
    with pytest.raises(service.FunctionError):
        versions.update_alias(fn, "live", routing_config={"AdditionalVersionWeights": {"2": -0.1}})
    live.refresh_from_db()
    assert live.revision == before and live.routing_config == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(versions.RevisionChanged):
        versions.update_alias(fn, "live", function_version="2", revision_id="nope")
    moved = versions.update_alias(
        fn, "live", function_version="2", routing_config={}, revision_id=str(before)
    )
    assert (moved.function_version, moved.routing_config) == ("2", {})
    assert qualifiers.resolve(fn, "live").executed_version == str(v2.version)
    with pytest.raises(versions.Conflict):
        versions.delete_version(fn, 2)
    versions.delete_version(fn, v1.version)
    versions.delete_alias(fn, "live")
    with pytest.raises(versions.NotFound):
        versions.delete_alias(fn, "live")
