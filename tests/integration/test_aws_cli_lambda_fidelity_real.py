"""The AWS CLI (awscli from requirements-dev.txt, run as `aws`) drives the
Lambda operations of issue 11 against the real stack (uvicorn, the AWS front
door, Celery, Redis, Docker), as a user of AWS would type them:

- layers: publish-layer-version, get-layer-version(-by-arn), list-layers,
  list-layer-versions (paged by the CLI: --page-size, --max-items /
  --starting-token), delete-layer-version, a function's --layers;
- dependency builds followed by `aws lambda wait function-active-v2`,
  `function-updated-v2` (a failed build: the waiter's exit code 255) and
  `published-version-active`;
- the FunctionConfiguration the CLI prints (CodeSha256, State,
  LastUpdateStatus, Architectures, EphemeralStorage, LoggingConfig,
  TracingConfig, Environment, RevisionId) and --revision-id's 412;
- --architectures, --ephemeral-storage, --logging-config, --tracing-config,
  tags (tag-resource, untag-resource, list-tags, --tags) and function URLs
  (create/get/update/delete-function-url-config, list-function-url-configs,
  the URL called over HTTP);
- publish-version, list-versions-by-function, aliases with
  --routing-config, invoke --qualifier / name:qualifier (ExecutedVersion in
  the CLI's output), provisioned concurrency configs;
- provided.al2023 with a shell bootstrap on the Runtime API;
- nodejs20.x and nodejs22.x (an ES module handler importing a layer's
  package, JSON LoggingConfig at WARN, Runtime.HandlerNotFound), a
  package.json installed and waited for, python3.13 and a runtime change.

Each area has its bad input: the CLI's exit code (254/255 for an error the
service answered) and AWS's error code on stderr, and the stored data left
as it was. The CLI is configured as tests/integration/test_aws_cli_real.py
does (its own key and config, nothing read from ~/.aws, one attempt)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import textwrap
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.integration.helpers import settle, zip_of
from tests.integration.test_aws_cli_real import SERVICE_ERROR_RCS, Cli

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# Reads a module of its layer (/opt/python) and says where it came from.
LAYERED = """
import clilib

def handler(event, context):
    return {"value": clilib.VALUE, "file": clilib.__file__}
"""

USES_TABULATE = (
    "import tabulate\n\n"
    "def handler(event, context):\n"
    "    return {'table': tabulate.tabulate([[3, 4]], tablefmt='plain'), 'module': tabulate.__file__}\n"
)
# Answers with its event, and /tmp's size in MB when asked.
ECHO = """
import os

def handler(event, context):
    if event.get("tmp"):
        stat = os.statvfs("/tmp")
        return {"tmp_mb": stat.f_blocks * stat.f_frsize // (1024 * 1024)}
    return {"event": event}
"""
# Says which code and version ran, and how its environment started.
VERSIONED = '''import os
CODE = "{code}"

def handler(event, context):
    return {{"code": CODE, "version": context.function_version, "arn": context.invoked_function_arn,
             "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}}
'''

# A provided.al2023 bootstrap: the Lambda Runtime API with curl.
SHELL_BOOTSTRAP = textwrap.dedent("""\
    #!/bin/sh
    set -eu
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      EVENT=$(curl -sS -D /tmp/headers "$API/invocation/next")
      ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/headers | tr -d '\\r' | cut -d' ' -f2)
      ARN=$(grep -i '^Lambda-Runtime-Invoked-Function-Arn:' /tmp/headers | tr -d '\\r' | cut -d' ' -f2)
      echo "shell got $EVENT"
      case "$EVENT" in
        *fail*) curl -sS -o /dev/null -X POST "$API/invocation/$ID/error" \\
                  -d '{"errorMessage":"the shell failed","errorType":"Shell.Failure"}' ;;
        *) curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" \\
             -d "{\\"echo\\":$EVENT,\\"arn\\":\\"$ARN\\"}" ;;
      esac
    done
""")

PLAIN = "def handler(event, context):\n    return {'code': event.get('code', 'plain')}\n"


@pytest.fixture(scope="module")
def aws(stack, tmp_path_factory):
    return Cli(stack, tmp_path_factory.mktemp("aws-lambda-home"))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A folder for the zips the CLI reads (fileb://) and the outputs it writes."""
    return tmp_path_factory.mktemp("aws-lambda-files")


def write_zip(folder: Path, name: str, contents: dict[str, str]) -> tuple[str, bytes]:
    """`contents` zipped into folder/name: (the CLI's fileb:// argument, the bytes)."""
    data = zip_of(contents)
    (folder / name).write_bytes(data)
    return f"fileb://{folder / name}", data


def zip_with_bootstrap(script: str) -> bytes:
    """A provided.al2023 zip: an executable `bootstrap` (mode 755 in the zip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        zf.writestr(info, script)
    return buf.getvalue()


def sha256_b64(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create_function(aws, folder: Path, name: str, source: str, *args: str, extra: dict | None = None) -> dict:
    """`aws lambda create-function` of app.handler (python3.11) in `source`
    (plus `extra` files in the zip); its printed FunctionConfiguration."""
    code, _ = write_zip(folder, f"{name}.zip", {"app.py": source, **(extra or {})})
    return aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
               "--role", ROLE, "--handler", "app.handler", "--timeout", "10", "--zip-file", code, *args)


def invoke(aws, folder: Path, name: str, event: dict | None = None, *args: str) -> tuple[dict, object]:
    """`aws lambda invoke` with `event` as the payload (read from a file):
    (the CLI's printed answer, the decoded response payload)."""
    (folder / "event.json").write_text(json.dumps(event or {}))
    out = folder / f"{name}.out.json"
    printed = aws("lambda", "invoke", "--function-name", name,
                  "--payload", f"fileb://{folder / 'event.json'}", *args, str(out))
    return printed, json.loads(out.read_text())


# Layers -----------------------------------------------------------------------


def test_every_layer_operation_through_the_cli(aws, files):
    v1_code, v1_zip = write_zip(files, "clilib-1.zip", {"python/clilib.py": "VALUE = 'layer one'\n"})
    v1 = aws("lambda", "publish-layer-version", "--layer-name", "cli-lib", "--zip-file", v1_code,
             "--description", "first", "--compatible-runtimes", "python3.11", "python3.12",
             "--compatible-architectures", "x86_64", "--license-info", "MIT")
    account = v1["LayerArn"].split(":")[4]
    assert v1["LayerArn"] == f"arn:aws:lambda:us-east-1:{account}:layer:cli-lib"
    assert (v1["LayerVersionArn"], v1["Version"]) == (f"{v1['LayerArn']}:1", 1)
    assert (v1["Content"]["CodeSha256"], v1["Content"]["CodeSize"]) == (sha256_b64(v1_zip), len(v1_zip))
    assert (v1["Description"], v1["LicenseInfo"]) == ("first", "MIT")
    assert v1["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert v1["CompatibleArchitectures"] == ["x86_64"]
    v2_code, v2_zip = write_zip(files, "clilib-2.zip", {"python/clilib.py": "VALUE = 'layer two'\n"})
    v2 = aws("lambda", "publish-layer-version", "--layer-name", "cli-lib", "--zip-file", v2_code,
             "--compatible-runtimes", "nodejs20.x")
    assert (v2["Version"], v2["LayerVersionArn"]) == (2, f"{v1['LayerArn']}:2")

    got = aws("lambda", "get-layer-version", "--layer-name", "cli-lib", "--version-number", "1")
    assert {k: got[k] for k in ("LayerVersionArn", "Description", "CreatedDate", "LicenseInfo")} == {
        k: v1[k] for k in ("LayerVersionArn", "Description", "CreatedDate", "LicenseInfo")}
    assert got["Content"]["CodeSha256"] == sha256_b64(v1_zip)
    with urllib.request.urlopen(got["Content"]["Location"], timeout=60) as download:
        assert download.read() == v1_zip
    # The layer's ARN stands for its name too.
    by_layer_arn = aws("lambda", "get-layer-version", "--layer-name", v1["LayerArn"], "--version-number", "2")
    assert by_layer_arn["Content"]["CodeSha256"] == sha256_b64(v2_zip)
    by_arn = aws("lambda", "get-layer-version-by-arn", "--arn", v2["LayerVersionArn"])
    assert (by_arn["Version"], by_arn["Content"]["CodeSize"]) == (2, len(v2_zip))

    layers = {x["LayerName"]: x for x in aws("lambda", "list-layers")["Layers"]}
    assert layers["cli-lib"]["LayerArn"] == v1["LayerArn"]
    assert layers["cli-lib"]["LatestMatchingVersion"]["Version"] == 2
    python = aws("lambda", "list-layers", "--compatible-runtime", "python3.12")["Layers"]
    python = {x["LayerName"]: x for x in python}
    assert python["cli-lib"]["LatestMatchingVersion"]["LayerVersionArn"] == v1["LayerVersionArn"]
    x86 = aws("lambda", "list-layers", "--compatible-architecture", "x86_64")["Layers"]
    assert {x["LayerName"]: x["LatestMatchingVersion"]["Version"] for x in x86}["cli-lib"] == 1
    assert "cli-lib" not in {x["LayerName"] for x in (
        aws("lambda", "list-layers", "--compatible-runtime", "nodejs22.x") or {}).get("Layers", [])}

    # --page-size 1: the CLI follows NextMarker itself and prints every version.
    paged = aws("lambda", "list-layer-versions", "--layer-name", "cli-lib", "--page-size", "1")
    assert [v["Version"] for v in paged["LayerVersions"]] == [2, 1]
    # --max-items 1: one version and the CLI's token to go on from.
    first = aws("lambda", "list-layer-versions", "--layer-name", "cli-lib", "--max-items", "1")
    assert [v["Version"] for v in first["LayerVersions"]] == [2] and first["NextToken"]
    rest = aws("lambda", "list-layer-versions", "--layer-name", "cli-lib",
               "--starting-token", first["NextToken"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    matching = aws("lambda", "list-layer-versions", "--layer-name", "cli-lib",
                   "--compatible-runtime", "nodejs20.x")["LayerVersions"]
    assert [v["Version"] for v in matching] == [2]

    assert aws("lambda", "delete-layer-version", "--layer-name", "cli-lib", "--version-number", "2") is None
    # Deleting it again is no error, as Lambda.
    assert aws("lambda", "delete-layer-version", "--layer-name", "cli-lib", "--version-number", "2") is None
    aws.fails("lambda", "get-layer-version", "--layer-name", "cli-lib", "--version-number", "2",
              code="ResourceNotFoundException")
    aws.fails("lambda", "get-layer-version-by-arn", "--arn", v2["LayerVersionArn"],
              code="ResourceNotFoundException")
    listed = aws("lambda", "list-layer-versions", "--layer-name", "cli-lib")["LayerVersions"]
    assert [v["Version"] for v in listed] == [1]
    # Version numbers are never reused.
    v3_code, _ = write_zip(files, "clilib-3.zip", {"python/clilib.py": "VALUE = 'layer three'\n"})
    v3 = aws("lambda", "publish-layer-version", "--layer-name", "cli-lib", "--zip-file", v3_code)
    assert v3["Version"] == 3


def test_layer_bad_input_through_the_cli(aws, files):
    code, _ = write_zip(files, "bad-layer.zip", {"python/x.py": "X = 1\n"})
    made = aws("lambda", "publish-layer-version", "--layer-name", "cli-bad", "--zip-file", code)
    account = made["LayerArn"].split(":")[4]
    aws.fails("lambda", "get-layer-version", "--layer-name", "cli-no-such-layer", "--version-number", "1",
              code="ResourceNotFoundException")
    stderr = aws.fails("lambda", "get-layer-version-by-arn",
                       "--arn", f"arn:aws:lambda:us-east-1:{account}:layer:cli-bad:7",
                       code="ResourceNotFoundException")
    assert "GetLayerVersionByArn" in stderr
    # A layer's ARN without its version: the model's pattern, as AWS checks it.
    stderr = aws.fails("lambda", "get-layer-version-by-arn", "--arn", made["LayerArn"],
                       code="ValidationException")
    assert "failed to satisfy constraint" in stderr
    other = "999999999999" if account != "999999999999" else "888888888888"
    aws.fails("lambda", "get-layer-version-by-arn",
              "--arn", f"arn:aws:lambda:us-east-1:{other}:layer:cli-bad:1", code="AccessDeniedException")
    aws.fails("lambda", "publish-layer-version", "--layer-name", "cli-bad", "--zip-file", code,
              "--compatible-runtimes", "cobol85", code="ValidationException")
    aws.fails("lambda", "publish-layer-version", "--layer-name", "cli-bad", "--zip-file", code,
              "--compatible-architectures", "sparc", code="ValidationException")
    aws.fails("lambda", "publish-layer-version", "--layer-name", "bad name!", "--zip-file", code,
              code="InvalidParameterValueException")
    # Nothing was published by the refused calls.
    listed = aws("lambda", "list-layer-versions", "--layer-name", "cli-bad")["LayerVersions"]
    assert [v["Version"] for v in listed] == [1]
    assert "bad name!" not in {x["LayerName"] for x in aws("lambda", "list-layers")["Layers"]}


def test_a_function_with_layers_through_the_cli(aws, files):
    lib_code, lib_zip = write_zip(files, "fn-lib.zip", {"python/clilib.py": "VALUE = 'from the layer'\n"})
    lib = aws("lambda", "publish-layer-version", "--layer-name", "cli-fn-lib", "--zip-file", lib_code)
    over_code, _ = write_zip(files, "fn-over.zip", {"python/clilib.py": "VALUE = 'overwritten'\n"})
    over = aws("lambda", "publish-layer-version", "--layer-name", "cli-fn-over", "--zip-file", over_code)

    made = create_function(aws, files, "cli-layered", LAYERED, "--layers", lib["LayerVersionArn"])
    assert made["Layers"] == [{"Arn": lib["LayerVersionArn"], "CodeSize": len(lib_zip)}]
    printed, body = invoke(aws, files, "cli-layered")
    assert (printed["StatusCode"], printed.get("FunctionError")) == (200, None)
    assert body == {"value": "from the layer", "file": "/opt/python/clilib.py"}

    # The later layer overwrites the earlier one's file.
    updated = aws("lambda", "update-function-configuration", "--function-name", "cli-layered",
                  "--layers", lib["LayerVersionArn"], over["LayerVersionArn"])
    assert [x["Arn"] for x in updated["Layers"]] == [lib["LayerVersionArn"], over["LayerVersionArn"]]
    aws("lambda", "wait", "function-updated-v2", "--function-name", "cli-layered")
    assert invoke(aws, files, "cli-layered")[1]["value"] == "overwritten"
    got = aws("lambda", "get-function", "--function-name", "cli-layered")["Configuration"]
    assert [x["Arn"] for x in got["Layers"]] == [lib["LayerVersionArn"], over["LayerVersionArn"]]

    # Bad --layers: refused, the function's layers unchanged.
    missing = lib["LayerArn"] + ":99"
    stderr = aws.fails("lambda", "update-function-configuration", "--function-name", "cli-layered",
                       "--layers", missing, code="InvalidParameterValueException")
    assert missing in stderr
    aws.fails("lambda", "update-function-configuration", "--function-name", "cli-layered",
              "--layers", *[lib["LayerVersionArn"]] * 6, code="InvalidParameterValueException")
    aws.fails("lambda", "create-function", "--function-name", "cli-layered-bad", "--runtime", "python3.11",
              "--role", ROLE, "--handler", "app.handler",
              "--zip-file", write_zip(files, "x.zip", {"app.py": PLAIN})[0],
              "--layers", "arn:aws:lambda:us-east-1:000000000000:function:not-a-layer",
              code="ValidationException")
    aws.fails("lambda", "get-function", "--function-name", "cli-layered-bad",
              code="ResourceNotFoundException")
    config = aws("lambda", "get-function-configuration", "--function-name", "cli-layered")
    assert [x["Arn"] for x in config["Layers"]] == [lib["LayerVersionArn"], over["LayerVersionArn"]]

    # No layers: the member is gone, as Lambda.
    cleared = aws("lambda", "update-function-configuration", "--function-name", "cli-layered",
                  "--layers", "[]")
    assert "Layers" not in cleared
    aws("lambda", "wait", "function-updated-v2", "--function-name", "cli-layered")
    printed, body = invoke(aws, files, "cli-layered")
    assert printed["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ImportModuleError"


# Dependency builds ------------------------------------------------------------


def test_dependency_builds_followed_by_the_cli_waiters(stack, aws, files):
    code, data = write_zip(files, "deps.zip", {
        "app.py": USES_TABULATE, "requirements.txt": "tabulate==0.9.0\n# cli\n"})
    made = aws("lambda", "create-function", "--function-name", "cli-deps", "--runtime", "python3.11",
               "--role", ROLE, "--handler", "app.handler", "--timeout", "10", "--zip-file", code)
    assert (made["State"], made["StateReasonCode"], made["LastUpdateStatus"]) == (
        "Pending", "Creating", "InProgress")
    assert made["CodeSha256"] == sha256_b64(data)
    pending = aws.run("lambda", "invoke", "--function-name", "cli-deps", str(files / "pending.out"))
    if pending.returncode != 0:  # else the build was done already on a fast machine
        assert pending.returncode in SERVICE_ERROR_RCS, (pending.returncode, pending.stderr)
        assert "(ResourceConflictException)" in pending.stderr and "state: Pending" in pending.stderr
    # Exit code 0 once the function is Active (GetFunction every second).
    assert aws.text("lambda", "wait", "function-active-v2", "--function-name", "cli-deps") == ""
    config = aws("lambda", "get-function-configuration", "--function-name", "cli-deps")
    assert (config["State"], config["LastUpdateStatus"], config["CodeSha256"]) == (
        "Active", "Successful", sha256_b64(data))
    assert invoke(aws, files, "cli-deps")[1] == {"table": "3  4", "module": "/var/task/tabulate/__init__.py"}

    # A requirement that does not exist: the update fails, the waiter says so.
    bad_code, _ = write_zip(files, "deps-bad.zip", {
        "app.py": PLAIN, "requirements.txt": "stratus-no-such-package-cli==1.0\n"})
    updated = aws("lambda", "update-function-code", "--function-name", "cli-deps", "--zip-file", bad_code)
    assert updated["LastUpdateStatus"] == "InProgress"
    # While it runs another update is refused (the same code again: should the
    # build have failed already, it is built again and fails alike).
    busy = aws.run("lambda", "update-function-code", "--function-name", "cli-deps", "--zip-file", bad_code)
    if busy.returncode != 0:
        assert busy.returncode in SERVICE_ERROR_RCS, (busy.returncode, busy.stderr)
        assert "(ResourceConflictException)" in busy.stderr and "An update is in progress" in busy.stderr
    waited = aws.run("lambda", "wait", "function-updated-v2", "--function-name", "cli-deps")
    assert waited.returncode == 255, (waited.returncode, waited.stderr)
    assert "Waiter FunctionUpdatedV2 failed" in waited.stderr and "terminal failure state" in waited.stderr
    config = aws("lambda", "get-function-configuration", "--function-name", "cli-deps")
    assert (config["State"], config["LastUpdateStatus"], config["LastUpdateStatusReasonCode"]) == (
        "Active", "Failed", "DependencyError")
    assert "stratus-no-such-package-cli" in config["LastUpdateStatusReason"]
    # The function keeps its previous code: its CodeSha256, and the zip get-function hands out.
    assert config["CodeSha256"] == sha256_b64(data)
    location = aws("lambda", "get-function", "--function-name", "cli-deps")["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=60) as download:
        assert download.read() == data
    assert invoke(aws, files, "cli-deps")[1]["table"] == "3  4"

    # A good update: the waiter returns, the new code runs with its packages.
    good_code, good = write_zip(files, "deps-good.zip", {
        "app.py": USES_TABULATE.replace("[[3, 4]]", "[[5, 6]]"), "requirements.txt": "tabulate==0.9.0\n"})
    aws("lambda", "update-function-code", "--function-name", "cli-deps", "--zip-file", good_code)
    assert aws.text("lambda", "wait", "function-updated-v2", "--function-name", "cli-deps") == ""
    config = aws("lambda", "get-function", "--function-name", "cli-deps")["Configuration"]
    assert (config["LastUpdateStatus"], config["CodeSha256"]) == ("Successful", sha256_b64(good))
    assert "LastUpdateStatusReason" not in config
    assert invoke(aws, files, "cli-deps")[1]["table"] == "5  6"
    # A version of it: the CodeSha256 the CLI printed is the one to publish with.
    version = aws("lambda", "publish-version", "--function-name", "cli-deps", "--code-sha256",
                  config["CodeSha256"])
    assert (version["CodeSha256"], version["State"]) == (sha256_b64(good), "Active")
    aws.text("lambda", "wait", "published-version-active", "--function-name", "cli-deps",
             "--qualifier", version["Version"])
    printed, body = invoke(aws, files, "cli-deps", {}, "--qualifier", version["Version"])
    assert (printed["ExecutedVersion"], body["table"]) == (version["Version"], "5  6")

    # The older waiters (GetFunctionConfiguration) agree.
    for waiter in ("function-exists", "function-active", "function-updated"):
        assert aws.text("lambda", "wait", waiter, "--function-name", "cli-deps") == ""
    # The waiters on a function that does not exist: the error, not a wait.
    gone = aws.run("lambda", "wait", "function-active-v2", "--function-name", "cli-no-such-fn")
    assert gone.returncode == 255 and "ResourceNotFoundException" in gone.stderr, gone.stderr


# FunctionConfiguration --------------------------------------------------------


def test_the_function_configuration_the_cli_prints(aws, files):
    made = create_function(aws, files, "cli-config", PLAIN, "--environment", "Variables={STAGE=test,NUM=1}",
                           "--description", "configured", "--memory-size", "256")
    code = (files / "cli-config.zip").read_bytes()
    assert made["CodeSha256"] == sha256_b64(code) and made["CodeSize"] == len(code)
    assert (made["State"], made["LastUpdateStatus"]) == ("Active", "Successful")
    assert made["Architectures"] == ["x86_64"] and made["EphemeralStorage"] == {"Size": 512}
    assert made["Environment"] == {"Variables": {"STAGE": "test", "NUM": "1"}}
    assert (made["PackageType"], made["Version"], made["MemorySize"]) == ("Zip", "$LATEST", 256)
    assert made["RevisionId"]
    got = aws("lambda", "get-function-configuration", "--function-name", "cli-config")
    assert got == made

    # RevisionId: the current one is taken, a stale one is 412.
    updated = aws("lambda", "update-function-configuration", "--function-name", "cli-config",
                  "--description", "second", "--revision-id", made["RevisionId"])
    assert updated["Description"] == "second" and updated["RevisionId"] != made["RevisionId"]
    stderr = aws.fails("lambda", "update-function-configuration", "--function-name", "cli-config",
                       "--description", "stale", "--revision-id", made["RevisionId"],
                       code="PreconditionFailedException")
    assert "UpdateFunctionConfiguration" in stderr
    aws.fails("lambda", "update-function-code", "--function-name", "cli-config", "--zip-file",
              f"fileb://{files / 'cli-config.zip'}", "--revision-id", made["RevisionId"],
              code="PreconditionFailedException")
    after = aws("lambda", "get-function-configuration", "--function-name", "cli-config")
    assert (after["Description"], after["RevisionId"]) == ("second", updated["RevisionId"])

    # Bad values: the service's error code, nothing stored.
    aws.fails("lambda", "update-function-configuration", "--function-name", "cli-config",
              "--runtime", "java21", code="InvalidParameterValueException")
    # A value outside the model's enum: ValidationException, as AWS.
    aws.fails("lambda", "update-function-configuration", "--function-name", "cli-config",
              "--runtime", "cobol85", code="ValidationException")
    aws.fails("lambda", "get-function-configuration", "--function-name", "cli-nothing",
              code="ResourceNotFoundException")
    assert aws("lambda", "get-function-configuration", "--function-name", "cli-config") == after


def test_the_new_configuration_options_tags_and_urls_through_the_cli(aws, files):
    made = create_function(
        aws, files, "cli-options", ECHO, "--architectures", "x86_64", "--ephemeral-storage", "Size=1024",
        "--logging-config", "LogFormat=JSON,ApplicationLogLevel=DEBUG,LogGroup=/cli/options",
        "--tracing-config", "Mode=Active", "--tags", "team=cli,stage=test",
    )
    assert (made["Architectures"], made["EphemeralStorage"]) == (["x86_64"], {"Size": 1024})
    assert made["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                     "SystemLogLevel": "INFO", "LogGroup": "/cli/options"}
    assert made["TracingConfig"] == {"Mode": "Active"}
    arn = made["FunctionArn"]
    got = aws("lambda", "get-function", "--function-name", "cli-options")
    assert got["Tags"] == {"team": "cli", "stage": "test"} and got["Configuration"] == made

    # The /tmp size reaches the function (the environment's own /tmp).
    assert invoke(aws, files, "cli-options", {"tmp": True})[1]["tmp_mb"] == 1024

    updated = aws("lambda", "update-function-configuration", "--function-name", "cli-options",
                  "--ephemeral-storage", "Size=512", "--logging-config", "LogFormat=Text",
                  "--tracing-config", "Mode=PassThrough", "--revision-id", made["RevisionId"])
    assert (updated["EphemeralStorage"], updated["TracingConfig"]) == ({"Size": 512}, {"Mode": "PassThrough"})
    assert updated["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/cli/options"}
    for args, code in (
        (("--ephemeral-storage", "Size=20000"), "ValidationException"),
        (("--logging-config", "LogFormat=XML"), "ValidationException"),
        (("--tracing-config", "Mode=Sometimes"), "ValidationException"),
        (("--revision-id", made["RevisionId"], "--description", "stale"), "PreconditionFailedException"),
    ):
        aws.fails("lambda", "update-function-configuration", "--function-name", "cli-options", *args,
                  code=code)
    other = "arm64" if made["Architectures"] == ["x86_64"] else "x86_64"
    stderr = aws.fails("lambda", "update-function-code", "--function-name", "cli-options", "--zip-file",
                       f"fileb://{files / 'cli-options.zip'}", "--architectures", other,
                       code="InvalidParameterValueException")
    assert f"cannot run {other} functions" in stderr
    unchanged = aws("lambda", "get-function-configuration", "--function-name", "cli-options")
    assert unchanged == updated

    # Tags.
    aws("lambda", "tag-resource", "--resource", arn, "--tags", "owner=ops,stage=prod")
    assert aws("lambda", "list-tags", "--resource", arn)["Tags"] == (
        {"team": "cli", "stage": "prod", "owner": "ops"})
    aws("lambda", "untag-resource", "--resource", arn, "--tag-keys", "team", "stage")
    assert aws("lambda", "list-tags", "--resource", arn)["Tags"] == {"owner": "ops"}
    missing = arn.replace(":cli-options", ":cli-no-such-function")
    aws.fails("lambda", "list-tags", "--resource", missing, code="ResourceNotFoundException")
    aws.fails("lambda", "tag-resource", "--resource", missing, "--tags", "a=b",
              code="ResourceNotFoundException")
    aws.fails("lambda", "tag-resource", "--resource", arn, "--tags", "aws:reserved=x",
              code="InvalidParameterValueException")
    assert aws("lambda", "list-tags", "--resource", arn)["Tags"] == {"owner": "ops"}

    # A function URL, called over HTTP.
    url = aws("lambda", "create-function-url-config", "--function-name", "cli-options", "--auth-type", "NONE",
              "--cors", "AllowOrigins=https://example.com,AllowMethods=GET,POST")
    assert url["FunctionArn"] == arn and url["AuthType"] == "NONE"
    assert url["Cors"] == {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"]}
    assert url["FunctionUrl"].startswith(aws.url + "/lambda-url/")
    request = urllib.request.Request(url["FunctionUrl"] + "some/path?q=1", data=b'{"a": 1}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        event = json.loads(answer.read())["event"]
    assert (event["version"], event["rawPath"], event["rawQueryString"]) == ("2.0", "/some/path", "q=1")
    assert event["body"] == '{"a": 1}' and event["requestContext"]["http"]["method"] == "POST"
    assert aws("lambda", "get-function-url-config", "--function-name", "cli-options")["FunctionUrl"] == (
        url["FunctionUrl"])
    changed = aws("lambda", "update-function-url-config", "--function-name", "cli-options",
                  "--cors", "AllowOrigins=*,MaxAge=300")
    assert changed["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 300}
    assert changed["FunctionUrl"] == url["FunctionUrl"]
    listed = aws("lambda", "list-function-url-configs", "--function-name",
                 "cli-options")["FunctionUrlConfigs"]
    assert [(c["FunctionUrl"], c["Cors"]) for c in listed] == [(url["FunctionUrl"], changed["Cors"])]
    aws.fails("lambda", "create-function-url-config", "--function-name", "cli-options", "--auth-type", "NONE",
              code="ResourceConflictException")
    aws.fails("lambda", "update-function-url-config", "--function-name", "cli-options",
              "--cors", "AllowMethods=BREW", code="InvalidParameterValueException")
    aws.fails("lambda", "create-function-url-config", "--function-name", "cli-no-such-function",
              "--auth-type", "NONE", code="ResourceNotFoundException")
    assert aws("lambda", "delete-function-url-config", "--function-name", "cli-options") is None
    aws.fails("lambda", "get-function-url-config", "--function-name", "cli-options",
              code="ResourceNotFoundException")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(url["FunctionUrl"], timeout=60)
    assert gone.value.code == 404


# Versions, aliases, provisioned concurrency -----------------------------------


def test_versions_aliases_and_qualified_calls_through_the_cli(stack, aws, files):
    made = create_function(aws, files, "cli-versions", VERSIONED.format(code="v1"))
    one = aws("lambda", "publish-version", "--function-name", "cli-versions", "--description", "first",
              "--code-sha256", made["CodeSha256"], "--revision-id", made["RevisionId"])
    assert (one["Version"], one["Description"], one["FunctionArn"]) == (
        ("1", "first", made["FunctionArn"] + ":1"))
    assert one["CodeSha256"] == made["CodeSha256"]
    # Nothing changed since version 1: publishing again gives version 1.
    assert aws("lambda", "publish-version", "--function-name", "cli-versions")["Version"] == "1"
    code_2, zip_2 = write_zip(files, "cli-versions-2.zip", {"app.py": VERSIONED.format(code="v2")})
    two = aws("lambda", "update-function-code", "--function-name", "cli-versions", "--zip-file", code_2,
              "--publish")
    assert (two["Version"], two["CodeSha256"]) == ("2", sha256_b64(zip_2))
    code_3, _ = write_zip(files, "cli-versions-3.zip", {"app.py": VERSIONED.format(code="v3")})
    latest = aws("lambda", "update-function-code", "--function-name", "cli-versions", "--zip-file", code_3)
    # A CodeSha256 or RevisionId that is not $LATEST's: refused, nothing published.
    stderr = aws.fails("lambda", "publish-version", "--function-name", "cli-versions",
                       "--code-sha256", one["CodeSha256"], code="InvalidParameterValueException")
    assert "CodeSHA256" in stderr
    aws.fails("lambda", "publish-version", "--function-name", "cli-versions", "--revision-id",
              made["RevisionId"],
              code="PreconditionFailedException")
    # --page-size 1: the CLI follows NextMarker through every version.
    versions = aws("lambda", "list-versions-by-function", "--function-name", "cli-versions",
                   "--page-size", "1")
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1", "2"]
    assert versions["Versions"][0]["CodeSha256"] == latest["CodeSha256"]
    # list-functions --function-version ALL: the versions too, paged by the CLI.
    everything = aws("lambda", "list-functions", "--function-version", "ALL", "--page-size", "2")["Functions"]
    mine = [f["FunctionArn"].split(":function:")[1] for f in everything
            if f["FunctionName"] == "cli-versions"]
    assert mine == ["cli-versions", "cli-versions:1", "cli-versions:2"]
    pinned = aws("lambda", "get-function-configuration", "--function-name", "cli-versions",
                 "--qualifier", "1")
    assert (pinned["Version"], pinned["CodeSha256"], pinned["Description"]) == (
        ("1", made["CodeSha256"], "first"))

    alias = aws("lambda", "create-alias", "--function-name", "cli-versions", "--name", "live",
                "--function-version", "1", "--description", "production")
    assert (alias["AliasArn"], alias["FunctionVersion"]) == (made["FunctionArn"] + ":live", "1")
    assert aws("lambda", "get-alias", "--function-name", "cli-versions", "--name", "live") == alias
    aws("lambda", "create-alias", "--function-name", "cli-versions", "--name", "edge",
        "--function-version", "$LATEST")
    listed = aws("lambda", "list-aliases", "--function-name", "cli-versions")["Aliases"]
    assert sorted(a["Name"] for a in listed) == ["edge", "live"]
    only_1 = aws("lambda", "list-aliases", "--function-name", "cli-versions", "--function-version",
                 "1")["Aliases"]
    assert [a["Name"] for a in only_1] == ["live"]

    # invoke --qualifier, and the function:alias form; the CLI prints ExecutedVersion.
    printed, body = invoke(aws, files, "cli-versions", {}, "--qualifier", "live")
    assert (printed["ExecutedVersion"], body["code"], body["arn"]) == ("1", "v1", alias["AliasArn"])
    printed, body = invoke(aws, files, "cli-versions:2")
    assert (printed["ExecutedVersion"], body["code"], body["version"]) == ("2", "v2", "2")
    printed, body = invoke(aws, files, "cli-versions", {}, "--qualifier", "edge")
    assert (printed["ExecutedVersion"], body["code"]) == ("$LATEST", "v3")
    # An asynchronous call of the alias: 202, then run as (and recorded for) its version.
    queued = aws("lambda", "invoke", "--function-name", "cli-versions", "--qualifier", "live",
                 "--invocation-type", "Event", "--payload", "{}", str(files / "event.out"))
    assert queued["StatusCode"] == 202
    ran = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='cli-versions', invocation_type='Event')"
        ".values_list('status', 'function_version', 'result')"), lambda r: r and r[0][0] == "succeeded")
    assert ran[0][:2] == ["succeeded", "1"] and json.loads(ran[0][2])["code"] == "v1"

    # A weighted alias: both versions answer.
    weighted = aws("lambda", "update-alias", "--function-name", "cli-versions", "--name", "live",
                   "--routing-config", "AdditionalVersionWeights={2=0.5}", "--revision-id",
                   alias["RevisionId"])
    assert weighted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    seen = {invoke(aws, files, "cli-versions:live")[0]["ExecutedVersion"] for _ in range(16)}
    assert seen == {"1", "2"}
    aws.fails("lambda", "update-alias", "--function-name", "cli-versions", "--name", "live",
              "--description", "x",
              "--revision-id", alias["RevisionId"], code="PreconditionFailedException")
    for routing, code in (
        ("AdditionalVersionWeights={2=1.5}", "InvalidParameterValueException"),
        ('{"AdditionalVersionWeights": {"$LATEST": 0.5}}', "ValidationException"),
        ("AdditionalVersionWeights={9=0.5}", "ResourceNotFoundException"),
        ("AdditionalVersionWeights={1=0.5}", "InvalidParameterValueException"),  # its own version
    ):
        aws.fails("lambda", "update-alias", "--function-name", "cli-versions", "--name", "live",
                  "--routing-config", routing, code=code)
    aws.fails("lambda", "update-alias", "--function-name", "cli-versions", "--name", "edge",
              "--routing-config", "AdditionalVersionWeights={2=0.5}", code="InvalidParameterValueException")
    aws.fails("lambda", "create-alias", "--function-name", "cli-versions", "--name", "live",
              "--function-version", "2", code="ResourceConflictException")
    aws.fails("lambda", "create-alias", "--function-name", "cli-versions", "--name", "later",
              "--function-version", "7", code="ResourceNotFoundException")
    assert aws("lambda", "get-alias", "--function-name", "cli-versions", "--name", "live") == weighted
    cleared = aws("lambda", "update-alias", "--function-name", "cli-versions", "--name", "live",
                  "--routing-config", "{}")
    assert cleared.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}) == {}

    # The alias's ARN as the function's name; a function URL of the alias runs its version.
    by_arn = aws("lambda", "get-function-configuration", "--function-name", alias["AliasArn"])
    assert (by_arn["Version"], by_arn["CodeSha256"]) == ("1", made["CodeSha256"])
    url = aws("lambda", "create-function-url-config", "--function-name", "cli-versions",
              "--qualifier", "live", "--auth-type", "NONE")
    assert url["FunctionArn"] == alias["AliasArn"]
    with urllib.request.urlopen(url["FunctionUrl"], timeout=60) as answer:
        assert json.loads(answer.read())["code"] == "v1"
    aws.fails("lambda", "get-function-url-config", "--function-name", "cli-versions",
              code="ResourceNotFoundException")  # $LATEST has none
    aws.fails("lambda", "create-function-url-config", "--function-name", "cli-versions",
              "--qualifier", "nope", "--auth-type", "NONE", code="ResourceNotFoundException")

    # An alias in use keeps its version; deleting them in order works.
    aws.fails("lambda", "delete-function", "--function-name", "cli-versions", "--qualifier", "1",
              code="ResourceConflictException")
    aws.fails("lambda", "invoke", "--function-name", "cli-versions", "--qualifier", "nope",
              str(files / "nope.out"), code="ResourceNotFoundException")
    assert aws("lambda", "delete-alias", "--function-name", "cli-versions", "--name", "live") is None
    aws.fails("lambda", "get-alias", "--function-name", "cli-versions", "--name", "live",
              code="ResourceNotFoundException")
    # Its URL went with it.
    aws.fails("lambda", "get-function-url-config", "--function-name", "cli-versions", "--qualifier", "live",
              code="ResourceNotFoundException")
    # This botocore's model reads DeleteFunction's HTTP status into its output.
    assert aws("lambda", "delete-function", "--function-name", "cli-versions", "--qualifier", "1") == {
        "StatusCode": 204}
    aws.fails("lambda", "get-function", "--function-name", "cli-versions", "--qualifier", "1",
              code="ResourceNotFoundException")
    versions = aws("lambda", "list-versions-by-function", "--function-name", "cli-versions")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]


def test_provisioned_concurrency_through_the_cli(aws, files):
    create_function(aws, files, "cli-provisioned", VERSIONED.format(code="p1"), "--publish")
    aws("lambda", "create-alias", "--function-name", "cli-provisioned", "--name", "warm",
        "--function-version", "1")
    aws.fails("lambda", "get-provisioned-concurrency-config", "--function-name", "cli-provisioned",
              "--qualifier", "warm", code="ProvisionedConcurrencyConfigNotFoundException")
    aws.fails("lambda", "put-provisioned-concurrency-config", "--function-name", "cli-provisioned",
              "--qualifier", "$LATEST", "--provisioned-concurrent-executions", "1",
              code="InvalidParameterValueException")
    aws.fails("lambda", "put-provisioned-concurrency-config", "--function-name", "cli-provisioned",
              "--qualifier", "nope", "--provisioned-concurrent-executions", "1",
              code="ResourceNotFoundException")
    put = aws("lambda", "put-provisioned-concurrency-config", "--function-name", "cli-provisioned",
              "--qualifier", "warm", "--provisioned-concurrent-executions", "1")
    assert (put["RequestedProvisionedConcurrentExecutions"], put["Status"]) == (1, "IN_PROGRESS")
    ready = settle(lambda: aws("lambda", "get-provisioned-concurrency-config", "--function-name",
                               "cli-provisioned", "--qualifier", "warm"),
                   lambda c: c["Status"] == "READY", timeout=120, interval=1)
    assert (ready["Status"], ready["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 1), ready
    listed = aws("lambda", "list-provisioned-concurrency-configs",
                 "--function-name", "cli-provisioned")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["warm"]
    printed, body = invoke(aws, files, "cli-provisioned", {}, "--qualifier", "warm", "--log-type", "Tail")
    assert (printed["ExecutedVersion"], body["init"]) == ("1", "provisioned-concurrency")
    assert "Init Duration" not in base64.b64decode(printed["LogResult"]).decode()
    assert aws("lambda", "delete-provisioned-concurrency-config", "--function-name", "cli-provisioned",
               "--qualifier", "warm") is None
    aws.fails("lambda", "get-provisioned-concurrency-config", "--function-name", "cli-provisioned",
              "--qualifier", "warm", code="ProvisionedConcurrencyConfigNotFoundException")
    assert (aws("lambda", "list-provisioned-concurrency-configs", "--function-name", "cli-provisioned")
            or {}).get("ProvisionedConcurrencyConfigs", []) == []
    # On a version number too.
    on_version = aws("lambda", "put-provisioned-concurrency-config", "--function-name", "cli-provisioned",
                     "--qualifier", "1", "--provisioned-concurrent-executions", "1")
    assert on_version["RequestedProvisionedConcurrentExecutions"] == 1
    listed = aws("lambda", "list-provisioned-concurrency-configs",
                 "--function-name", "cli-provisioned")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["1"]
    assert aws("lambda", "delete-provisioned-concurrency-config", "--function-name", "cli-provisioned",
               "--qualifier", "1") is None


# Custom runtime ---------------------------------------------------------------


def test_a_provided_al2023_function_through_the_cli(aws, files):
    data = zip_with_bootstrap(SHELL_BOOTSTRAP)
    (files / "provided.zip").write_bytes(data)
    made = aws("lambda", "create-function", "--function-name", "cli-provided", "--runtime", "provided.al2023",
               "--role", ROLE, "--handler", "function.handler", "--zip-file",
               f"fileb://{files / 'provided.zip'}")
    assert (made["Runtime"], made["CodeSha256"], made["State"]) == (
        ("provided.al2023", sha256_b64(data), "Active"))
    printed, body = invoke(aws, files, "cli-provided", {"hello": "shell"}, "--log-type", "Tail")
    assert (printed["StatusCode"], printed.get("FunctionError")) == (200, None)
    assert body["echo"] == {"hello": "shell"} and body["arn"] == made["FunctionArn"]
    assert "shell got" in base64.b64decode(printed["LogResult"]).decode()
    printed, body = invoke(aws, files, "cli-provided", {"fail": True})
    assert printed["FunctionError"] == "Unhandled" and body["errorType"] == "Shell.Failure"
    # No bootstrap in the code: created (as Lambda), the call says why it cannot run.
    (files / "no-bootstrap.zip").write_bytes(zip_of({"main.sh": "echo"}))
    aws("lambda", "create-function", "--function-name", "cli-provided-bad", "--runtime", "provided.al2023",
        "--role", ROLE, "--handler", "x", "--zip-file", f"fileb://{files / 'no-bootstrap.zip'}")
    printed, body = invoke(aws, files, "cli-provided-bad")
    assert (printed["FunctionError"], body["errorType"]) == ("Unhandled", "Runtime.InvalidEntrypoint")
    assert "Couldn't find valid bootstrap(s)" in body["errorMessage"]


# Runtimes ---------------------------------------------------------------------

NODE_HANDLER = """
import { where } from "./where.mjs";
import pkg from "clipkg";

export const handler = async (event, context) => {
  console.info("node info", event.n);
  console.debug("node debug, below WARN");
  console.warn("node warn", event.n);
  return { node: process.version, fn: context.functionName, where, pkg: pkg.name, n: event.n };
};
"""
# Imports its layer's package only at call time (no import of it when loaded).
NODE_LAZY = """
export const handler = async () => {
  const pkg = await import("clipkg");
  return { pkg: pkg.default.name };
};
"""
PY313 = "import sys\n\ndef handler(event, context):\n    return {'python': list(sys.version_info[:2])}\n"


def test_the_new_runtimes_through_the_cli(aws, files):
    layer_code, _ = write_zip(files, "node-layer.zip", {
        "nodejs/node_modules/clipkg/index.js": 'module.exports = { name: "clipkg from the layer" };\n'})
    layer = aws("lambda", "publish-layer-version", "--layer-name", "cli-node-lib", "--zip-file", layer_code,
                "--compatible-runtimes", "nodejs20.x", "nodejs22.x")
    assert layer["CompatibleRuntimes"] == ["nodejs20.x", "nodejs22.x"]
    node_code, _ = write_zip(files, "node.zip", {
        "index.mjs": NODE_HANDLER, "where.mjs": 'export const where = "an ES module";\n',
        "lazy.mjs": NODE_LAZY})
    for runtime, major in (("nodejs20.x", "v20."), ("nodejs22.x", "v22.")):
        name = "cli-" + runtime.replace(".", "-")
        made = aws("lambda", "create-function", "--function-name", name, "--runtime", runtime,
                   "--role", ROLE, "--handler", "index.handler", "--zip-file", node_code,
                   "--layers", layer["LayerVersionArn"],
                   "--logging-config", "LogFormat=JSON,ApplicationLogLevel=WARN")
        assert (made["Runtime"], made["Handler"], made["State"]) == (runtime, "index.handler", "Active")
        printed, body = invoke(aws, files, name, {"n": 7}, "--log-type", "Tail")
        assert printed.get("FunctionError") is None, body
        assert body["node"].startswith(major) and body["fn"] == name
        assert (body["where"], body["pkg"], body["n"]) == ("an ES module", "clipkg from the layer", 7)
        # LoggingConfig JSON at WARN: the warning as a JSON line, the info and debug left out.
        logs = base64.b64decode(printed["LogResult"]).decode()
        lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        mine = [line for line in lines if str(line.get("message", "")).startswith("node ")]
        assert [(line["level"], line["message"]) for line in mine] == [("WARN", "node warn 7")], logs
        # A layer's package imported at call time only (a fresh environment: a new handler).
        aws("lambda", "update-function-configuration", "--function-name", name, "--handler", "lazy.handler")
        aws("lambda", "wait", "function-updated-v2", "--function-name", name)
        printed, body = invoke(aws, files, name)
        assert printed.get("FunctionError") is None and body == {"pkg": "clipkg from the layer"}, body
        # A handler the code does not export: the call says so, as Lambda.
        aws("lambda", "update-function-configuration", "--function-name", name, "--handler", "index.missing")
        aws("lambda", "wait", "function-updated-v2", "--function-name", name)
        printed, body = invoke(aws, files, name, {"n": 1})
        assert (printed["FunctionError"], body["errorType"]) == ("Unhandled", "Runtime.HandlerNotFound"), body

    code, _ = write_zip(files, "py313.zip", {"app.py": PY313})
    made = aws("lambda", "create-function", "--function-name", "cli-python313", "--runtime", "python3.13",
               "--role", ROLE, "--handler", "app.handler", "--zip-file", code)
    assert made["Runtime"] == "python3.13"
    assert invoke(aws, files, "cli-python313")[1] == {"python": [3, 13]}
    # Moving a function to another runtime: the next call runs there.
    aws("lambda", "update-function-configuration", "--function-name", "cli-python313",
        "--runtime", "python3.11")
    aws("lambda", "wait", "function-updated-v2", "--function-name", "cli-python313")
    assert invoke(aws, files, "cli-python313")[1] == {"python": [3, 11]}
    # A runtime the model knows but this platform does not run.
    stderr = aws.fails("lambda", "create-function", "--function-name", "cli-ruby", "--runtime", "ruby3.3",
                       "--role", ROLE, "--handler", "app.handler", "--zip-file", code,
                       code="InvalidParameterValueException")
    assert "ruby3.3" in stderr
    aws.fails("lambda", "get-function", "--function-name", "cli-ruby", code="ResourceNotFoundException")


def test_a_node_package_json_is_installed_and_waited_for_through_the_cli(aws, files):
    code, _ = write_zip(files, "node-deps.zip", {
        "index.js": 'const pad = require("left-pad");\nexports.handler = async () => pad("7", 3, "0");\n',
        "package.json": '{"name": "cli-node-deps", "dependencies": {"left-pad": "1.3.0"}}',
    })
    made = aws("lambda", "create-function", "--function-name", "cli-node-deps", "--runtime", "nodejs22.x",
               "--role", ROLE, "--handler", "index.handler", "--zip-file", code)
    assert (made["State"], made["LastUpdateStatus"]) == ("Pending", "InProgress")
    assert aws.text("lambda", "wait", "function-active-v2", "--function-name", "cli-node-deps") == ""
    assert invoke(aws, files, "cli-node-deps")[1] == "007"
