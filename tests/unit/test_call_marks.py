"""invocations.call_marks: stage marks of sync calls, off by default."""

import asyncio

from django.test import override_settings

from invocations import call_marks


def test_marks_are_off_without_the_setting(tmp_path):
    call_marks.mark("r1", "worker.popped")
    call_marks.begin()
    call_marks.note("web.found")
    call_marks.flush("r1")
    assert not call_marks.on()
    assert list(tmp_path.iterdir()) == []


def test_marks_of_several_writers_are_read_per_request(tmp_path):
    path = tmp_path / "marks.log"
    with override_settings(STRATUS_CALL_MARKS=str(path)):
        call_marks.mark("r1", "worker.popped", 1_000_000)
        call_marks.mark("r2", "worker.popped", 5_000_000)
        call_marks.mark("r1", "worker.leased", 3_500_000)
        call_marks.mark("r1", "worker.leased", 9_000_000)  # only the first counts
    found = call_marks.read(path)
    assert found == {
        "r1": {"worker.popped": 1_000_000, "worker.leased": 3_500_000},
        "r2": {"worker.popped": 5_000_000},
    }


def test_stages_are_the_gaps_between_present_marks_in_order():
    marks = {"web.pushing": 2_000_000, "web.received": 0, "worker.result": 4_500_000}
    assert call_marks.stages(marks) == {
        "web.received -> web.pushing": 2.0,
        "web.pushing -> worker.result": 2.5,
    }


def test_the_web_keeps_its_marks_until_the_request_id_is_known(tmp_path):
    path = tmp_path / "marks.log"

    async def serve(request_id):
        # As functions.invoke_api.serve: one asyncio task per request.
        call_marks.begin()
        call_marks.note("web.found")
        await asyncio.sleep(0)
        call_marks.note("web.sent")
        call_marks.flush(request_id)

    async def both():
        await asyncio.gather(serve("a"), serve("b"), serve(None))

    with override_settings(STRATUS_CALL_MARKS=str(path)):
        asyncio.run(both())
    found = call_marks.read(path)
    assert set(found) == {"a", "b"}  # an answer without a request id is dropped
    for request_id in ("a", "b"):
        assert list(found[request_id]) == ["web.received", "web.found", "web.sent"]
        assert found[request_id]["web.received"] <= found[request_id]["web.sent"]
