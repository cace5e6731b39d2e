"""Route templates, matching precedence, and conflicts in the form."""

from types import SimpleNamespace

import pytest

from triggers import route_paths
from triggers.forms import RouteForm
from triggers.models import HttpRoute


def R(method, path):
    return SimpleNamespace(method=method, path=path)


@pytest.mark.parametrize("template,path,params", [
    ("/users/{id}", "/users/42", {"id": "42"}),
    ("/users/{id}", "/users/42/", {"id": "42"}),
    ("/", "/", {}),
    ("/files/{proxy+}", "/files/a/b/c.txt", {"proxy": "a/b/c.txt"}),
    ("/a/{x}/b/{y}", "/a/1/b/2", {"x": "1", "y": "2"}),
])
def test_it_matches_templates(template, path, params):
    assert route_paths.match(template, path)[1] == params


@pytest.mark.parametrize("template,path", [
    ("/users/{id}", "/users"),
    ("/users/{id}", "/users/1/2"),
    ("/files/{proxy+}", "/files"),
    ("/files/{proxy+}", "/files/"),
    ("/", "/x"),
    ("/a", "/b"),
])
def test_it_does_not_match(template, path):
    assert route_paths.match(template, path) is None


@pytest.mark.parametrize("template,message", [
    ("users", "start with /"),
    ("/a//b", "empty segment"),
    ("/files/{proxy+}/x", "last segment"),
    ("/a/{id}/b/{id}", "appears twice"),
    ("/a/x{id}", "whole segment"),
    ("/a/b c", "characters"),
])
def test_it_refuses_bad_templates(template, message):
    with pytest.raises(route_paths.PathError, match=message):
        route_paths.parse(template)


def test_it_prefers_exact_then_param_then_greedy():
    routes = [
        R("GET", "/{proxy+}"), R("GET", "/users/{id}"), R("GET", "/users/me"),
        R("GET", "/users/{proxy+}"),
    ]
    assert route_paths.best_match(routes, "GET", "/users/me")[0].path == "/users/me"
    assert route_paths.best_match(routes, "GET", "/users/7")[0].path == "/users/{id}"
    assert route_paths.best_match(routes, "GET", "/users/7/x")[0].path == "/users/{proxy+}"
    assert route_paths.best_match(routes, "GET", "/other/x")[0].path == "/{proxy+}"


def test_it_prefers_the_method_over_any():
    routes = [R("ANY", "/x"), R("POST", "/x")]
    assert route_paths.best_match(routes, "POST", "/x")[0].method == "POST"
    assert route_paths.best_match(routes, "GET", "/x")[0].method == "ANY"
    assert route_paths.best_match([R("POST", "/x")], "GET", "/x") is None


def test_it_normalizes_parameter_names_away():
    assert route_paths.normalize("/users/{id}") == route_paths.normalize("/users/{uid}")
    assert route_paths.normalize("/f/{p+}") == "/f/{+}"


def _form(**data):
    base = {"method": "GET", "path": "/users/{id}", "auth": "none", "priority": "normal"}
    base.update(data)
    return RouteForm(base)


def test_it_refuses_a_conflicting_route_globally(make_function):
    # Any function's route counts: the /http/ prefix is shared by all.
    HttpRoute.objects.create(function=make_function(name="first"), method="GET", path="/users/{id}")
    form = _form(path="/users/{uid}")
    assert not form.is_valid()
    assert "conflicts with the route GET /users/{id}" in form.errors["path"][0]


def test_it_allows_the_same_path_for_another_method_or_any(make_function):
    HttpRoute.objects.create(function=make_function(), method="GET", path="/users/{id}")
    assert _form(method="POST").is_valid()
    assert _form(method="ANY").is_valid()


def test_it_refuses_bad_cors_settings(db):
    form = _form(cors_allow_origins="*", cors_allow_credentials="on", cors_allow_methods="FETCH")
    assert not form.is_valid()
    assert "FETCH is not an HTTP method" in form.errors["cors_allow_methods"][0]
    assert "not an origin" in _form(cors_allow_origins="example.com").errors["cors_allow_origins"][0]
    assert "any origin" in _form(cors_allow_origins="*", cors_allow_credentials="on").errors[
        "cors_allow_credentials"][0]


def test_it_stores_api_keys_hashed(make_function):
    route = HttpRoute(function=make_function(), method="GET", path="/k")
    key = route.issue_api_key()
    route.save()
    route.refresh_from_db()
    assert key not in route.api_key_hash
    assert route.api_key_matches(key)
    assert not route.api_key_matches(key + "x")
    assert not route.api_key_matches(None)
