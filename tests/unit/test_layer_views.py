"""The console's layer pages: the Layers page (list, publish from a zip,
delete a version) and a function's layers on its Configuration tab; 404 to
strangers, 403 to read-only members, 405 on wrong methods; refused input
stores nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from functions import layers
from functions.models import LayerVersion
from tests.integration.helpers import zip_of

HX = {"HTTP_HX_REQUEST": "true"}


def as_user(client, users, who):
    client.force_login(users[who])
    return client


def upload(data: bytes, name="layer.zip"):
    return SimpleUploadedFile(name, data, content_type="application/zip")


@pytest.fixture
def mylib(team):
    return layers.publish(team, "mylib", zip_of({"python/mylib.py": "X = 1\n"}), description="my lib")


def test_it_lists_the_teams_layer_versions_with_their_users(client, users, make_function, mylib):
    make_function(layers=[layers.arn_of(mylib)])
    page = as_user(client, users, "reader").get(reverse("layer-list")).content.decode()
    assert 'data-layer="mylib" data-version="1"' in page and layers.arn_of(mylib) in page
    assert "hello" in page  # the function that uses it
    assert "Publish a layer version" not in page and ">Delete</button>" not in page  # read-only
    assert "mylib" not in as_user(client, users, "outsider").get(reverse("layer-list")).content.decode()


def test_a_member_sees_the_delete_buttons(client, users, mylib):
    page = as_user(client, users, "member").get(reverse("layer-list")).content.decode()
    assert ">Delete</button>" in page and "Publish a layer version" in page


def test_it_publishes_a_version_from_a_zip(client, users, team):
    resp = as_user(client, users, "member").post(reverse("layer-list"), {
        "team": team.pk, "name": "tools", "description": "t", "compatible_runtimes": ["python3.11"],
        "zip_file": upload(zip_of({"bin/tool": "#!/bin/sh\n"})),
    })
    assert resp.status_code == 302
    lv = LayerVersion.objects.get(layer__name="tools")
    assert (lv.version, lv.description, lv.compatible_runtimes) == (1, "t", ["python3.11"])
    page = client.get(reverse("layer-list")).content.decode()
    assert "Published tools version 1" in page


def test_a_bad_zip_is_refused_on_the_form_and_nothing_is_stored(client, users, team):
    resp = as_user(client, users, "member").post(reverse("layer-list"), {
        "team": team.pk, "name": "tools", "zip_file": upload(b"not a zip"),
    })
    assert resp.status_code == 200 and "not a valid zip" in resp.content.decode()
    assert not LayerVersion.objects.exists()


def test_a_read_only_member_cannot_publish_or_delete(client, users, team, mylib):
    reader = as_user(client, users, "reader")
    resp = reader.post(reverse("layer-list"), {"team": team.pk, "name": "x",
                                               "zip_file": upload(zip_of({"a": "a"}))})
    assert resp.status_code == 403
    url = reverse("layer-version-delete", args=[team.account_id, "mylib", 1])
    assert reader.post(url).status_code == 403
    assert LayerVersion.objects.filter(deleted_at__isnull=True).count() == 1


def test_it_deletes_a_version_and_strangers_get_404(client, users, team, mylib):
    url = reverse("layer-version-delete", args=[team.account_id, "mylib", 1])
    assert as_user(client, users, "outsider").post(url).status_code == 404
    assert as_user(client, users, "member").get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert LayerVersion.objects.get().deleted_at is not None
    assert client.post(url).status_code == 404  # gone already


def test_the_configuration_tab_shows_and_saves_a_functions_layers(client, users, make_function, mylib):
    fn = make_function()
    other = layers.publish(fn.team, "other", zip_of({"python/o.py": ""}))
    member = as_user(client, users, "member")
    tab = member.get(reverse("fn-detail", args=[fn.id]) + "?tab=configuration").content.decode()
    assert "No layers." in tab and "mylib:1 (my lib)" in tab
    resp = member.post(reverse("fn-layers", args=[fn.id]),
                       {"layer_1": layers.arn_of(other), "layer_2": layers.arn_of(mylib)}, **HX)
    assert resp.status_code == 200 and "Saved the layers (2 layers)." in resp.content.decode()
    fn.refresh_from_db()
    assert fn.layers == [layers.arn_of(other), layers.arn_of(mylib)]


def test_two_versions_of_one_layer_are_refused_and_nothing_changes(client, users, make_function, mylib):
    fn = make_function()
    second = layers.publish(fn.team, "mylib", zip_of({"python/mylib.py": "X = 2\n"}))
    chosen = {"layer_1": layers.arn_of(mylib), "layer_2": layers.arn_of(second)}
    resp = as_user(client, users, "member").post(reverse("fn-layers", args=[fn.id]), chosen, **HX)
    assert "Two different versions of the same layer" in resp.content.decode()
    fn.refresh_from_db()
    assert fn.layers == []


def test_a_deleted_layer_stays_selected_on_the_function(client, users, make_function, mylib):
    fn = make_function(layers=[layers.arn_of(mylib)])
    layers.delete_version(fn.team, "mylib", 1)
    tab = as_user(client, users, "member").get(reverse("fn-detail", args=[fn.id]) + "?tab=configuration")
    assert "mylib:1 (deleted)" in tab.content.decode()


def test_function_layers_answers_404_403_405(client, users, make_function):
    fn = make_function()
    url = reverse("fn-layers", args=[fn.id])
    assert as_user(client, users, "outsider").post(url, {}).status_code == 404
    assert as_user(client, users, "reader").post(url, {}).status_code == 403
    assert as_user(client, users, "member").get(url).status_code == 405
