"""Where a call's time goes (invocations.call_marks) on the real stack
(uvicorn, Redis, Celery worker, Docker) driven by boto3: a stack started
with STRATUS_CALL_MARKS writes every stage of a sync Invoke, from the web,
the worker and the sandbox, under the request id Lambda's answer gives."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from invocations import call_marks
from tests.integration.helpers import create, running
from tests.stack import Stack

pytestmark = pytest.mark.integration

SOURCE = '''def handler(event, context):
    return {"ok": event.get("n")}
'''


@pytest.fixture(scope="module")
def marked():
    folder = Path(tempfile.mkdtemp(prefix="stratus-marks-"))
    path = folder / "marks.log"
    try:
        with running(Stack(STRATUS_CALL_MARKS=str(path))) as s:
            yield s, path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_every_stage_of_a_call_and_of_an_alias_call_is_marked_under_its_request_id(marked):
    stack, path = marked
    lam = stack.lambda_client()
    create(lam, "cm-warm", SOURCE, Publish=True)
    lam.create_alias(FunctionName="cm-warm", Name="live", FunctionVersion="1")
    ids = []
    for n, name in enumerate(["cm-warm", "cm-warm", "cm-warm:live"]):
        resp = lam.invoke(FunctionName=name, Payload=b'{"n": %d}' % n)
        assert json.loads(resp["Payload"].read()) == {"ok": n}
        ids.append(resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])
    found = call_marks.read(path)
    for request_id in ids:
        assert set(found[request_id]) == set(call_marks.STAGES), (request_id, found.get(request_id))
        # Each stage was marked once per call, by the process that reached it.
        lines = [line for line in path.read_text().splitlines() if line.startswith(request_id + " ")]
        assert len(lines) == len(call_marks.STAGES)
    web_pids = {line.split()[3] for line in path.read_text().splitlines() if " web." in line}
    worker_pids = {line.split()[3] for line in path.read_text().splitlines() if " worker." in line}
    assert web_pids and worker_pids and not web_pids & worker_pids
    # A refused call (no such function) never reached a worker: the web's
    # marks only, under the request id of Lambda's error.
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as refused:
        lam.invoke(FunctionName="cm-missing", Payload=b"{}")
    refused_id = refused.value.response["ResponseMetadata"]["RequestId"]
    assert set(call_marks.read(path)[refused_id]) == {"web.received", "web.sent"}
