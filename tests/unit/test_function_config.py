"""Lambda's newer configuration fields, tags and function URL rules
(functions.service, functions.lambda_shapes, functions.function_urls) and
the Configuration tab's URL and tags views (functions.url_tag_views)."""

import platform

import pytest
from django.urls import reverse

from functions import function_urls, lambda_shapes, service
from functions.models import Alias, FunctionUrlConfig

HX = {"HTTP_HX_REQUEST": "true"}
OTHER = "arm64" if service.host_architecture() == "x86_64" else "x86_64"


def test_it_refuses_an_architecture_the_host_cannot_run():
    assert service.clean_architectures([service.host_architecture()]) == [service.host_architecture()]
    with pytest.raises(service.FunctionError) as e:
        service.clean_architectures([OTHER])
    assert platform.machine() in str(e.value) and e.value.field == "architectures"
    for bad in ([], ["x86_64", "arm64"], ["sparc"], "x86_64"):
        with pytest.raises(service.FunctionError):
            service.clean_architectures(bad)


@pytest.mark.parametrize("size, ok", [
    (512, True), (10240, True), (511, False), (10241, False), (True, False),
])
def test_it_checks_ephemeral_storage(size, ok):
    if ok:
        assert service.clean_ephemeral_storage(size) == size
    else:
        with pytest.raises(service.FunctionError):
            service.clean_ephemeral_storage(size)


def test_logging_config_merges_and_refuses_levels_with_text():
    stored = service.clean_logging_config({"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    assert stored == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
    assert service.clean_logging_config({"SystemLogLevel": "WARN"}, stored) == {
        "LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"}
    # Back to Text: the stored levels go; levels given with Text are refused.
    assert service.clean_logging_config({"LogFormat": "Text"}, stored) == {"LogFormat": "Text"}
    for bad in ({"LogFormat": "Text", "ApplicationLogLevel": "INFO"}, {"LogFormat": "XML"},
                {"LogFormat": "JSON", "SystemLogLevel": "ERROR"}, {"LogGroup": "no spaces allowed"},
                {"Colour": "red"}, "JSON"):
        with pytest.raises(service.FunctionError):
            service.clean_logging_config(bad, stored)


def test_tags_follow_lambdas_limits():
    assert service.clean_tags({"a": "", "b c": "d:e/f"}) == {"a": "", "b c": "d:e/f"}
    for bad in ({"aws:x": "1"}, {"": "1"}, {"k" * 129: "1"}, {"k": "v" * 257}, {"k": 1}, ["k"]):
        with pytest.raises(service.FunctionError):
            service.clean_tags(bad)
    full = {f"k{i}": "v" for i in range(50)}
    assert len(service.clean_tags(full)) == 50
    with pytest.raises(service.FunctionError) as e:
        service.clean_tags({"one": "more"}, full)
    assert "50" in str(e.value)


def test_the_configuration_shape_has_lambdas_defaults(make_function):
    fn = make_function()
    shape = lambda_shapes.function_configuration(fn)
    assert shape["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"}
    assert shape["TracingConfig"] == {"Mode": "PassThrough"} and shape["EphemeralStorage"] == {"Size": 512}
    assert shape["Architectures"] == ["x86_64"] and shape["Environment"] == {"Variables": {}}
    assert "Layers" not in shape and "StateReason" not in shape and "LastUpdateStatusReason" not in shape
    fn.logging_config = {"LogFormat": "JSON"}
    fn.state, fn.state_reason, fn.state_reason_code = "Pending", "Installing", "Creating"
    shape = lambda_shapes.function_configuration(fn)
    assert shape["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                      "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/hello"}
    assert (shape["State"], shape["StateReason"], shape["StateReasonCode"]) == (
        "Pending", "Installing", "Creating")


def test_create_stores_the_new_settings_and_refuses_bad_ones_whole(make_function, team):
    fn = make_function(ephemeral_storage_mb=2048, tracing_mode="Active", tags={"a": "b"},
                       logging_config={"LogFormat": "JSON"})
    fn.refresh_from_db()
    assert (fn.ephemeral_storage_mb, fn.tracing_mode, fn.tags) == (2048, "Active", {"a": "b"})
    with pytest.raises(service.FunctionError):
        make_function(name="other", architectures=[OTHER])
    assert not fn.team.functions.filter(name="other").exists()
    revision = fn.revision
    with pytest.raises(service.FunctionError):
        service.update_configuration(fn, description="changed", ephemeral_storage_mb=99)
    fn.refresh_from_db()
    assert fn.revision == revision and fn.description == ""


def test_function_url_rules(make_function):
    fn = make_function()
    config = function_urls.create(fn, auth_type="NONE", cors={"AllowMethods": ["get"], "MaxAge": 5})
    assert config.cors == {"AllowMethods": ["GET"], "MaxAge": 5} and len(config.url_id) == 32
    assert function_urls.url_of(config, "http://h:1") == f"http://h:1/lambda-url/{config.url_id}/"
    with pytest.raises(function_urls.UrlExists):
        function_urls.create(fn, auth_type="NONE")
    with pytest.raises(function_urls.QualifierMissing):
        function_urls.create(fn, qualifier="nope", auth_type="NONE")
    for bad in ({"auth_type": "KEY"}, {"invoke_mode": "RESPONSE_STREAM"}, {"cors": {"MaxAge": 86401}},
                {"cors": {"AllowHeaders": ["bad header"]}}, {"cors": {"AllowOrigins": ["example.com"]}}):
        with pytest.raises(function_urls.FunctionUrlError):
            function_urls.update(config, **bad)
    config.refresh_from_db()
    assert (config.auth_type, config.cors) == ("NONE", {"AllowMethods": ["GET"], "MaxAge": 5})
    Alias.objects.create(function=fn, name="live", function_version="$LATEST")
    assert function_urls.create(fn, qualifier="live", auth_type="AWS_IAM").qualifier == "live"
    with pytest.raises(function_urls.FunctionUrlError):
        function_urls.create(fn, qualifier="3", auth_type="NONE")
    # Deleting the alias deletes its URL; the function's own stays.
    Alias.objects.get(function=fn, name="live").delete()
    assert list(FunctionUrlConfig.objects.filter(function=fn).values_list("qualifier", flat=True)) == [""]


# The console's sections --------------------------------------------------------


@pytest.fixture
def fn(make_function):
    return make_function()


def test_it_creates_saves_and_deletes_the_url_from_the_console(client, users, fn):
    client.force_login(users["member"])
    page = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=configuration")
    assert b"Create function URL" in page.content and b"No tags." in page.content
    answer = client.post(reverse("fn-url-save", args=[fn.id]),
                         {"auth_type": "NONE", "allow_origins": "https://a.example, *", "max_age": "9"}, **HX)
    config = FunctionUrlConfig.objects.get(function=fn)
    assert config.cors == {"AllowOrigins": ["https://a.example", "*"], "MaxAge": 9}
    assert f"http://testserver/lambda-url/{config.url_id}/".encode() in answer.content
    bad = client.post(reverse("fn-url-save", args=[fn.id]),
                      {"auth_type": "NONE", "allow_methods": "FETCH"}, **HX)
    assert bad.status_code == 200 and b"FETCH" in bad.content
    config.refresh_from_db()
    assert config.cors["MaxAge"] == 9
    client.post(reverse("fn-url-delete", args=[fn.id]), **HX)
    assert not FunctionUrlConfig.objects.filter(function=fn).exists()


def test_it_edits_tags_from_the_console(client, users, fn):
    client.force_login(users["owner"])
    answer = client.post(reverse("fn-tags", args=[fn.id]), {"tags": "team=web\nenv = dev\n"}, **HX)
    fn.refresh_from_db()
    assert fn.tags == {"team": "web", "env": "dev"} and b"Saved the tags." in answer.content
    bad = client.post(reverse("fn-tags", args=[fn.id]), {"tags": "aws:x=1"}, **HX)
    assert b"aws:" in bad.content
    fn.refresh_from_db()
    assert fn.tags == {"team": "web", "env": "dev"}
    client.post(reverse("fn-tags", args=[fn.id]), {"tags": ""}, **HX)
    fn.refresh_from_db()
    assert fn.tags == {}


@pytest.mark.parametrize("name", ["fn-url-save", "fn-url-delete", "fn-tags"])
def test_the_sections_answer_403_404_405(client, users, fn, name):
    url = reverse(name, args=[fn.id])
    client.force_login(users["reader"])
    assert client.post(url, {"auth_type": "NONE", "tags": "a=b"}).status_code == 403
    client.force_login(users["outsider"])
    assert client.post(url, {"auth_type": "NONE", "tags": "a=b"}).status_code == 404
    client.force_login(users["member"])
    assert client.get(url).status_code == 405
    fn.refresh_from_db()
    assert fn.tags == {} and not FunctionUrlConfig.objects.filter(function=fn).exists()


def test_of_two_writes_with_the_same_revision_id_only_one_is_made(make_function):
    from functions.models import Function

    fn = make_function()
    read = str(fn.revision)
    # Two callers hold copies read at the same revision.
    first, second = Function.objects.get(pk=fn.pk), Function.objects.get(pk=fn.pk)
    service.update_configuration(first, expected_revision=read, description="first")
    with pytest.raises(service.RevisionChanged):
        service.update_configuration(second, expected_revision=read, description="second")
    with pytest.raises(service.RevisionChanged):
        service.update_code(Function.objects.get(pk=fn.pk), second.code.zip_path.read_bytes(),
                            expected_revision="not-a-uuid")
    stored = Function.objects.get(pk=fn.pk)
    assert stored.description == "first" and stored.revision == first.revision
