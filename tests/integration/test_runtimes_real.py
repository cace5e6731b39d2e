"""python3.13, nodejs20.x and nodejs22.x through the real path: boto3 ->
daphne -> Celery -> Docker (each runtime's own image) -> back."""

import base64
import json
import re

import pytest

from tests.integration.helpers import invoke_json, zip_of

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NODE_RUNTIMES = ["nodejs20.x", "nodejs22.x"]

ESM = """
export const handler = async (event, context) => {
  console.log("hello", event.name, { nested: true });
  console.warn("careful");
  return {
    event, node: process.version, fn: context.functionName, requestId: context.awsRequestId,
    remaining: context.getRemainingTimeInMillis(), memory: context.memoryLimitInMB,
    arn: context.invokedFunctionArn, group: context.logGroupName,
    execEnv: process.env.AWS_EXECUTION_ENV, nodePath: process.env.NODE_PATH,
  };
};

export const fails = async (event) => {
  throw new TypeError("bad input: " + event.name);
};

export const exits = async () => {
  process.exit(2);
};

export const sleeps = async () => {
  await new Promise((resolve) => setTimeout(resolve, 10000));
  return "woke";
};

export const bigHeap = async () => {
  // 400 MB of JavaScript heap: more than V8 gives itself in the 128 MB
  // generic environment this function is specialised from.
  const kept = [];
  for (let i = 0; i < 50; i++) kept.push(new Array(1e6).fill(i + 0.5));
  return { arrays: kept.length, heapMB: Math.round(process.memoryUsage().heapUsed / 1048576) };
};

export const hog = async () => {
  console.log("allocating");
  const kept = [];
  for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1));
};
"""

COMMONJS = """
const helper = require("./helper");
let calls = 0;
exports.handler = function (event, context, callback) {
  calls += 1;
  console.info("callback style");
  setTimeout(() => callback(null, { calls, doubled: helper.double(event.n) }), 5);
};
exports.rejects = (event, context, callback) => callback(new RangeError("out of range"));
"""

CJS = """
module.exports.handler = async () => ({ kind: "cjs", shared: require("sharedlib").name });
"""


def node_code() -> bytes:
    return zip_of({
        "index.mjs": ESM,
        "cb.js": COMMONJS,
        "helper.js": "exports.double = (n) => n * 2;\n",
        "other.cjs": CJS,
        # Found through NODE_PATH (the function's own value here; layers use
        # Lambda's default, /opt/nodejs/node_modules first).
        "lib/sharedlib/index.js": 'module.exports = { name: "from NODE_PATH" };\n',
        # An ES module importing a package of a NODE_PATH node_modules folder
        # (as from a layer's /opt/nodejs/node_modules).
        "esm.mjs": 'import { where } from "esmpkg";\nexport const handler = async () => where;\n',
        "vendor/node_modules/esmpkg/package.json": '{"name": "esmpkg", "exports": "./index.mjs"}',
        "vendor/node_modules/esmpkg/index.mjs": 'export const where = "esm from NODE_PATH";\n',
    })


def tail_of(resp) -> str:
    return base64.b64decode(resp["LogResult"]).decode()


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def node_functions(client):
    names = {}
    for runtime in NODE_RUNTIMES:
        name = "node-" + runtime.replace(".", "")
        client.create_function(
            FunctionName=name, Runtime=runtime, Role=ROLE, Handler="index.handler",
            Code={"ZipFile": node_code()}, Timeout=10, MemorySize=128,
            Environment={"Variables": {
                "NODE_PATH": "/var/task/lib:/var/task/vendor/node_modules:/opt/nodejs/node_modules",
            }},
        )
        names[runtime] = name
    return names


def set_handler(client, name: str, handler: str, **config) -> None:
    client.update_function_configuration(FunctionName=name, Handler=handler, **config)


def test_python313_runs_on_its_trixie_image(client):
    source = (
        "import sys\n"
        "def handler(event, context):\n"
        "    print('running on', sys.version_info[:2])\n"
        "    return {'version': list(sys.version_info[:2]), 'event': event}\n"
    )
    client.create_function(
        FunctionName="py313", Runtime="python3.13", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": source})}, Timeout=10,
    )
    resp, body = invoke_json(client, "py313", {"a": 1}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body == {"version": [3, 13], "event": {"a": 1}}
    assert "running on (3, 13)" in tail_of(resp)
    assert client.get_function(FunctionName="py313")["Configuration"]["Runtime"] == "python3.13"


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_an_async_esm_handler_gets_lambdas_context_and_logs(client, node_functions, runtime):
    name = node_functions[runtime]
    resp, body = invoke_json(client, name, {"name": "ada"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert body["event"] == {"name": "ada"}
    assert body["node"].startswith("v" + runtime.removeprefix("nodejs").split(".")[0] + ".")
    assert body["fn"] == name
    assert 0 < body["remaining"] <= 10_000
    assert body["memory"] == "128"
    assert body["arn"].endswith(f":function:{name}")
    assert body["group"] == f"/aws/lambda/{name}"
    assert body["execEnv"] == f"AWS_Lambda_{runtime}"
    tail = tail_of(resp)
    request_id = body["requestId"]
    assert re.search(
        rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tINFO\thello ada {{ nested: true }}$",
        tail, re.M,
    ), tail
    assert re.search(rf"\t{request_id}\tWARN\tcareful$", tail, re.M), tail
    assert f"START RequestId: {request_id}" in tail and "REPORT RequestId:" in tail


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_callback_handler_in_commonjs_keeps_its_module_state(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "cb.handler")
    resp, first = invoke_json(client, name, {"n": 21}, LogType="Tail")
    assert "FunctionError" not in resp, first
    assert first["doubled"] == 42
    assert "\tINFO\tcallback style" in tail_of(resp)
    _, second = invoke_json(client, name, {"n": 1})
    assert second == {"calls": first["calls"] + 1, "doubled": 2}


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_cjs_file_and_node_path_are_honoured(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "other.handler")
    resp, body = invoke_json(client, name, {})
    assert "FunctionError" not in resp, body
    assert body == {"kind": "cjs", "shared": "from NODE_PATH"}
    set_handler(client, name, "esm.handler")
    resp, body = invoke_json(client, name, {})
    assert "FunctionError" not in resp, body
    assert body == "esm from NODE_PATH"


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_errors_have_lambdas_node_shape(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "index.fails")
    resp, body = invoke_json(client, name, {"name": "zed"}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad input: zed"
    assert body["trace"][0] == "TypeError: bad input: zed"
    assert any("index.mjs" in line for line in body["trace"])
    assert "stackTrace" not in body
    assert "\tERROR\tInvoke Error \t" in tail_of(resp)

    set_handler(client, name, "cb.rejects")
    resp, body = invoke_json(client, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "out of range")

    set_handler(client, name, "missing.handler")
    resp, body = invoke_json(client, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find module 'missing'" in body["errorMessage"]


def test_a_node_process_exit_is_lambdas_runtime_exit_error(client, node_functions):
    name = node_functions["nodejs22.x"]
    set_handler(client, name, "index.exits")
    resp, body = invoke_json(client, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: exit status 2"), body
    # The environment is gone; the next call starts another and runs.
    set_handler(client, name, "index.handler")
    resp, body = invoke_json(client, name, {"name": "again"})
    assert "FunctionError" not in resp, body


@pytest.mark.parametrize("runtime,files,handler", [
    ("nodejs22.x", {"index.mjs": "process.exit(3);\nexport const handler = async () => 1;\n"},
     "index.handler"),
    ("python3.13", {"app.py": "import sys\nsys.exit(3)\ndef handler(e, c):\n    return 1\n"}, "app.handler"),
])
def test_an_init_that_exits_is_lambdas_runtime_exit_error(client, runtime, files, handler):
    name = "init-exits-" + runtime.replace(".", "")
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": zip_of(files)}, Timeout=10)
    resp, body = invoke_json(client, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError", body
    assert body["errorMessage"].endswith("Error: Runtime exited with error: exit status 3"), body
    client.delete_function(FunctionName=name)


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_node_call_past_its_timeout_is_stopped(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "index.sleeps", Timeout=1)
    try:
        resp, body = invoke_json(client, name, {}, LogType="Tail")
    finally:
        client.update_function_configuration(FunctionName=name, Timeout=10)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert "Status: timeout" in tail_of(resp)


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_node_function_gets_a_heap_as_large_as_its_memory(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "index.bigHeap", MemorySize=1024)
    try:
        resp, body = invoke_json(client, name, {})
    finally:
        client.update_function_configuration(FunctionName=name, MemorySize=128)
    assert "FunctionError" not in resp, body
    assert body["arrays"] == 50 and body["heapMB"] >= 380


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_a_node_function_over_its_memory_is_killed_as_out_of_memory(client, node_functions, runtime):
    name = node_functions[runtime]
    set_handler(client, name, "index.hog")
    resp, body = invoke_json(client, name, {}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    tail = tail_of(resp)
    assert "\tINFO\tallocating" in tail
    assert "Error Type: Runtime.OutOfMemory" in tail


SIGNED_CALL = """
const crypto = require("crypto");
const sha = (d) => crypto.createHash("sha256").update(d).digest("hex");
const mac = (k, d) => crypto.createHmac("sha256", k).update(d).digest();

// ListFunctions through the AWS door with the function's own credentials,
// signed with SigV4 by hand (Lambda's Node runtime bundles an SDK; ours
// does not, so the test carries the few lines an SDK would run).
exports.handler = async () => {
  const { AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = process.env;
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
  const amzDate = new Date().toISOString().replace(/[:-]|\\.\\d{3}/g, "");
  const scope = `${amzDate.slice(0, 8)}/${process.env.AWS_REGION}/lambda/aws4_request`;
  const path = "/2015-03-31/functions/";
  // Every function in one page: the shared stack holds more than the default 50.
  const query = "MaxItems=10000";
  const signed = "host;x-amz-date;x-amz-security-token";
  const lines = `host:${endpoint.host}\\nx-amz-date:${amzDate}\\nx-amz-security-token:${token}\\n`;
  const canonical = ["GET", path, query, lines, signed, sha("")].join("\\n");
  let k = mac("AWS4" + secret, amzDate.slice(0, 8));
  for (const part of [process.env.AWS_REGION, "lambda", "aws4_request"]) k = mac(k, part);
  const signature = crypto.createHmac("sha256", k)
    .update(["AWS4-HMAC-SHA256", amzDate, scope, sha(canonical)].join("\\n")).digest("hex");
  const resp = await fetch(endpoint.origin + path + "?" + query, { headers: {
    "x-amz-date": amzDate, "x-amz-security-token": token,
    authorization: `AWS4-HMAC-SHA256 Credential=${key}/${scope}, `
      + `SignedHeaders=${signed}, Signature=${signature}`,
  } });
  return { endpoint: endpoint.href, status: resp.status, body: await resp.json() };
};
"""


def test_node_calls_aws_through_the_door_with_its_own_credentials(stack, client):
    client.create_function(
        FunctionName="node-door", Runtime="nodejs20.x", Role=ROLE, Handler="door.handler",
        Code={"ZipFile": zip_of({"door.js": SIGNED_CALL})}, Timeout=10,
    )
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}]}
    stack.shell(
        "from functions.models import Function; "
        f"Function.objects.filter(name='node-door').update(execution_policy={policy!r})"
    )
    resp, body = invoke_json(client, "node-door", {})
    assert "FunctionError" not in resp, body
    assert body["endpoint"] == "http://127.0.0.1:4566/"
    assert body["status"] == 200, body
    assert "node-door" in [f["FunctionName"] for f in body["body"]["Functions"]]


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_node_finds_a_layers_packages_from_commonjs_and_es_modules(client, runtime):
    # Lambda's NODE_PATH (/opt/nodejs/node_modules...) with no variable of
    # the function's own; the ES module through the bootstrap's resolve hook.
    suffix = runtime.replace(".", "")
    layer = client.publish_layer_version(
        LayerName=f"greeters-{suffix}", CompatibleRuntimes=[runtime],
        Content={"ZipFile": zip_of({
            "nodejs/node_modules/greet/index.js": 'module.exports = (n) => "hello " + n;\n',
            "nodejs/node_modules/greetesm/package.json": '{"name": "greetesm", "exports": "./index.mjs"}',
            "nodejs/node_modules/greetesm/index.mjs": 'export const greet = (n) => "hi " + n;\n',
        })},
    )["LayerVersionArn"]
    name = f"node-layered-{suffix}"
    client.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="cjs.handler", Layers=[layer],
        Code={"ZipFile": zip_of({
            "cjs.js": 'const greet = require("greet");\n'
                      "exports.handler = async (e) => "
                      "({ greeting: greet(e.who), path: process.env.NODE_PATH });\n",
            "esm.mjs": 'import { greet } from "greetesm";\n'
                       "export const handler = async (e) => greet(e.who);\n",
        })}, Timeout=10,
    )
    resp, body = invoke_json(client, name, {"who": "ada"})
    assert "FunctionError" not in resp, body
    major = runtime.removeprefix("nodejs").split(".")[0]
    assert body == {"greeting": "hello ada", "path": (
        f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task")}
    set_handler(client, name, "esm.handler")
    resp, body = invoke_json(client, name, {"who": "bo"})
    assert "FunctionError" not in resp, body
    assert body == "hi bo"


def test_a_node_package_json_and_a_python313_requirements_are_installed_and_run(client):
    # Dependency builds (functions.dependency_install) for these runtimes:
    # npm for Node (the runtime image has no npm: the host's), pip for 3.13.
    wait = {"Delay": 1, "MaxAttempts": 240}
    client.create_function(
        FunctionName="node-deps", Runtime="nodejs22.x", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": zip_of({
            "index.js": 'const leftPad = require("left-pad");\n'
                        "exports.handler = async (e) => leftPad(e.n, 5, '0');\n",
            "package.json": '{"name": "node-deps", "dependencies": {"left-pad": "1.3.0"}}',
        })}, Timeout=10,
    )
    client.create_function(
        FunctionName="py313-deps", Runtime="python3.13", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({
            "app.py": "import tabulate\n\ndef handler(e, c):\n"
                      "    return tabulate.tabulate([[1, 2]], tablefmt='plain')\n",
            "requirements.txt": "tabulate==0.9.0\n",
        })}, Timeout=10,
    )
    for name in ("node-deps", "py313-deps"):
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=wait)
        config = client.get_function(FunctionName=name)["Configuration"]
        assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful"), config
    resp, body = invoke_json(client, "node-deps", {"n": 42})
    assert "FunctionError" not in resp, body
    assert body == "00042"
    resp, body = invoke_json(client, "py313-deps", {})
    assert "FunctionError" not in resp, body
    assert body == "1  2"


def json_lines(tail: str) -> list[dict]:
    out = []
    for line in tail.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_python_json_logging_config(stack, client):
    source = (
        "import logging\n"
        "log = logging.getLogger('orders')\n"
        "def handler(event, context):\n"
        "    log.info('placed %s', event['id'])\n"
        "    log.debug('not shown at INFO')\n"
        "    logging.getLogger().warning('root warns')\n"
        "    print('plain print')\n"
        "    return context.aws_request_id\n"
    )
    client.create_function(
        FunctionName="py-json-logs", Runtime="python3.13", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": source})}, Timeout=10,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"},
    )
    resp, request_id = invoke_json(client, "py-json-logs", {"id": 7}, LogType="Tail")
    assert "FunctionError" not in resp, request_id
    tail = tail_of(resp)
    entries = json_lines(tail)
    app = [e for e in entries if "level" in e]
    assert [(e["level"], e["message"], e["logger"]) for e in app] == [
        ("INFO", "placed 7", "orders"), ("WARNING", "root warns", "root"),
    ]
    assert all(e["requestId"] == request_id for e in app)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", app[0]["timestamp"])
    start = [e for e in entries if e.get("type") == "platform.start"]
    assert start and start[0]["record"]["requestId"] == request_id
    report = [e for e in entries if e.get("type") == "platform.report"]
    assert report and report[0]["record"]["requestId"] == request_id, tail
    assert report[0]["record"]["status"] == "success"
    assert report[0]["record"]["metrics"]["memorySizeMB"] == 128
    assert "REPORT RequestId" not in tail
    assert "plain print" in tail  # print stays text, as in Lambda
    assert "not shown at INFO" not in tail
    assert "START RequestId" not in tail


@pytest.mark.parametrize("runtime", ["nodejs22.x"])
def test_node_json_logging_config_filters_app_and_system_lines(stack, client, runtime):
    source = """
export const handler = async (event, context) => {
  console.debug("debug detail");
  console.info("info detail");
  console.warn("warned", event.id);
  console.error(new Error("logged error"));
  return context.awsRequestId;
};
"""
    client.create_function(
        FunctionName="node-json-logs", Runtime=runtime, Role=ROLE, Handler="index.handler",
        Code={"ZipFile": zip_of({"index.mjs": source})}, Timeout=10,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN"},
    )
    resp, request_id = invoke_json(client, "node-json-logs", {"id": 3}, LogType="Tail")
    assert "FunctionError" not in resp, request_id
    tail = tail_of(resp)
    entries = json_lines(tail)
    assert [list(e) for e in entries] == [["timestamp", "level", "requestId", "message"]] * 2, tail
    assert [(e["level"], e["requestId"]) for e in entries] == [("WARN", request_id), ("ERROR", request_id)]
    assert entries[0]["message"] == "warned 3"
    assert entries[1]["message"]["errorType"] == "Error"
    assert entries[1]["message"]["errorMessage"] == "logged error"
    assert "detail" not in tail
    # SystemLogLevel WARN: no platform.start or platform.report (INFO) line.
    assert "platform.start" not in tail and "START RequestId" not in tail
    assert "platform.report" not in tail and "REPORT RequestId" not in tail
