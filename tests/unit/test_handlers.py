"""functions.handlers: whether a handler loads from the code, per runtime."""

import pytest

from functions import code as codestore
from functions import handlers, service
from functions.code import CodeError
from tests.integration.helpers import zip_of


def checked(files: dict[str, str]):
    return codestore.check_zip(zip_of(files))


@pytest.mark.parametrize("files,handler", [
    ({"index.mjs": "export const handler = async () => 1;"}, "index.handler"),
    ({"index.mjs": "export async function handler() {}"}, "index.handler"),
    ({"index.js": "exports.handler = (e, c, cb) => cb(null, 1);"}, "index.handler"),
    ({"app.cjs": "module.exports = { main };\nfunction main() {}"}, "app.main"),
    ({"src/app.js": "module.exports.run = () => 1;"}, "src/app.run"),
    ({"index.mjs": "const handler = 1;\nexport { handler };"}, "index.handler"),
])
def test_node_handlers_that_load(files, handler):
    handlers.check(checked(files), handler, "nodejs22.x")


@pytest.mark.parametrize("files,handler,message", [
    ({"index.mjs": "export const other = 1;"}, "index.handler", "'handler' is not exported by index.mjs"),
    ({"main.js": "exports.handler = 1;"}, "index.handler", "expected index.js, index.mjs or index.cjs"),
    ({"index.js": "exports.handler = 1;"}, "index", "must look like file.function"),
])
def test_node_handlers_that_do_not(files, handler, message):
    with pytest.raises(CodeError, match=message):
        handlers.check(checked(files), handler, "nodejs20.x")


def test_python_runtimes_keep_the_python_check():
    with pytest.raises(CodeError, match="not defined in app.py"):
        handlers.check(checked({"app.py": "def other(e, c): pass\n"}), "app.handler", "python3.13")
    # A Node file does not satisfy a Python runtime.
    with pytest.raises(CodeError, match="expected app.py"):
        handlers.check(checked({"app.js": "exports.handler = 1;"}), "app.handler", "python3.11")


def test_handler_files_per_runtime():
    assert handlers.handler_files("index.handler", "nodejs22.x") == {"index.js", "index.mjs", "index.cjs"}
    assert handlers.handler_files("lib/a.b", "nodejs20.x") == {"lib/a.js", "lib/a.mjs", "lib/a.cjs"}
    assert handlers.handler_files("pkg.mod.fn", "python3.13") == {"pkg/mod.py", "pkg/mod/__init__.py"}
    assert handlers.handler_files("anything", "provided.al2023") == {"bootstrap"}


def test_the_console_warning_follows_the_functions_runtime(team):
    code = codestore.zip_single_file("index.mjs", "export const handler = async () => 1;\n")
    fn = service.create_function(
        team, name="n", zip_bytes=code, handler="index.handler", runtime="nodejs22.x"
    )
    assert service.handler_problem(fn) is None
    assert fn.editable_file == "index.mjs"
    fn = service.create_function(
        team, name="p", zip_bytes=code, handler="index.handler", runtime="python3.13"
    )
    assert "expected index.py" in service.handler_problem(fn)


def test_an_unoffered_runtime_is_refused(team):
    code = codestore.zip_single_file("index.mjs", "export const handler = 1;\n")
    with pytest.raises(service.FunctionError, match="nodejs22.x"):
        service.create_function(team, name="q", zip_bytes=code, handler="index.handler", runtime="nodejs8.10")
