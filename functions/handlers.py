"""Whether a function's handler can load from its code, per runtime: the
console's warning (service.handler_problem). Lambda stores any handler;
these checks only say early what the invoke would fail with.

- python3.x: ``module.function`` (functions.code.check_handler: the module
  file, its syntax, the name at its top level).
- nodejs*: ``[dir/]file.export[.nested]`` as Lambda's Node runtime splits
  it (the file part ends at the first dot after the last slash); the file
  is ``file.js``, ``file.mjs`` or ``file.cjs`` (tried in that order, as the
  runtime does) and must mention the export's name in an export form.
- provided.*: the handler is free text; the code must hold an executable
  ``bootstrap`` (functions.code.check_bootstrap).
"""

from __future__ import annotations

import io
import re
import zipfile

from functions import code as codestore
from functions.code import CheckedZip, CodeError

NODE_EXTENSIONS = (".js", ".mjs", ".cjs")
_NODE_HANDLER_RE = re.compile(r"^([^.]+)\.(.+)$")


def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


def is_python(runtime: str) -> bool:
    return runtime.startswith("python")


def is_custom(runtime: str) -> bool:
    """An OS-only runtime (provided.al2023): the code's `bootstrap` runs,
    and the handler is any text it reads from _HANDLER (Lambda checks
    nothing more than its pattern)."""
    return runtime.startswith("provided")


def node_parts(handler: str) -> tuple[str, str, str]:
    """(folder, file, export path) of a Node handler; CodeError when it has
    no ``file.export`` form (Lambda: Runtime.MalformedHandlerName)."""
    folder, _, rest = handler.rpartition("/")
    match = _NODE_HANDLER_RE.match(rest)
    if not match:
        raise CodeError(
            f"The handler {handler!r} must look like file.function (index.handler): "
            "the file's name without its extension, a dot, the exported function."
        )
    return folder, match.group(1), match.group(2)


def handler_files(handler: str, runtime: str = "python3.11") -> set[str]:
    """The files that can hold the handler's code (what the console keeps
    from being deleted)."""
    if is_node(runtime):
        try:
            folder, name, _ = node_parts(handler)
        except CodeError:
            return set()
        prefix = f"{folder}/" if folder else ""
        return {f"{prefix}{name}{ext}" for ext in NODE_EXTENSIONS}
    if is_custom(runtime):
        return {"bootstrap"}
    if not is_python(runtime):
        return set()
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    path = module.replace(".", "/")
    return {f"{path}.py", f"{path}/__init__.py"}


def _exports(source: str, name: str) -> bool:
    """Whether the source exports `name` in one of the usual forms, or
    assigns module.exports whole (which a text check cannot see into)."""
    n = re.escape(name)
    forms = [
        rf"\bexports\.{n}\s*=",
        rf"\bexports\[\s*['\"]{n}['\"]\s*\]\s*=",
        rf"\bexport\s+(?:async\s+)?function\s*\*?\s*{n}\b",
        rf"\bexport\s+(?:const|let|var|class)\s+{n}\b",
        rf"\bexport\s*\{{[^}}]*\b{n}\b[^}}]*\}}",
        r"\bmodule\.exports\s*=",
    ]
    return any(re.search(form, source) for form in forms)


def check_node_handler(checked: CheckedZip, handler: str) -> None:
    """CodeError when the Node handler's file is not in the code or does not
    export the function."""
    folder, name, export = node_parts(handler)
    prefix = f"{folder}/" if folder else ""
    candidates = [f"{prefix}{name}{ext}" for ext in NODE_EXTENSIONS]
    found = next((c for c in candidates if c in checked.raw), None)
    if found is None:
        raise CodeError(
            f"The handler file {prefix}{name} is not in the code: expected "
            f"{candidates[0]}, {candidates[1]} or {candidates[2]}."
        )
    with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
        source = zf.read(checked.raw[found]).decode("utf-8", "replace")
    first = export.split(".", 1)[0]
    if not _exports(source, first):
        raise CodeError(f"The handler function {first!r} is not exported by {found}.")


def check(checked: CheckedZip, handler: str, runtime: str) -> None:
    """The runtime's check of `handler` against the code (CodeError says
    what is wrong)."""
    if is_node(runtime):
        check_node_handler(checked, handler)
    elif is_custom(runtime):
        codestore.check_bootstrap(checked)
    elif is_python(runtime):
        codestore.check_handler(checked, handler)
