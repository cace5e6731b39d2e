import pytest

from functions import code as codestore
from functions import service
from functions.models import CodeBundle, Function
from functions.service import FunctionError, NameTaken


def test_it_creates_a_function_with_defaults(make_function):
    fn = make_function()
    assert (fn.memory_mb, fn.timeout_s, fn.runtime) == (128, 3, "python3.11")
    assert fn.editable_file == "lambda_function.py"
    assert fn.arn.endswith(":function:hello")


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "semi;colon", "ünï"])
def test_it_rejects_a_bad_name(make_function, name):
    with pytest.raises(FunctionError, match="1 to 64 letters"):
        make_function(name=name)
    assert not Function.objects.exists()


@pytest.mark.parametrize("memory", [127, 10241, "lots"])
def test_it_rejects_bad_memory(make_function, memory):
    with pytest.raises(FunctionError) as e:
        make_function(memory_mb=memory)
    assert e.value.field == "memory_mb"


@pytest.mark.parametrize("timeout", [0, 901, "soon"])
def test_it_rejects_a_bad_timeout(make_function, timeout):
    with pytest.raises(FunctionError) as e:
        make_function(timeout_s=timeout)
    assert e.value.field == "timeout_s"


def test_it_rejects_environment_over_4_kb(make_function):
    with pytest.raises(FunctionError, match="limit is 4 KB"):
        make_function(environment={"BIG": "x" * 5000})


@pytest.mark.parametrize("env", [{"1BAD": "x"}, {"AWS_REGION": "x"}, {"OK": 1}, ["A=1"]])
def test_it_rejects_bad_environment(make_function, env):
    with pytest.raises(FunctionError) as e:
        make_function(environment=env)
    assert e.value.field == "environment"


def test_it_refuses_a_duplicate_name_and_stores_nothing_more(make_function):
    make_function()
    with pytest.raises(NameTaken):
        make_function()
    assert Function.objects.count() == 1


def test_it_stores_no_code_when_the_handler_is_missing(team):
    zip_bytes = codestore.zip_single_file("app.py", "def other(e, c): pass\n")
    with pytest.raises(FunctionError, match="not defined"):
        service.create_function(team, name="x", zip_bytes=zip_bytes, handler="app.handler")
    assert not CodeBundle.objects.exists()


def test_it_updates_configuration_all_or_nothing(make_function):
    fn = make_function()
    with pytest.raises(FunctionError):
        service.update_configuration(fn, memory_mb=256, timeout_s=9999)
    fn.refresh_from_db()
    assert (fn.memory_mb, fn.timeout_s) == (128, 3)


def test_it_changes_the_revision_on_updates(make_function):
    fn = make_function()
    before = fn.revision
    service.update_configuration(fn, memory_mb=256)
    assert fn.revision != before
    after_config = fn.revision
    service.update_code(fn, codestore.zip_single_file(
        "lambda_function.py", "def lambda_handler(e, c):\n    return 2\n"))
    assert fn.revision != after_config


def test_it_parses_env_lines():
    assert service.parse_env_lines("A=1\n# comment\n\nB = two=2\n") == {"A": "1", "B": " two=2"}
    with pytest.raises(FunctionError, match="Line 1"):
        service.parse_env_lines("nope")
