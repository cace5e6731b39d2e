"""Processes die; nothing a caller was promised is lost (issue 7, "Done
means"). Real processes, real Docker, boto3 for the Lambda API. Each test
kills one of the stack's own processes (kill -9 of its whole process group)
and starts it again on the same port; a test that fails half-way leaves the
stack whole for the next one (`revive_the_dead`).

Run alone: `.venv/bin/pytest tests/integration/test_chaos.py` (or `-m chaos`)."""

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import docker.errors
import pytest
from botocore.exceptions import ClientError

from invocations.dispatch import DONE_MARGIN_S, START_BOUND_S
from tests.integration.helpers import create, running, settle, wait_for
from tests.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

# The platform's give-up time for a sync call still waiting in the queue
# (STRATUS_SYNC_QUEUE_WAIT, seconds): small here, so a test outlives it.
SYNC_QUEUE_WAIT_S = 3
# The platform's own give-up time, past the queue wait and the function
# timeout, for a sync call a worker took but never answered (its worker
# died): a caller waits no longer than that for its error.
SYNC_GIVE_UP_S = START_BOUND_S + DONE_MARGIN_S
# The answer's own way back (HTTP, the event loop) on a busy machine.
ANSWER_SLACK_S = 2
# How late past the queue wait a sync call may still start (the give-up
# racing a worker's pop).
QUEUE_WAIT_SLACK_S = 2
# Final statuses (invocations.models.FINISHED).
FINAL = {"succeeded", "failed", "timed_out", "out_of_memory", "throttled", "expired", "cancelled"}

# Prints a token from its event (so a run is found by its logs as well as
# by its event), sleeps as asked, and succeeds.
SLEEPER = '''
import time

def handler(event, context):
    print("RUN", event.get("token", ""), context.aws_request_id)
    time.sleep(event.get("sleep", 0))
    return {"token": event.get("token"), "slept": event.get("sleep", 0)}
'''


def chaos_stack(**options) -> Stack:
    return Stack(
        STRATUS_RETRY_BACKOFF_SCALE="0.01",
        STRATUS_SYNC_QUEUE_WAIT=str(SYNC_QUEUE_WAIT_S),
        # A killed worker is found out within seconds, not the default 20.
        STRATUS_HEARTBEAT="1",
        STRATUS_WORKER_LOST_AFTER="4",
        # One team keeps every lane busy on purpose (calls queue for a
        # worker): Lambda's account limit, not the share kept for others.
        STRATUS_TEAM_CONCURRENCY="1000",
        **options,
    )


@pytest.fixture(scope="module")
def stack():
    """Redis append-only, as bin/setup runs it."""
    with running(chaos_stack()) as s:
        yield s


@pytest.fixture(scope="module")
def stack_without_persistence():
    """Redis without persistence: it comes back from kill -9 empty, as one
    that lost its data would (docker-compose's redis:7 keeps only periodic
    snapshots)."""
    with running(chaos_stack(redis_appendonly=False)) as s:
        yield s


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client(max_pool_connections=32, read_timeout=60)


@pytest.fixture(autouse=True)
def revive_the_dead(stack):
    """Whatever a test killed runs again afterwards, even when it failed."""
    yield
    for name, proc in list(stack.procs.items()):
        if proc.poll() is not None:
            stack.revive(name)


# Helpers ---------------------------------------------------------------------


def invoke_async(client, name: str, event: dict) -> str:
    resp = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 202
    return resp["ResponseMetadata"]["RequestId"]


def quoted(ids) -> str:
    return "[" + ", ".join(f"'{i}'" for i in ids) + "]"


def invocations(stack, ids, *fields: str) -> dict[str, dict]:
    """Rows by request id."""
    fields = fields or ("status", "attempts", "error")
    rows = stack.rows(
        f"Invocation.objects.filter(request_id__in={quoted(ids)})"
        f".values('request_id', {quoted(fields)[1:-1]})"
    )
    return {str(r["request_id"]): r for r in rows}


def attempts_of(stack, ids) -> dict[str, list[dict]]:
    rows = stack.rows(
        f"Attempt.objects.filter(invocation_id__in={quoted(ids)}).order_by('number')"
        ".values('invocation_id', 'number', 'status', 'error', 'started_at')"
    )
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(str(row["invocation_id"]), []).append(row)
    return found


def dead_letters(stack, ids) -> list[str]:
    return [str(i) for i in stack.rows(
        f"DeadLetter.objects.filter(invocation_id__in={quoted(ids)}).values_list('invocation_id', flat=True)"
    )]


def runs_of(stack, tokens, request_ids: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Every record of a call, found by the token in its event or its logs,
    or by the request id its caller was given (`request_ids`: token -> id).
    (Sync calls are recorded after they answer, so look until they are.)"""
    request_ids = {t: i for t, i in (request_ids or {}).items() if i}
    query = " | ".join(f"Q(event__contains='{t}') | Q(logs__contains='{t}')" for t in tokens)
    if request_ids:
        query += f" | Q(request_id__in={quoted(request_ids.values())})"
    rows = stack.rows(
        f"Invocation.objects.filter({query})"
        ".values('request_id', 'event', 'logs', 'status', 'started_at', 'finished_at', 'error', 'cold_start')"
    )
    found: dict[str, list[dict]] = {t: [] for t in tokens}
    for row in rows:
        for t in tokens:
            if (t in (row["event"] or "") or t in (row["logs"] or "")
                    or str(row["request_id"]) == request_ids.get(t)):
                found[t].append(row)
    return found


def when(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def error_type(row: dict) -> str:
    return (row.get("error") or {}).get("errorType", "")


class SyncCall(threading.Thread):
    """One sync Invoke on its own thread: what the caller was told, and when."""

    def __init__(self, client, name: str, event: dict):
        super().__init__(daemon=True)
        self.client, self.name, self.event = client, name, event
        self.outcome = ""  # "ok", "error" (the platform said it failed) or "no answer"
        self.detail = ""
        self.request_id = ""
        self.started = self.ended = 0.0

    def run(self) -> None:
        self.started = time.time()
        try:
            resp = self.client.invoke(FunctionName=self.name, Payload=json.dumps(self.event).encode())
            self.request_id = resp["ResponseMetadata"].get("RequestId", "")
            body = resp["Payload"].read()
            self.outcome = "error" if resp.get("FunctionError") else "ok"
            self.detail = body.decode(errors="replace")[:300]
        except ClientError as e:
            self.outcome, self.detail = "error", str(e)[:300]
            self.request_id = e.response.get("ResponseMetadata", {}).get("RequestId", "")
        except Exception as e:  # read timeout, connection reset
            self.outcome, self.detail = "no answer", repr(e)[:300]
        self.ended = time.time()

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


# kill -9 of the worker ------------------------------------------------------


@pytest.mark.timeout(150)
def test_a_killed_worker_loses_no_async_event_and_its_running_ones_are_retried(stack, client):
    create(client, "chaos-async", SLEEPER, Timeout=10)
    ids = [invoke_async(client, "chaos-async", {"i": i, "sleep": 1}) for i in range(30)]
    wait_for(lambda: len([
        r for r in invocations(stack, ids).values() if r["status"] == "running"
    ]) >= 4, timeout=60, interval=0.1)

    stack.kill("worker")
    killed_at = time.time()
    # No worker runs now, so the rows still `running` are attempts that died with it.
    running_at_kill = {i for i, r in invocations(stack, ids).items() if r["status"] == "running"}
    time.sleep(1)
    stack.revive("worker")

    rows = settle(
        lambda: invocations(stack, ids),
        lambda rows: len(rows) == len(ids) and all(r["status"] in FINAL for r in rows.values()),
        timeout=40,
    )
    problems = []
    missing = set(ids) - set(rows)
    if missing:
        problems.append(f"{len(missing)} accepted events have no row")
    unfinished = {i: r["status"] for i, r in rows.items() if r["status"] not in FINAL}
    if unfinished:
        problems.append(
            f"{len(unfinished)} of {len(ids)} events never reached a final status "
            f"({sorted(set(unfinished.values()))}; {len(running_at_kill & set(unfinished))} of them were "
            f"running when the worker died)"
        )
    not_succeeded = {
        i: (r["status"], error_type(r)) for i, r in rows.items() if r["status"] in FINAL - {"succeeded"}
    }
    if not_succeeded:
        problems.append(f"the handler succeeds, yet these ended otherwise: {not_succeeded}")

    attempts = attempts_of(stack, ids)
    lost = {i: [a for a in attempts.get(i, []) if error_type(a) == "Runtime.WorkerLost"] for i in ids}
    # The platform may have closed some lost attempts before the test looked.
    in_flight = running_at_kill | {i for i, found in lost.items() if found}
    if not in_flight:
        problems.append("no event was running when the worker was killed")
    for request_id in sorted(in_flight):
        found = lost[request_id]
        started = when(found[0]["started_at"]) if found else None
        if not (len(found) == 1 and found[0]["status"] == "failed"
                and (started is None or started < killed_at)
                and rows.get(request_id, {}).get("attempts", 0) >= 2):
            problems.append(
                f"{request_id} was running when the worker died: row "
                f"{rows.get(request_id, {}).get('status')}/{rows.get(request_id, {}).get('attempts')} "
                f"attempts, attempt records {attempts.get(request_id)}"
            )
    dead = dead_letters(stack, ids)
    if dead:
        problems.append(f"dead-lettered although a retry remained: {dead}")
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(150)
def test_sync_callers_of_a_killed_worker_get_an_error_and_their_calls_never_run_later(stack, client):
    timeout_s = 5
    bound = SYNC_QUEUE_WAIT_S + timeout_s + SYNC_GIVE_UP_S + ANSWER_SLACK_S
    # A caller that hears nothing by then gives up itself ("no answer").
    client = stack.lambda_client(max_pool_connections=32, read_timeout=bound + 5)
    create(client, "chaos-sync", SLEEPER, Timeout=timeout_s)
    # Four warm environments, one per worker process.
    warm = [SyncCall(client, "chaos-sync", {"sleep": 0.5}) for _ in range(4)]
    for call in warm:
        call.start()
    for call in warm:
        call.join(60)
    # Three times the worker's concurrency: four run, the rest wait in the queue.
    calls = [SyncCall(client, "chaos-sync", {"token": uuid.uuid4().hex, "sleep": 3}) for _ in range(12)]
    for call in calls:
        call.start()
    time.sleep(1.0)

    stack.kill("worker")
    # Down longer than the queue wait, so the waiting calls are given up on
    # while no worker could take them.
    time.sleep(SYNC_QUEUE_WAIT_S + 2)
    stack.revive("worker")
    probe = wait_for(lambda: _sync_ok(client, "chaos-sync"), timeout=60, interval=0.5)
    assert probe

    for call in calls:
        call.join(bound + 30)
    # Each promise is checked and every broken one reported together: a
    # chaos run is too slow to learn one failure at a time.
    problems = []
    hung = [(round(c.elapsed, 1), c.outcome, c.detail[:120]) for c in calls
            if c.is_alive() or c.outcome == "no answer" or c.elapsed > bound]
    if hung:
        problems.append(f"{len(hung)} callers waited past {bound}s (queue wait + timeout + give-up): {hung}")
    # A caller that gave up waiting saw its call fail as surely as one told so.
    saw_fail = [c for c in calls if c.outcome in ("error", "no answer") and not c.is_alive()]
    if not saw_fail:
        problems.append("no caller saw its call fail, yet the worker died under four of them")

    tokens = [c.event["token"] for c in calls]
    given = {c.event["token"]: c.request_id for c in calls}
    # Records may be written after the answers: give them a moment.
    runs = settle(
        lambda: runs_of(stack, tokens, given),
        lambda runs: all(rs and all(r["status"] in FINAL for r in rs) for rs in runs.values()),
        timeout=20,
    )
    late = [
        (c.outcome, run["status"], run["started_at"], datetime.fromtimestamp(c.ended, UTC).isoformat())
        for c in saw_fail for run in runs[c.event["token"]]
        if when(run["started_at"]) is not None and when(run["started_at"]) > c.ended
    ]
    if late:
        problems.append(
            f"{len(late)} calls ran after their caller saw them fail (caller saw, record status, "
            f"record started, caller's moment): {late}"
        )
    # No call waits in the queue past the give-up time and then runs (the
    # worker was down longer than that, so eight of them had to be given up).
    overdue = [
        (c.outcome, run["status"], round(when(run["started_at"]) - c.started, 1))
        for c in calls for run in runs[c.event["token"]]
        if when(run["started_at"]) is not None
        and when(run["started_at"]) - c.started > SYNC_QUEUE_WAIT_S + QUEUE_WAIT_SLACK_S
    ]
    if overdue:
        problems.append(
            f"{len(overdue)} calls started running past the {SYNC_QUEUE_WAIT_S}s queue wait "
            f"(caller told, record status, seconds from the call to its start): {overdue}"
        )
    # Every call is on the record, once, in a final status (the ones the
    # worker died under failed, the ones given up on in the queue cancelled),
    # and the record agrees with what the caller was told.
    records = {c.event["token"]: [r["status"] for r in runs[c.event["token"]]] for c in calls}
    disagree = [
        (c.outcome, records[c.event["token"]]) for c in calls
        if len(records[c.event["token"]]) != 1 or records[c.event["token"]][0] not in FINAL
        or (records[c.event["token"]][0] == "succeeded") != (c.outcome == "ok")
    ]
    if disagree:
        problems.append(
            f"calls not recorded once, finally, as their caller was told (told, records): {disagree}"
        )
    assert not problems, "\n".join(problems)


def _sync_ok(client, name: str) -> bool:
    call = SyncCall(client, name, {"sleep": 0})
    call.run()
    return call.outcome == "ok"


# kill -9 of Redis -------------------------------------------------------------

REDIS_DOWN_S = 8
# While Redis is down, each process's log may grow this much at most, and
# hold no more tracebacks than one per two seconds (losing the connection
# may be worth one; one every time a loop retries is not).
LOG_GROWTH_MAX = 32 * 1024
TRACEBACKS_MAX = REDIS_DOWN_S // 2


@pytest.mark.timeout(180)
@pytest.mark.parametrize("redis_keeps_data", [True, False], ids=["append-only", "no-persistence"])
def test_a_redis_restart_fails_no_async_event_and_every_process_recovers_on_its_own(
    request, redis_keeps_data
):
    stack = request.getfixturevalue("stack" if redis_keeps_data else "stack_without_persistence")
    timeout_s = 5
    bound = SYNC_QUEUE_WAIT_S + timeout_s + SYNC_GIVE_UP_S + ANSWER_SLACK_S
    client = stack.lambda_client(max_pool_connections=32, read_timeout=bound + 5)
    create(client, "chaos-redis", SLEEPER, Timeout=timeout_s)
    survivors = [name for name in stack.procs if name != "redis"]
    pids = {name: stack.procs[name].pid for name in survivors}
    ids = [invoke_async(client, "chaos-redis", {"i": i, "sleep": 1}) for i in range(20)]
    sync_calls: list[SyncCall] = []
    stop_calling = threading.Event()

    def call_sync_meanwhile():
        while not stop_calling.is_set():
            call = SyncCall(client, "chaos-redis", {"token": uuid.uuid4().hex, "sleep": 0.2})
            sync_calls.append(call)
            call.run()
            time.sleep(0.2)

    caller = threading.Thread(target=call_sync_meanwhile, daemon=True)
    caller.start()
    wait_for(lambda: any(r["status"] == "running" for r in invocations(stack, ids).values()),
             timeout=60, interval=0.1)

    sizes = {name: stack.log_size(name) for name in survivors}
    stack.kill("redis")
    down_at = time.monotonic()
    accepted_while_down = []
    for i in range(3):
        try:
            accepted_while_down.append(invoke_async(client, "chaos-redis", {"late": i, "sleep": 0}))
        except Exception:
            pass  # refusing is allowed; losing an accepted event is not
    time.sleep(max(0.0, REDIS_DOWN_S - (time.monotonic() - down_at)))
    noise = {name: stack.log_since(name, sizes[name]) for name in survivors}
    stack.revive("redis")

    # Nobody restarts the others: they find Redis again by themselves.
    recovered = settle(lambda: _sync_ok(client, "chaos-redis"), bool, timeout=60, interval=1)
    after = settle(lambda: _async_accepted(client, "chaos-redis"), bool, timeout=30, interval=1)
    stop_calling.set()
    caller.join(60)

    everything = [*ids, *accepted_while_down, *([after] if after else [])]
    rows = settle(
        lambda: invocations(stack, everything),
        lambda rows: len(rows) == len(everything) and all(r["status"] in FINAL for r in rows.values()),
        timeout=30,
    )
    problems = []
    if not recovered:
        problems.append("sync Invoke did not succeed again within 60s of Redis's return")
    if not after:
        problems.append("async Invoke was not accepted again within 30s of Redis's return")
    outcomes = {i: (rows[i]["status"], error_type(rows[i])) if i in rows else ("no row", "")
                for i in everything}
    bad = {i: o for i, o in outcomes.items() if o[0] != "succeeded"}
    if bad:
        problems.append(f"{len(bad)} of {len(everything)} async events did not succeed: {bad}")
    for name in survivors:
        if stack.procs[name].pid != pids[name] or stack.procs[name].poll() is not None:
            problems.append(f"{name} died or was restarted")
    for name, text in noise.items():
        tracebacks = logged_tracebacks(text)
        if len(text.encode()) > LOG_GROWTH_MAX or tracebacks > TRACEBACKS_MAX:
            problems.append(
                f"{name} logged {len(text.encode())} bytes with {tracebacks} tracebacks in "
                f"{REDIS_DOWN_S}s without Redis, beginning:\n{text[:800]}"
            )
    hung = [(round(c.elapsed, 1), c.detail[:120]) for c in sync_calls if c.ended and (
        c.outcome == "no answer" or c.elapsed > bound)]
    if hung:
        problems.append(f"sync callers without an answer within {bound}s while Redis restarted: {hung}")
    if redis_keeps_data:
        # What Redis acknowledged survives it: every answered sync call
        # still gets its record (written after the answer, through Redis).
        answered = [c.event["token"] for c in sync_calls if c.outcome == "ok"]
        runs = settle(
            lambda: runs_of(stack, answered),
            lambda runs: all(len(rs) == 1 and rs[0]["status"] == "succeeded" for rs in runs.values()),
            timeout=20,
        )
        unrecorded = [t for t, rs in runs.items() if [r["status"] for r in rs] != ["succeeded"]]
        if unrecorded:
            problems.append(f"{len(unrecorded)} of {len(answered)} answered sync calls are not recorded once")
    assert not problems, "\n".join(problems)


def logged_tracebacks(text: str) -> int:
    """Tracebacks logged, a chain of exceptions ("During handling of the
    above exception...") counting once."""
    return (
        text.count("Traceback (most recent call last)")
        - text.count("During handling of the above exception, another exception occurred")
        - text.count("The above exception was the direct cause of the following exception")
    )


# Web server restart ------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_web_restart_loses_no_accepted_event(stack, client):
    create(client, "chaos-web", SLEEPER, Timeout=10)
    accepted = [invoke_async(client, "chaos-web", {"i": i, "sleep": 0.5}) for i in range(12)]
    during: list[str] = []
    stop_sending = threading.Event()

    def send_meanwhile():
        i = 0
        while not stop_sending.is_set():
            i += 1
            try:
                during.append(invoke_async(client, "chaos-web", {"during": i, "sleep": 0}))
            except Exception:
                time.sleep(0.1)  # refused or cut off: not accepted, so not owed

    sender = threading.Thread(target=send_meanwhile, daemon=True)
    sender.start()
    time.sleep(0.5)
    stack.restart("web")
    wait_for(lambda: _get_ok(client, "chaos-web"), timeout=30, interval=0.5)
    time.sleep(0.5)
    stop_sending.set()
    sender.join(30)
    assert _sync_ok(client, "chaos-web"), "the web does not serve Invoke after its restart"

    everything = accepted + during
    rows = settle(
        lambda: invocations(stack, everything),
        lambda rows: len(rows) == len(everything) and all(r["status"] in FINAL for r in rows.values()),
        timeout=60,
    )
    outcomes = {i: rows[i]["status"] if i in rows else "no row" for i in everything}
    bad = {i: s for i, s in outcomes.items() if s != "succeeded"}
    assert not bad, f"{len(bad)} of {len(everything)} accepted events did not run: {bad}"


def _async_accepted(client, name: str) -> str:
    try:
        return invoke_async(client, name, {"after": True, "sleep": 0})
    except Exception:
        return ""


def _get_ok(client, name: str) -> bool:
    try:
        return client.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    except Exception:
        return False


# A dead pooled environment ------------------------------------------------------


@pytest.mark.timeout(120)
def test_calls_after_their_warm_environments_died_start_cold_and_succeed(stack, client):
    create(client, "chaos-pool", SLEEPER, Timeout=10)
    warm = [SyncCall(client, "chaos-pool", {"sleep": 0.5}) for _ in range(3)]
    for call in warm:
        call.start()
    for call in warm:
        call.join(60)
    assert all(c.outcome == "ok" for c in warm), [c.detail for c in warm]

    # Every container of the stack, the warm ones among them, dies.
    victims = stack.containers()
    assert victims
    for container in victims:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # the platform removed it first (a pool refill or the reaper): gone all the same

    after = []
    for _ in range(3):
        call = SyncCall(client, "chaos-pool", {"token": uuid.uuid4().hex, "sleep": 0})
        call.run()
        after.append(call)
    assert [c.outcome for c in after] == ["ok"] * 3, [c.detail for c in after]
    request_id = invoke_async(client, "chaos-pool", {"token": uuid.uuid4().hex, "sleep": 0})

    tokens = [c.event["token"] for c in after]
    runs = settle(lambda: runs_of(stack, tokens), lambda runs: all(runs.values()), timeout=20)
    first = runs[tokens[0]]
    assert [r["cold_start"] for r in first] == [True], (
        f"the first call after the environments died did not start a new one: {first}"
    )
    row = settle(
        lambda: invocations(stack, [request_id]).get(request_id),
        lambda row: row and row["status"] in FINAL,
        timeout=30,
    )
    # Async would hide a failed attempt behind a retry: there must be none.
    assert (row["status"], row["attempts"], error_type(row)) == ("succeeded", 1, "")


# DeleteFunction with pending events -----------------------------------------------


# Receives Lambda's invocation records (destinations) and keeps them in its
# rows' events.
OUTCOMES = "def handler(event, context):\n    return {}\n"


@pytest.mark.timeout(120)
def test_deleting_a_function_accounts_for_its_pending_events(stack, client):
    create(client, "chaos-doomed", SLEEPER, Timeout=10)
    create(client, "chaos-outcomes", OUTCOMES, Timeout=10)
    outcomes_arn = client.get_function_configuration(FunctionName="chaos-outcomes")["FunctionArn"]
    client.put_function_event_invoke_config(FunctionName="chaos-doomed", DestinationConfig={
        "OnSuccess": {"Destination": outcomes_arn}, "OnFailure": {"Destination": outcomes_arn},
    })
    # One at a time: the first runs (long enough for the delete to come
    # first), the others wait for its slot.
    client.put_function_concurrency(FunctionName="chaos-doomed", ReservedConcurrentExecutions=1)
    running = invoke_async(client, "chaos-doomed", {"sleep": 6})
    wait_for(lambda: invocations(stack, [running]).get(running, {}).get("status") == "running",
             timeout=60, interval=0.1)
    pending = [invoke_async(client, "chaos-doomed", {"i": i, "sleep": 0}) for i in range(7)]

    client.delete_function(FunctionName="chaos-doomed")
    with pytest.raises(ClientError) as e:
        client.get_function(FunctionName="chaos-doomed")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    everything = [running, *pending]
    accounts = settle(lambda: account_for(stack, everything), lambda a: all(a.values()), timeout=20)
    problems = []
    lost = {i: accounts[i] for i in pending if not accounts[i]}
    if lost:
        problems.append(
            f"{len(lost)} of {len(pending)} events pending at the delete left no trace "
            f"(no final row, dead letter or destination record): {accounts}"
        )
    ran_into_nothing = [running] if not accounts[running] else []
    if ran_into_nothing:
        problems.append(
            f"the event running at the delete finished without a trace (no final row, dead letter "
            f"or on-success record): {running}"
        )
    cancelled_then_ran = [i for i in pending if accounts[i].startswith("destination: Success")]
    if cancelled_then_ran:
        problems.append(f"events pending at the delete ran afterwards: {cancelled_then_ran}")
    assert not problems, "\n".join(problems)


def account_for(stack, ids) -> dict[str, str]:
    """How each accepted event ended: a final row's status, "dead letter", a
    destination's invocation record ("destination: <condition>"), or ""
    when it left no trace (or is still pending). Adapt here when the record
    of an event cancelled by its function's deletion changes."""
    rows = invocations(stack, ids, "status")
    dead = set(dead_letters(stack, ids))
    delivered = {}
    for event in stack.rows(
        "Invocation.objects.filter(function__name='chaos-outcomes').values_list('event', flat=True)"
    ):
        context = json.loads(event).get("requestContext", {})
        delivered[context.get("requestId")] = context.get("condition")
    accounts = {}
    for request_id in ids:
        status = rows.get(request_id, {}).get("status")
        accounts[request_id] = (
            "dead letter" if request_id in dead
            else status if status in FINAL
            else f"destination: {delivered[request_id]}" if request_id in delivered
            else ""
        )
    return accounts
