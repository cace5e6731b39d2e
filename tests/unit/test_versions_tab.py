"""The Versions tab: publishing, creating, re-weighting and deleting aliases
from the console (rules: functions.versions), the Test tab's Run select,
and what a stranger or a read-only member gets."""

import pytest
from django.urls import reverse

from functions import service, versions, versions_tab
from functions.models import Alias, FunctionVersion

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fn(make_function):
    return make_function("hello")


def login(client, users, who="owner"):
    client.force_login(users[who])
    return client


def test_it_publishes_and_lists_versions(client, users, fn):
    login(client, users)
    url = reverse("fn-version-publish", args=[fn.id])
    page = client.post(url, {"description": "first cut"}, **HX)
    assert page.status_code == 200 and "Published version 1." in page.content.decode()
    again = client.post(url, {"description": "same"}, **HX).content.decode()
    assert "Nothing changed since version 1" in again
    assert list(FunctionVersion.objects.filter(function=fn).values_list("version", "description")) == [
        (1, "first cut")
    ]
    tab = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=versions").content.decode()
    assert 'data-version="1"' in tab and "first cut" in tab and fn.code.sha256_b64[:12] in tab


def test_it_creates_moves_and_deletes_an_alias(client, users, fn):
    login(client, users)
    versions.publish(fn)
    service.update_configuration(fn, memory_mb=256)
    versions.publish(fn)
    create = reverse("fn-alias-create", args=[fn.id])
    page = client.post(create, {
        "new-alias-name": "live", "new-alias-function_version": "1",
        "new-alias-routing_version": "2", "new-alias-routing_weight": "25",
    }, **HX).content.decode()
    assert "Created the alias live." in page
    live = Alias.objects.get(function=fn, name="live")
    assert live.routing_config == {"AdditionalVersionWeights": {"2": 0.25}}
    assert "version 1: 75 %" in page and "version 2: 25 %" in page

    update = reverse("fn-alias-update", args=[fn.id, "live"])
    # A weight as typed (33.3 % is 0.333, no float noise), shares as read.
    page = client.post(update, {
        "alias-live-function_version": "1", "alias-live-routing_version": "2",
        "alias-live-routing_weight": "7",
    }, **HX).content.decode()
    assert "version 1: 93 %" in page and "version 2: 7 %" in page
    client.post(update, {
        "alias-live-function_version": "1", "alias-live-routing_version": "2",
        "alias-live-routing_weight": "33.3",
    }, **HX)
    live = Alias.objects.get(function=fn, name="live")
    assert live.routing_config == {"AdditionalVersionWeights": {"2": 0.333}}
    client.post(update, {
        "alias-live-function_version": "2", "alias-live-routing_version": "", "alias-live-routing_weight": "",
    }, **HX)
    alias = Alias.objects.get(function=fn, name="live")
    assert (alias.function_version, alias.routing_config) == ("2", {})

    client.post(reverse("fn-alias-delete", args=[fn.id, "live"]), **HX)
    assert not Alias.objects.filter(function=fn).exists()


@pytest.mark.parametrize("fields, words", [
    ({"routing_version": "2", "routing_weight": "150"}, "less than or equal to 100"),
    ({"routing_version": "2", "routing_weight": ""}, "Give the second version"),
    ({"routing_version": "", "routing_weight": "10"}, "Choose the second version"),
    ({"routing_version": "1", "routing_weight": "10"}, "The second version must differ from the version (1)"),
    ({"function_version": "$LATEST", "routing_version": "2", "routing_weight": "10"},
     "must point to a published version, not $LATEST"),
])
def test_bad_weights_are_form_errors_and_change_nothing(client, users, fn, fields, words):
    login(client, users)
    versions.publish(fn)
    service.update_configuration(fn, memory_mb=256)
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    before = Alias.objects.get(function=fn, name="live")
    data = {"function_version": "1", **fields}
    page = client.post(reverse("fn-alias-update", args=[fn.id, "live"]),
                       {f"alias-live-{k}": v for k, v in data.items()}, **HX)
    body = page.content.decode()
    assert page.status_code == 200 and words in body
    assert "AdditionalVersionWeights" not in body and "FunctionVersion" not in body
    after = Alias.objects.get(function=fn, name="live")
    assert (after.function_version, after.routing_config, after.revision) == (
        before.function_version, before.routing_config, before.revision
    )


def test_a_taken_or_bad_alias_name_is_a_form_error(client, users, fn):
    login(client, users)
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    create = reverse("fn-alias-create", args=[fn.id])
    taken = client.post(create, {"new-alias-name": "live", "new-alias-function_version": "1"}, **HX)
    assert "Alias already exists" in taken.content.decode()
    digits = client.post(create, {"new-alias-name": "123", "new-alias-function_version": "1"}, **HX)
    assert "not only digits" in digits.content.decode()
    plain = client.post(create, {"new-alias-name": "12", "new-alias-function_version": "1"})
    assert plain.status_code == 400
    assert list(Alias.objects.filter(function=fn).values_list("name", flat=True)) == ["live"]


def test_the_test_tab_offers_the_aliases_and_refuses_a_missing_one(client, users, fn, handed_over):
    login(client, users)
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    tab = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=test").content.decode()
    assert 'name="qualifier"' in tab and '<option value="live">' in tab
    invoke = reverse("fn-invoke", args=[fn.id])
    missing = client.post(invoke, {"event": "{}", "qualifier": "gone"}, **HX).content.decode()
    assert "has no version or alias gone" in missing and not handed_over.calls
    client.post(invoke, {"event": "{}", "qualifier": "live"}, **HX)
    (request,) = handed_over.calls
    assert request.revision == str(FunctionVersion.objects.get(function=fn, version=1).revision)


def test_strangers_and_readers(client, users, fn):
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    urls = [
        reverse("fn-version-publish", args=[fn.id]),
        reverse("fn-alias-create", args=[fn.id]),
        reverse("fn-alias-update", args=[fn.id, "live"]),
        reverse("fn-alias-delete", args=[fn.id, "live"]),
    ]
    login(client, users, "reader")
    assert [client.post(u).status_code for u in urls] == [403] * 4
    tab = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=versions").content.decode()
    assert "live" in tab and "Publish new version" not in tab
    login(client, users, "outsider")
    assert [client.post(u).status_code for u in urls] == [404] * 4
    login(client, users, "owner")
    assert client.get(urls[0]).status_code == 405
    assert client.post(reverse("fn-alias-delete", args=[fn.id, "nope"])).status_code == 404
    assert Alias.objects.filter(function=fn).count() == 1


def test_alias_labels_show_the_weights_and_the_form_reads_as_words(client, users, fn):
    login(client, users)
    versions.publish(fn)
    service.update_configuration(fn, memory_mb=256)
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1",
                          routing_config={"AdditionalVersionWeights": {"2": 0.3}})
    versions.create_alias(fn, name="third", function_version="2",
                          routing_config={"AdditionalVersionWeights": {"1": 1 / 3}})
    versions.create_alias(fn, name="plain", function_version="1")
    labels = dict(versions_tab.qualifier_choices(fn))
    assert labels["live"] == "alias live → 1 (70%), 2 (30%)"
    assert labels["third"] == "alias third → 2 (66.67%), 1 (33.33%)"
    assert labels["plain"] == "alias plain → 1"
    tab = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=test").content.decode()
    assert "alias live → 1 (70%), 2 (30%)" in tab
    versions_page = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=versions").content.decode()
    assert "Weight of the second version, %" in versions_page and "Second version" in versions_page
    assert "AdditionalVersionWeights" not in versions_page


def test_a_refusal_naming_the_apis_fields_is_put_in_the_forms_words(fn):
    from awsapi import errors

    form = versions_tab.AliasWeightsForm({}, function=fn)
    form.is_valid()
    form.apply_error(errors.invalid_parameter(
        "Number of items in AdditionalVersionWeights cannot be greater than 1."
    ))
    assert form.non_field_errors() == ["Number of items in Second version cannot be greater than 1."]
