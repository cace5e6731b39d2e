"""What the function page's Code tab shows: the bundle's file tree, the
file open in the editor (with its language for CodeMirror) and the forms.
functions.views renders it; static/js/editor.js enhances the textarea."""

import zipfile

from django.http import HttpRequest

from functions import code_files, dependencies, service
from functions.code import CodeError
from functions.forms import NewFileForm, SourceForm, UploadCodeForm
from functions.models import Function

# File extension -> the editor's language (editor.js maps it to a CodeMirror
# mode and an indent: 4 spaces for Python, 2 for JavaScript and JSON).
LANGUAGES = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".json": "json",
}


def language_of(path: str) -> str:
    """"python", "javascript", "json" or "" (plain text) for a file name."""
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower(), "") if dot > path.rfind("/") else ""


def _default_file(fn: Function, files: list[code_files.BundleFile]) -> str | None:
    """The handler's module when it is editable, else the first editable file."""
    editable = [f.path for f in files if f.editable]
    for path in sorted(service.handler_files(fn.handler, fn.runtime)):
        if path in editable:
            return path
    return editable[0] if editable else None


def context(request: HttpRequest, fn: Function, *, can_write: bool, extra: dict) -> dict:
    """The Code tab's template context. The open file is `extra["opened"]`
    (after a POST), else ?file=, else the handler's module; a bound
    `extra["source_form"]` (a refused save) is shown as it came, so the
    user's text is never lost, even when its file is gone meanwhile."""
    # The code as uploaded: a dependency build's packages are not edited here.
    code = dependencies.submitted_code(fn)
    try:
        files = code_files.list_files(code)
    except (OSError, zipfile.BadZipFile):
        return {"code_missing": True, "text_max_mb": code_files.TEXT_MAX // (1024 * 1024)}
    by_path = {f.path: f for f in files}
    bound = extra.get("source_form")
    problem = ""
    if bound is not None:
        opened = bound.data.get("path", "")
    else:
        opened = extra.get("opened") or request.GET.get("file") or ""
        if opened and opened not in by_path:
            problem = f"The code has no file {opened!r}; it was renamed or deleted."
            opened = ""
        opened = opened or _default_file(fn, files) or ""
    form = bound
    if form is None and opened:
        try:
            text = code_files.read_text(code, opened)
        except CodeError as e:
            problem = str(e)
        except OSError:
            return {"code_missing": True, "text_max_mb": code_files.TEXT_MAX // (1024 * 1024)}
        else:
            form = SourceForm(initial={"path": opened, "base": code.sha256, "source": text})
    if form is not None:
        attrs = form.fields["source"].widget.attrs
        attrs["data-language"] = language_of(opened)
        attrs["aria-label"] = opened
        if not can_write:
            attrs["readonly"] = True
        if form.is_bound:
            # A refused save: the text in the editor is not what is stored.
            attrs["data-unsaved"] = "true"
    return {
        "code_missing": False,
        "files": files,
        "tree": code_files.tree(files),
        "handler_files": service.handler_files(fn.handler, fn.runtime),
        "opened": opened,
        "opened_problem": problem,
        "source_form": form,
        "new_file_form": extra.get("new_file_form") or NewFileForm(initial={"base": code.sha256}),
        "upload_form": extra.get("upload_form") or UploadCodeForm(),
        "text_max_mb": code_files.TEXT_MAX // (1024 * 1024),
        "build_pending": dependencies.build_pending(fn),
    }
