import pytest

from functions import code as codestore
from functions import service
from functions.models import Function
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


def test_it_stores_a_handler_the_code_lacks_and_says_why_it_will_not_load(team):
    # Lambda takes it: the invoke fails with Runtime.ImportModuleError /
    # Runtime.HandlerNotFound (the bootstrap's); the console warns.
    zip_bytes = codestore.zip_single_file("app.py", "def other(e, c): pass\n")
    fn = service.create_function(team, name="x", zip_bytes=zip_bytes, handler="app.handler")
    assert "'handler' is not defined in app.py" in service.handler_problem(fn)
    service.update_configuration(fn, handler="missing.handler")
    fn.refresh_from_db()
    assert fn.handler == "missing.handler"
    assert "module 'missing' is not in the code" in service.handler_problem(fn)
    service.update_configuration(fn, handler="app.other")
    assert service.handler_problem(fn) is None


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


# Type and range, for every caller ----------------------------------------------


@pytest.mark.parametrize("name", ["hello\n", "\nhello", "hel\x00lo", 5, None, ["hello"]])
def test_it_rejects_a_name_that_only_looks_right(make_function, name):
    with pytest.raises(FunctionError, match="1 to 64 letters"):
        make_function(name=name)
    assert not Function.objects.exists()


@pytest.mark.parametrize("value", [True, False, 256.0, float("inf"), float("nan"), "256", None, [256]])
def test_memory_and_timeout_must_be_whole_numbers(make_function, value):
    with pytest.raises(FunctionError, match="must be a whole number") as e:
        make_function(memory_mb=value)
    assert e.value.field == "memory_mb"
    with pytest.raises(FunctionError, match="must be a whole number"):
        make_function(timeout_s=value)
    assert not Function.objects.exists()


@pytest.mark.parametrize("env,message", [
    ({"GREETING": "hi\x00there"}, "must not contain NUL"),
    ({"GREETING": "\ud800"}, "unpaired surrogate"),
    ({"A": "1"}, "at least two"),
    ({"HI\n": "1"}, "is not valid"),
    ({"OK": ["x"]}, "must be text, not a list"),
    ({"OK": None}, "must be text, not null"),
    ("A=1", "must be a map"),
])
def test_it_rejects_environment_a_process_could_not_hold(make_function, env, message):
    with pytest.raises(FunctionError, match=message):
        make_function(environment=env)
    assert not Function.objects.exists()


def test_the_4_kb_limit_counts_utf8_bytes(make_function):
    fn = make_function(environment={"BIG": "x" * 4000})
    assert fn.environment["BIG"] == "x" * 4000
    with pytest.raises(FunctionError, match="limit is 4 KB"):
        make_function("other", environment={"BIG": "é" * 2100})


@pytest.mark.parametrize("role", [
    {"a": 1}, ["arn"], 7, "arn:aws:iam::1:role/x", "arn:aws:iam::123456789012:role/x\n",
    "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x", "arn:aws:iam::123456789012:role/" + "x" * 2100,
])
def test_it_rejects_a_role_that_is_not_an_iam_role_arn(make_function, role):
    with pytest.raises(FunctionError) as e:
        make_function(role=role)
    assert e.value.field == "role"
    assert not Function.objects.exists()


def test_it_keeps_a_good_role_and_allows_none(make_function):
    assert make_function(role="arn:aws:iam::123456789012:role/service-role/x").role.endswith("/x")
    assert make_function("other", role=None).role == ""


@pytest.mark.parametrize("field,value,message", [
    ("description", "x" * 257, "257 characters long; the limit is 256"),
    ("description", ["x"], "must be text, not a list"),
    ("description", 0, "must be text, not a number"),
    ("handler", "lambda_function.lambda_handler\n", "module.function"),
    ("handler", "a" * 129, "at most 128"),
    ("handler", {"h": 1}, "must be text, not a map"),
    ("runtime", ["python3.11"], "must be text, not a list"),
    ("runtime", "python3.11\n", "is not supported"),
])
def test_it_rejects_text_settings_by_type_and_length(make_function, field, value, message):
    with pytest.raises(FunctionError, match=message) as e:
        make_function(**{field: value})
    assert e.value.field == field
    assert not Function.objects.exists()


def test_it_refuses_code_that_is_not_bytes(team):
    with pytest.raises(FunctionError, match="bytes of a zip") as e:
        service.create_function(team, name="x", zip_bytes="PK..", handler="a.b")
    assert e.value.field == "code"


def test_parse_env_lines_refuses_a_name_given_twice():
    with pytest.raises(FunctionError, match="Line 3 of the environment sets \"AA\" again"):
        service.parse_env_lines("AA=1\nBB=2\nAA=3")


def test_a_configuration_change_of_a_deleted_function_does_not_bring_it_back(make_function):
    fn = make_function()
    Function.objects.filter(pk=fn.pk).delete()
    with pytest.raises(service.FunctionGone):
        service.update_configuration(fn, memory_mb=256)
    with pytest.raises(service.FunctionGone):
        service.update_code(fn, codestore.zip_single_file(
            "lambda_function.py", "def lambda_handler(e, c):\n    return 3\n"))
    assert not Function.objects.exists()


def test_a_missing_stored_zip_is_a_handler_problem(make_function):
    fn = make_function()
    fn.code.zip_path.unlink()
    assert "stored code is missing" in service.handler_problem(fn)


def test_unknown_settings_are_a_programming_error(make_function):
    with pytest.raises(TypeError, match="colour"):
        service.update_configuration(make_function(), colour="red")
