"""The Node bootstrap (runtimes/shared/node/bootstrap.js) run as a local
process with this machine's node (no Docker), driven by
invocations.sandbox over its Unix socket, as the worker drives it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from invocations.sandbox import FunctionConfig, init_frame, initialize, invoke, wait_for_socket

BOOTSTRAP = Path(__file__).resolve().parents[2] / "runtimes" / "shared" / "node" / "bootstrap.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="no node on this machine (the images carry their own)")

FILES = {
    "index.mjs": """
export const handler = async (event, context) => {
  console.log("hi", event.n);
  process.stdout.write("raw write\\n");
  return { n: event.n, rid: context.awsRequestId, remaining: context.getRemainingTimeInMillis(),
           fn: context.functionName, version: context.functionVersion };
};
export const nothing = async () => undefined;
export const rejectsLater = async () => { setTimeout(() => Promise.reject(new Error("late")), 1);
  await new Promise((r) => setTimeout(r, 200)); return "never"; };
export const levels = async () => { console.debug("d"); console.info("i"); console.warn("w"); return 1; };
export const notAFunction = 42;
export const clientContext = async (event, context) => context.clientContext ?? "none";
""",
    "cb.js": """
exports.handler = (event, context, callback) => setImmediate(() => callback(null, { via: "callback" }));
exports.legacy = (event, context) => { context.succeed("succeeded"); };
exports.usesPath = async () => require("frompath").value;
exports.silent = function () { console.log("never calls back"); };
exports.plain = function () { return "a plain return value is ignored"; };
exports.lingering = (event, context, callback) => {
  setTimeout(() => console.log("timer after the callback"), 100);
  callback(null, "after the loop drained");
};
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => console.log("still pending"), 3000);
  callback(null, "at once");
};
""",
    "broken.js": "exports.handler = async () => { return 1 +; };\n",
    "esmlayer.mjs": 'import { hello } from "layerpkg";\nexport const handler = async () => hello;\n',
    # As a layer unpacks under /opt: nodejs/node_modules/<package>.
    "opt/nodejs/node_modules/layerpkg/package.json":
        '{"name": "layerpkg", "type": "module", "exports": "./index.mjs"}',
    "opt/nodejs/node_modules/layerpkg/index.mjs": 'export const hello = "from a layer package";\n',
    "lib/frompath/index.js": 'module.exports = { value: "found through NODE_PATH" };\n',
}


class NodeBootstrap:
    def __init__(self, root: Path, handler: str, **config) -> None:
        own = root / uuid.uuid4().hex[:8]
        task = own / "task"
        for name, text in FILES.items():
            (task / name).parent.mkdir(parents=True, exist_ok=True)
            (task / name).write_text(text)
        self.socket_path = str(own / "bootstrap.sock")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STRATUS_SOCKET_PATH": self.socket_path,
               "LAMBDA_TASK_ROOT": str(task)}
        self.proc = subprocess.Popen([NODE, str(BOOTSTRAP)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        assert wait_for_socket(self.socket_path, 10, lambda: self.proc.poll() is None)
        # "{task}" in a variable's value: this bootstrap's task folder.
        env_vars = {k: v.replace("{task}", str(task)) for k, v in config.pop("env_vars", {}).items()}
        self.ready = initialize(self.socket_path, init_frame(FunctionConfig(
            code_dir="unused", handler=handler, function_name="demo", runtime="nodejs20.x",
            memory_mb=256, env_vars={**env_vars}, **config)), 10)
        assert self.ready is not None and self.ready["type"] == "ready"

    def invoke(self, event, **fields):
        lines: list[str] = []
        request = {"requestId": str(uuid.uuid4()), "event": event,
                   "deadlineMs": int(time.time() * 1000) + 60_000, "functionName": "demo",
                   "functionVersion": "$LATEST", "memoryLimitInMB": 256, **fields}
        outcome = invoke(self.socket_path, request, 5.0, lines.append)
        return outcome, lines, request["requestId"]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture
def node(tmp_path_factory):
    started: list[NodeBootstrap] = []
    root = Path(f"/tmp/stratus-n-{uuid.uuid4().hex[:6]}")  # a socket path fits in 108 bytes

    def start(handler: str, **config) -> NodeBootstrap:
        started.append(NodeBootstrap(root, handler, **config))
        return started[-1]

    yield start
    for b in started:
        b.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_an_esm_handler_gets_the_event_context_and_its_lines_are_lambdas(node):
    outcome, lines, rid = node("index.handler").invoke({"n": 5})
    assert outcome.kind == "result", outcome
    assert outcome.payload["n"] == 5 and outcome.payload["rid"] == rid
    assert outcome.payload["fn"] == "demo" and outcome.payload["version"] == "$LATEST"
    assert 0 < outcome.payload["remaining"] <= 60_000
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tINFO\thi 5", lines[1])
    assert lines[2] == "raw write"
    assert lines[-1] == f"END RequestId: {rid}"


def test_context_client_context_is_invokes_client_context_parsed(node):
    # The invoke frame's clientContext: ClientContext's decoded JSON text
    # (functions.client_context); Lambda's Node context has the object.
    bootstrap = node("index.clientContext")
    sent = {"client": {"app_title": "app"}, "custom": {"k": "v"}, "env": {"locale": "en"}}
    outcome, _, _ = bootstrap.invoke({}, clientContext=json.dumps(sent))
    assert outcome.kind == "result" and outcome.payload == sent
    assert bootstrap.invoke({})[0].payload == "none"


def test_undefined_is_null_and_callbacks_and_context_succeed_answer(node):
    assert node("index.nothing").invoke({})[0].payload is None
    assert node("cb.handler").invoke({})[0].payload == {"via": "callback"}
    assert node("cb.legacy").invoke({})[0].payload == "succeeded"


def test_the_event_loop_rules_of_callback_handlers(node):
    # Lambda: no callback and nothing pending -> null; a plain return value
    # is ignored; the callback's answer waits for the loop to drain unless
    # callbackWaitsForEmptyEventLoop is false.
    assert node("cb.silent").invoke({})[0].payload is None
    assert node("cb.plain").invoke({})[0].payload is None
    outcome, lines, _ = node("cb.lingering").invoke({})
    assert outcome.payload == "after the loop drained"
    assert any(line.endswith("\tINFO\ttimer after the callback") for line in lines)
    outcome, lines, _ = node("cb.noWait").invoke({})
    assert outcome.payload == "at once"
    assert not any("still pending" in line for line in lines)


def test_node_path_from_the_init_frame_is_honoured(node):
    b = node("cb.usesPath", env_vars={"NODE_PATH": "/nowhere"})
    assert b.invoke({})[0].kind == "error"  # NODE_PATH without lib/: not found
    # The first bootstrap's task folder holds the same files: its lib/.
    lib = Path(b.socket_path).parent / "task" / "lib"
    b2 = node("cb.usesPath", env_vars={"NODE_PATH": f"/nowhere:{lib}"})
    outcome = b2.invoke({})[0]
    assert outcome.kind == "result" and outcome.payload == "found through NODE_PATH"


def test_an_es_module_imports_a_package_from_a_node_path_folder(node):
    # ES modules ignore NODE_PATH; Lambda's runtime finds layer packages all
    # the same, and so does this one (a resolve hook, only when needed).
    node_path = "/nowhere/node_modules:{task}/opt/nodejs/node_modules"
    outcome = node("esmlayer.handler", env_vars={"NODE_PATH": node_path}).invoke({})[0]
    assert outcome.kind == "result", outcome
    assert outcome.payload == "from a layer package"
    # Without the folder in NODE_PATH: Node's own error, as Lambda's.
    b = node("esmlayer.handler", env_vars={"NODE_PATH": "/nowhere/node_modules"})
    assert b.ready["initError"]["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find package 'layerpkg'" in b.ready["initError"]["errorMessage"]


@pytest.mark.parametrize("handler,error_type,message", [
    ("missing.handler", "Runtime.ImportModuleError", "Cannot find module 'missing'"),
    ("index.absent", "Runtime.HandlerNotFound", "index.absent is undefined or not exported"),
    ("index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"),
    ("broken.handler", "Runtime.UserCodeSyntaxError", "SyntaxError"),
    ("nodot", "Runtime.MalformedHandlerName", "Bad handler nodot"),
])
def test_init_errors_are_lambdas_and_returned_for_every_invoke(node, handler, error_type, message):
    b = node(handler)
    assert b.ready["initError"]["errorType"] == error_type
    for _ in range(2):
        outcome, lines, _ = b.invoke({})
        assert outcome.kind == "error"
        assert outcome.error["errorType"] == error_type
        assert message in outcome.error["errorMessage"]
        assert "trace" in outcome.error


def test_an_unhandled_rejection_fails_the_call_and_ends_the_environment(node):
    b = node("index.rejectsLater")
    outcome, _, _ = b.invoke({})
    assert outcome.kind == "error"
    assert outcome.error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert "late" in outcome.error["errorMessage"]
    assert b.proc.wait(timeout=5) != 0


def test_json_log_format_filters_by_application_level(node):
    b = node("index.levels", log_format="JSON", application_log_level="WARN", system_log_level="INFO")
    outcome, lines, rid = b.invoke({})
    assert outcome.kind == "result"
    import json

    entries = [json.loads(line) for line in lines]
    assert entries[0]["type"] == "platform.start" and entries[0]["record"]["requestId"] == rid
    assert entries[1:] == [{"timestamp": entries[1]["timestamp"], "level": "WARN", "requestId": rid,
                            "message": "w"}]
