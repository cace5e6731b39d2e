"""functions.layers: publishing and deleting layer versions, a function's
Layers resolved and validated in one place, and the layers' content as an
environment gets it."""

import pytest

from functions import code as codestore
from functions import layers, service
from functions.models import LayerVersion, Team
from tests.integration.helpers import zip_of


@pytest.fixture
def mylib(team):
    return layers.publish(team, "mylib", zip_of({"python/mylib.py": "X = 1\n"}),
                          compatible_runtimes=["python3.11"], description="my library")


def test_it_numbers_versions_and_never_reuses_one_after_a_delete(team):
    first = layers.publish(team, "lib", zip_of({"python/a.py": "A = 1\n"}))
    second = layers.publish(team, "lib", zip_of({"python/a.py": "A = 2\n"}))
    assert (first.version, second.version) == (1, 2)
    assert layers.delete_version(team, "lib", 2) is True
    third = layers.publish(team, "lib", zip_of({"python/a.py": "A = 3\n"}))
    assert third.version == 3
    assert layers.arn_of(third) == f"arn:aws:lambda:us-east-1:{team.account_id}:layer:lib:3"


def test_it_stores_the_zip_as_a_code_bundle_with_its_files(mylib):
    assert mylib.content.zip_path.exists()
    assert (mylib.content.files_dir / "python" / "mylib.py").read_text() == "X = 1\n"


@pytest.mark.parametrize("name, zip_bytes, words", [
    ("bad name!", None, "not valid"),
    ("x" * 141, None, "not valid"),
    ("ok", b"not a zip", "not a valid zip"),
    ("ok", zip_of({"../evil.py": "x"}), "outside"),
])
def test_it_refuses_a_bad_publish_and_stores_nothing(team, name, zip_bytes, words):
    with pytest.raises(layers.LayerError, match=words):
        layers.publish(team, name, zip_bytes or zip_of({"a.txt": "a"}))
    assert not LayerVersion.objects.exists()


def test_it_refuses_unknown_runtimes_and_architectures(team):
    with pytest.raises(layers.LayerError, match="python9"):
        layers.publish(team, "l", zip_of({"a": "a"}), compatible_runtimes=["python9"])
    with pytest.raises(layers.LayerError, match="sparc"):
        layers.publish(team, "l", zip_of({"a": "a"}), compatible_architectures=["sparc"])
    assert not LayerVersion.objects.exists()


def test_a_deleted_version_is_not_found_but_its_content_stays(team, mylib):
    layers.delete_version(team, "mylib", 1)
    with pytest.raises(layers.LayerNotFound):
        layers.get_version(team, "mylib", 1)
    assert layers.list_versions(team, "mylib") == []
    assert layers.list_latest(team) == []
    assert mylib.content.files_dir.exists()
    assert layers.delete_version(team, "mylib", 1) is False  # again: no error


def test_it_lists_the_latest_matching_version_per_layer(team):
    layers.publish(team, "b", zip_of({"a": "1"}), compatible_runtimes=["python3.11"])
    layers.publish(team, "b", zip_of({"a": "2"}), compatible_runtimes=["nodejs20.x"])
    layers.publish(team, "a", zip_of({"a": "3"}), compatible_architectures=["arm64"])
    assert [(layer.name, lv.version) for layer, lv in layers.list_latest(team)] == [("a", 1), ("b", 2)]
    assert [(layer.name, lv.version) for layer, lv in layers.list_latest(team, runtime="python3.11")] == [
        ("b", 1)
    ]
    assert [layer.name for layer, _ in layers.list_latest(team, architecture="arm64")] == ["a"]
    assert [lv.version for lv in layers.list_versions(team, "b")] == [2, 1]


def test_another_accounts_layer_arn_is_refused(team, mylib):
    other = Team.objects.create(name="other")
    arn = layers.arn_of(mylib)
    with pytest.raises(layers.LayerAccessDenied, match="another account"):
        layers.get_by_arn(other, arn)
    with pytest.raises(layers.LayerAccessDenied):
        layers.resolve(other, [arn])


# A function's Layers -------------------------------------------------------------


def test_it_resolves_a_functions_layers_in_order(team, mylib):
    other = layers.publish(team, "other", zip_of({"python/o.py": ""}))
    arns = [layers.arn_of(other), layers.arn_of(mylib)]
    assert layers.resolve(team, arns) == arns
    assert layers.resolve(team, None) == [] and layers.resolve(team, []) == []


def test_it_refuses_more_than_five_layers(team):
    arns = [layers.arn_of(layers.publish(team, f"l{i}", zip_of({f"f{i}": "x"}))) for i in range(6)]
    with pytest.raises(layers.LayerError, match="Cannot reference more than 5 layers"):
        layers.resolve(team, arns)


def test_it_refuses_a_missing_or_deleted_version_with_lambdas_words(team, mylib):
    missing = layers.version_arn(team.account_id, "mylib", 7)
    with pytest.raises(layers.LayerError, match=f"Layer version {missing} does not exist"):
        layers.resolve(team, [missing])
    layers.delete_version(team, "mylib", 1)
    with pytest.raises(layers.LayerError, match="does not exist"):
        layers.resolve(team, [layers.arn_of(mylib)])


def test_it_refuses_two_versions_of_one_layer_and_no_arns(team, mylib):
    second = layers.publish(team, "mylib", zip_of({"python/mylib.py": "X = 2\n"}))
    with pytest.raises(layers.LayerError, match="Two different versions of the same layer"):
        layers.resolve(team, [layers.arn_of(mylib), layers.arn_of(second)])
    with pytest.raises(layers.LayerError, match="not a layer version ARN"):
        layers.resolve(team, ["mylib"])
    with pytest.raises(layers.LayerError, match="list of layer version ARNs"):
        layers.resolve(team, "arn")


def test_code_and_layers_together_stay_under_250_mb(team, mylib, monkeypatch):
    arn = layers.arn_of(mylib)
    limit = layers.MAX_TOTAL_UNZIPPED
    layers.resolve(team, [arn], code_unzipped=limit - mylib.content.unzipped_size)
    words = (f"Function code combined with layers exceeds the maximum allowed size of {limit} bytes. "
             f"The actual size is {limit + 1} bytes.")
    with pytest.raises(layers.LayerError, match=words):
        layers.resolve(team, [arn], code_unzipped=limit - mylib.content.unzipped_size + 1)


def test_create_and_update_keep_the_layers_and_a_change_is_a_new_revision(team, make_function, mylib):
    arn = layers.arn_of(mylib)
    fn = make_function(layers=[arn])
    assert fn.layers == [arn]
    before = fn.revision
    service.update_configuration(fn, memory_mb=256)
    assert fn.layers == [arn]  # None leaves them alone
    service.update_configuration(fn, layers=[])
    fn.refresh_from_db()
    assert fn.layers == [] and fn.revision != before


def test_a_refused_layer_change_leaves_the_function_as_it_was(team, make_function, mylib):
    fn = make_function(layers=[layers.arn_of(mylib)])
    revision = fn.revision
    with pytest.raises(service.FunctionError, match="does not exist"):
        missing = layers.version_arn(team.account_id, "nope", 1)
        service.update_configuration(fn, memory_mb=512, layers=[missing])
    fn.refresh_from_db()
    assert fn.layers == [layers.arn_of(mylib)] and fn.memory_mb == 128 and fn.revision == revision


def test_another_accounts_layer_is_access_denied_for_a_function(make_function, mylib):
    other = Team.objects.create(name="other")
    with pytest.raises(service.LayerAccessDenied):
        service.create_function(other, name="f", handler="lambda_function.lambda_handler",
                                zip_bytes=codestore.zip_single_file("lambda_function.py", "x = 1\n"),
                                layers=[layers.arn_of(mylib)])


def test_new_code_must_fit_beside_the_layers(team, make_function, mylib, monkeypatch):
    fn = make_function(layers=[layers.arn_of(mylib)])
    monkeypatch.setattr(layers, "MAX_TOTAL_UNZIPPED", mylib.content.unzipped_size + 10)
    with pytest.raises(service.FunctionError, match="combined with layers"):
        service.update_code(fn, codestore.zip_single_file("lambda_function.py", "x = 1  # longer than ten\n"))


def test_a_function_keeps_a_deleted_layers_content_and_shape(team, make_function, mylib):
    arn = layers.arn_of(mylib)
    fn = make_function(layers=[arn])
    layers.delete_version(team, "mylib", 1)
    assert layers.layers_shape(fn) == [{"Arn": arn, "CodeSize": mylib.content.size}]
    assert layers.content_dirs(fn) == [str(mylib.content.files_dir)]
    assert layers.users(mylib) == ["hello"]


def test_the_runtime_variables_put_opt_on_the_paths_as_lambda():
    py = layers.runtime_environment("python3.11")
    assert py["PATH"].endswith(":/opt/bin") and py["LD_LIBRARY_PATH"].endswith(":/opt/lib")
    assert "NODE_PATH" not in py
    node = layers.runtime_environment("nodejs20.x")
    assert node["NODE_PATH"].startswith("/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:")


def test_the_pool_hands_an_environment_the_layers_and_lambdas_paths(make_function, mylib):
    from invocations import pool

    fn = make_function(layers=[layers.arn_of(mylib)], environment={"PATH": "/mine"})
    config = pool._config(fn)
    assert config.layer_dirs == [str(mylib.content.files_dir)]
    assert config.env_vars["PATH"] == "/mine"  # the function's own variable wins
    assert config.env_vars["LD_LIBRARY_PATH"].endswith(":/opt/lib")
    assert pool._config(make_function("plain")).layer_dirs == []
