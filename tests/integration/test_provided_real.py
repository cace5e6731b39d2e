"""provided.al2023 on the real path: boto3 -> daphne -> worker -> Docker,
with bootstraps that talk to the Lambda Runtime API inside the container
(a shell script using curl, a Python script, a Rust binary when this
machine has a Rust toolchain)."""

import base64
import io
import json
import shutil
import subprocess
import textwrap
import zipfile

import pytest

from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

SHELL = textwrap.dedent("""\
    #!/bin/sh
    set -eu
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    HEADERS=/tmp/headers
    echo "shell init, handler $_HANDLER"
    while true; do
      EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
      ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
      ARN=$(grep -i '^Lambda-Runtime-Invoked-Function-Arn:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
      echo "shell got $EVENT"
      case "$EVENT" in
        *fail*)
          curl -sS -o /dev/null -X POST "$API/invocation/$ID/error" \\
            -H "Lambda-Runtime-Function-Error-Type: Shell.Failure" \\
            -d '{"errorMessage":"the shell failed","errorType":"Shell.Failure","stackTrace":["bootstrap"]}' ;;
        *sleep*) sleep 30 ;;
        *) curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" \\
             -d "{\\"echo\\":$EVENT,\\"id\\":\\"$ID\\",\\"arn\\":\\"$ARN\\",\\"user\\":\\"$(id -u)\\"}" ;;
      esac
    done
""")

PYTHON = textwrap.dedent("""\
    #!/usr/bin/env python3
    import json, os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    calls = 0
    while True:
        with urllib.request.urlopen(api + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read())
        calls += 1
        print("python call", calls, flush=True)
        if event.get("allocate"):
            hog = bytearray(event["allocate"] << 20)
            hog[::4096] = b"x" * len(hog[::4096])
        body = json.dumps({"calls": calls, "event": event, "task": os.getcwd(),
                           "fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                           "has_credentials": bool(os.environ.get("AWS_SESSION_TOKEN"))})
        urllib.request.urlopen(urllib.request.Request(
            api + "/invocation/" + request_id + "/response", data=body.encode(), method="POST"))
""")

INIT_ERROR = textwrap.dedent("""\
    #!/bin/sh
    echo "loading the handler failed"
    curl -sS -o /dev/null -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \\
      -H "Lambda-Runtime-Function-Error-Type: Runtime.Custom" \\
      -d '{"errorMessage":"Failed to load function.","errorType":"InvalidFunctionException"}'
    exit 1
""")

# A layer's runtime: runs $LAMBDA_TASK_ROOT/$_HANDLER with the event as its argument.
LAYER_RUNTIME = textwrap.dedent("""\
    #!/bin/sh
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      EVENT=$(curl -sS -D /tmp/h "$API/invocation/next")
      ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/h | tr -d '\\r' | cut -d' ' -f2)
      RESULT=$(sh "$LAMBDA_TASK_ROOT/$_HANDLER" "$EVENT")
      curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "$RESULT"
    done
""")

RUST = textwrap.dedent("""\
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    fn main() {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
        loop {
            let mut s = TcpStream::connect(&api).unwrap();
            write!(s, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n").unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut id, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() { break; }
                let lower = l.to_ascii_lowercase();
                if lower.starts_with("lambda-runtime-aws-request-id:") { id = l[30..].trim().to_string(); }
                if lower.starts_with("content-length:") { len = l[15..].trim().parse().unwrap(); }
            }
            let mut event = vec![0u8; len];
            r.read_exact(&mut event).unwrap();
            println!("rust handled {}", id);
            let body = format!("{{\\"rust\\":true,\\"event\\":{}}}", String::from_utf8_lossy(&event));
            let mut p = TcpStream::connect(&api).unwrap();
            write!(p, "POST /2018-06-01/runtime/invocation/{}/response HTTP/1.1\\r\\nHost: x\\r\\n\\
                       Content-Length: {}\\r\\nConnection: close\\r\\n\\r\\n{}",
                   id, body.len(), body).unwrap();
            let mut answer = String::new();
            p.read_to_string(&mut answer).unwrap();
        }
    }
""")


def zip_with(files: dict[str, bytes | str], executable=("bootstrap",)) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def create(client, name: str, files: dict, **kwargs):
    kwargs.setdefault("Timeout", 10)
    return client.create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE,
        Handler=kwargs.pop("Handler", "function.handler"), Code={"ZipFile": zip_with(files)}, **kwargs,
    )


def invoke(client, name: str, payload, **kwargs):
    resp = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    body = resp["Payload"].read()
    return resp, body


def statuses(stack, name: str) -> list[dict]:
    """The function's recorded invocations (sync records are written just after the answer)."""
    return stack.rows(f"Invocation.objects.filter(function__name='{name}').values('status')")


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def shell_fn(client):
    create(client, "prov-shell", {"bootstrap": SHELL})
    return "prov-shell"


def test_a_shell_bootstrap_answers_through_the_runtime_api(client, shell_fn):
    resp, body = invoke(client, shell_fn, {"name": "ada"}, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    answer = json.loads(body)
    assert answer["echo"] == {"name": "ada"}
    assert answer["arn"].endswith(":function:prov-shell")
    assert answer["user"] == "10001"  # never root
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert 'shell got {"name": "ada"}' in tail
    assert f"START RequestId: {answer['id']}" in tail
    assert "REPORT RequestId:" in tail


def test_an_error_posted_to_the_runtime_api_is_a_function_error(client, shell_fn):
    resp, body = invoke(client, shell_fn, {"want": "fail"})
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": "the shell failed", "errorType": "Shell.Failure", "stackTrace": ["bootstrap"],
    }
    # The environment stays: the next call is warm and succeeds.
    resp, body = invoke(client, shell_fn, {"after": "error"})
    assert "FunctionError" not in resp
    assert json.loads(body)["echo"] == {"after": "error"}


def test_a_bootstrap_past_its_timeout_times_out(client, stack):
    create(client, "prov-slow", {"bootstrap": SHELL}, Timeout=1)
    resp, body = invoke(client, "prov-slow", {"want": "sleep"})
    assert resp["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == "Task timed out after 1.00 seconds"
    rows = wait_for(lambda: statuses(stack, "prov-slow"))
    assert [r["status"] for r in rows] == ["timed_out"]
    # A new environment serves the next call.
    resp, body = invoke(client, "prov-slow", {"n": 1})
    assert json.loads(body)["echo"] == {"n": 1}


def test_a_python_bootstrap_keeps_its_process_between_calls(client):
    create(client, "prov-python", {"bootstrap": PYTHON}, MemorySize=256)
    _, first = invoke(client, "prov-python", {"n": 1})
    resp, second = invoke(client, "prov-python", {"n": 2}, LogType="Tail")
    one, two = json.loads(first), json.loads(second)
    assert two["calls"] == one["calls"] + 1
    assert two["event"] == {"n": 2}
    assert two["task"] == "/var/task"
    assert two["fn"] == "prov-python"
    assert two["has_credentials"] is True
    assert f"python call {two['calls']}" in base64.b64decode(resp["LogResult"]).decode()


def test_a_bootstrap_out_of_memory_is_out_of_memory(client, stack):
    create(client, "prov-hog", {"bootstrap": PYTHON}, MemorySize=128)
    resp, body = invoke(client, "prov-hog", {"allocate": 400})
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.OutOfMemory"
    rows = wait_for(lambda: statuses(stack, "prov-hog"))
    assert [r["status"] for r in rows] == ["out_of_memory"]


def test_an_init_error_is_the_callers_answer(client):
    create(client, "prov-init-error", {"bootstrap": INIT_ERROR})
    resp, body = invoke(client, "prov-init-error", {}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": "Failed to load function.", "errorType": "InvalidFunctionException", "stackTrace": [],
    }
    assert "loading the handler failed" in base64.b64decode(resp["LogResult"]).decode()


def test_a_bootstrap_that_exits_in_its_init_is_runtime_exit_error(client):
    create(client, "prov-exits", {"bootstrap": "#!/bin/sh\necho no config >&2\nexit 2\n"})
    resp, body = invoke(client, "prov-exits", {})
    assert resp["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 2")


def test_a_layers_bootstrap_runs_when_the_code_has_none(client):
    # The runtime client in a layer (/opt/bootstrap), the handler in the code, as Lambda's layer runtimes do.
    layer = client.publish_layer_version(
        LayerName="shell-runtime", CompatibleRuntimes=["provided.al2023"],
        Content={"ZipFile": zip_with({"bootstrap": LAYER_RUNTIME})},
    )
    create(client, "prov-layered", {"handler.sh": 'echo "{\\"handled\\":$1}"\n'},
           Handler="handler.sh", Layers=[layer["LayerVersionArn"]])
    resp, body = invoke(client, "prov-layered", {"via": "layer"})
    assert "FunctionError" not in resp, body
    assert json.loads(body) == {"handled": {"via": "layer"}}


def test_code_without_a_bootstrap_is_an_invalid_entrypoint(client):
    create(client, "prov-none", {"function.sh": "echo hi\n"})
    resp, body = invoke(client, "prov-none", {})
    assert resp["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" in error["errorMessage"]


AWS_CALLER = textwrap.dedent("""\
    #!/bin/sh
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      curl -sS -D /tmp/h -o /tmp/event "$API/invocation/next"
      ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/h | tr -d '\\r' | cut -d' ' -f2)
      # The function's own credentials, signed by curl, through the AWS door.
      curl -sS -o /tmp/answer --aws-sigv4 "aws:amz:${AWS_REGION}:lambda" \\
        --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}" \\
        -H "X-Amz-Security-Token: ${AWS_SESSION_TOKEN}" "${AWS_ENDPOINT_URL}/2015-03-31/functions/"
      curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" --data-binary @/tmp/answer
    done
""")


def test_the_functions_own_credentials_reach_the_aws_door(client, stack):
    create(client, "prov-aws", {"bootstrap": AWS_CALLER})
    resp, body = invoke(client, "prov-aws", {})
    assert "FunctionError" not in resp, body
    answer = json.loads(body)
    # Signed with its credentials and held to its (empty) execution policy.
    account = stack.rows(
        "Function.objects.filter(name='prov-aws').values_list('team__account_id', flat=True)"
    )[0]
    assert answer == {"Type": "User", "message": (
        f"User: arn:aws:sts::{account}:assumed-role/lambda-role/prov-aws is not authorized to perform: "
        "lambda:ListFunctions on resource: * because no identity-based policy allows the "
        "lambda:ListFunctions action"
    )}


@pytest.mark.skipif(shutil.which("rustc") is None, reason="no Rust toolchain on this machine")
def test_a_rust_binary_bootstrap(client, tmp_path):
    source = tmp_path / "main.rs"
    source.write_text(RUST)
    binary = tmp_path / "bootstrap"
    subprocess.run(["rustc", "-O", "-o", str(binary), str(source)], check=True, timeout=300)
    create(client, "prov-rust", {"bootstrap": binary.read_bytes()})
    resp, body = invoke(client, "prov-rust", {"lang": "rust"}, LogType="Tail")
    assert "FunctionError" not in resp, body
    assert json.loads(body) == {"rust": True, "event": {"lang": "rust"}}
    assert "rust handled " in base64.b64decode(resp["LogResult"]).decode()
