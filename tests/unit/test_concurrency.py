"""Reserved concurrency against a real redis-server on a free port: the
counting semaphore, the sync throttle and the async wait."""

import multiprocessing
import time
import uuid

import pytest
import redis

from functions import code as codestore
from functions import service
from functions.models import Team
from invocations import concurrency, dispatch, runner
from invocations.models import Invocation
from tests.conftest import HELLO


@pytest.fixture
def real_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    concurrency.redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    concurrency.redis_link._clients.clear()


def test_it_counts_holders_up_to_the_limit(real_redis):
    fid = uuid.uuid4()
    assert [concurrency.acquire(fid, f"r{i}", 2, 60) for i in range(3)] == [1, 1, 0]
    concurrency.release(fid, "r0")
    assert concurrency.acquire(fid, "r2", 2, 60) == concurrency.TAKEN
    assert concurrency.holders(fid) == 2


def test_a_holder_taking_its_slot_again_is_not_counted_twice(real_redis):
    fid = uuid.uuid4()
    assert concurrency.acquire(fid, "r0", 1, 60) == concurrency.TAKEN
    assert concurrency.acquire(fid, "r0", 1, 60) == concurrency.ALREADY_HELD
    assert concurrency.holders(fid) == 1


def test_a_limit_of_zero_refuses_everyone(real_redis):
    assert concurrency.acquire(uuid.uuid4(), "r0", 0, 60) == concurrency.FULL


def test_an_expired_holder_frees_its_slot(real_redis):
    fid = uuid.uuid4()
    assert concurrency.acquire(fid, "dead-worker", 1, 0.05) == concurrency.TAKEN
    time.sleep(0.2)
    assert concurrency.acquire(fid, "next", 1, 60) == concurrency.TAKEN


def _grab(args) -> int:
    url, fid, request_id = args
    client = redis.Redis.from_url(url)
    concurrency.redis_client = lambda: client
    return concurrency.acquire(fid, request_id, 3, 60)


def test_the_limit_holds_across_processes(real_redis, redis_url):
    fid = str(uuid.uuid4())
    with multiprocessing.get_context("fork").Pool(8) as workers:
        results = workers.map(_grab, [(redis_url, fid, f"r{i}") for i in range(40)])
    assert results.count(concurrency.TAKEN) == 3
    assert concurrency.holders(fid) == 3


@pytest.mark.parametrize("value,expected", [("", None), (None, None), ("0", 0), (" 7 ", 7), (1000, 1000)])
def test_it_cleans_reserved_values(value, expected):
    assert concurrency.clean_reserved(value) == expected


@pytest.mark.parametrize("value,message", [
    ("-1", "must be from 0 to 1000, got -1"),
    ("1001", "must be from 0 to 1000, got 1001"),
    ("lots", "must be a whole number from 0 to 1000, got 'lots'"),
])
def test_it_explains_a_bad_reserved_value(value, message):
    with pytest.raises(concurrency.ReservedConcurrencyError) as e:
        concurrency.clean_reserved(value)
    assert message in str(e.value)


# The team's limit (Lambda's account concurrency) -------------------------------


@pytest.mark.parametrize("lanes,limit", [
    (0, 1000), (1, 1), (2, 1), (3, 2), (4, 3), (8, 6), (12, 9), (100, 75),
])
def test_the_derived_team_limit_leaves_lanes_to_other_teams(lanes, limit):
    assert concurrency.auto_limit(lanes) == limit


@pytest.mark.parametrize("limit,minimum", [(1000, 100), (6, 1), (1, 1), (30, 3), (31, 4)])
def test_the_unreserved_minimum_is_lambdas_tenth(limit, minimum):
    assert concurrency.unreserved_minimum(limit) == minimum


def test_a_reservation_may_not_eat_the_unreserved_minimum():
    concurrency.check_reservation(1000, 0, 900)
    concurrency.check_reservation(1000, 400, 500)
    with pytest.raises(concurrency.ReservedConcurrencyError) as e:
        concurrency.check_reservation(1000, 400, 501)
    assert "UnreservedConcurrentExecution below its minimum value of [100]" in str(e.value)
    assert "may reserve at most 500" in str(e.value)


def lanes(client, count, age_s=0.0):
    now = time.time() - age_s
    client.zadd(concurrency.nodes.lanes_key(), {f"w#{i}-{age_s}": now for i in range(count)})


def test_unreserved_functions_share_the_teams_pool(real_redis, make_function, team):
    lanes(real_redis, 4)  # the installation: 4 lane threads, so 3 for a team
    a, b = make_function(name="a"), make_function(name="b")
    held = [concurrency.admit(a, f"a{i}") for i in range(2)] + [concurrency.admit(b, "b0")]
    assert all(isinstance(h, concurrency.Admission) for h in held)
    assert concurrency.admit(a, "a3") == concurrency.WAIT_COUNTDOWN_S
    assert concurrency.admit(b, "b1") == concurrency.WAIT_COUNTDOWN_S
    assert concurrency.team_holders(team.id) == 3
    # Another team has a pool of its own.
    other = Team.objects.create(name="beta")
    theirs = service.create_function(
        other, name="a", zip_bytes=codestore.zip_single_file("lambda_function.py", HELLO),
        handler="lambda_function.lambda_handler",
    )
    assert isinstance(concurrency.admit(theirs, "t0"), concurrency.Admission)
    held[0].abandon()
    assert isinstance(concurrency.admit(b, "b1"), concurrency.Admission)


def test_lanes_that_stopped_beating_are_not_capacity(real_redis, make_function, settings):
    settings.STRATUS_WORKER_LOST_AFTER = 20
    lanes(real_redis, 1)
    lanes(real_redis, 8, age_s=60)
    fn = make_function()
    assert isinstance(concurrency.admit(fn, "r0"), concurrency.Admission)
    assert concurrency.admit(fn, "r1") == concurrency.WAIT_COUNTDOWN_S
    assert concurrency.lanes_alive() == 1


def test_a_team_limit_of_its_own_wins_and_reservations_are_carved_out(real_redis, make_function, team):
    lanes(real_redis, 100)
    team.concurrency_limit = 5
    team.save()
    reserved, shared = make_function(name="reserved"), make_function(name="shared")
    concurrency.set_reserved(reserved, 2)
    results = [concurrency.admit(shared, f"s{i}") for i in range(4)]
    assert [isinstance(r, concurrency.Admission) for r in results] == [True, True, True, False]
    # The reservation is its own: both of its slots are there.
    assert all(isinstance(concurrency.admit(reserved, f"r{i}"), concurrency.Admission) for i in range(2))


def test_the_setting_sets_every_teams_limit(real_redis, make_function, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 2
    fn = make_function()
    assert [isinstance(concurrency.admit(fn, f"r{i}"), concurrency.Admission) for i in range(3)] == [
        True, True, False,
    ]


def test_a_slot_is_given_back_from_whichever_pool_it_is_in(real_redis, make_function, team, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 10
    fn = make_function()
    assert isinstance(concurrency.admit(fn, "r"), concurrency.Admission)
    concurrency.set_reserved(fn, 3)  # reserved while it ran
    concurrency.release_for(fn, "r")
    assert concurrency.team_holders(team.id) == 0


def test_set_reserved_refuses_to_leave_less_than_the_minimum(make_function, team, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 10
    a, b = make_function(name="a"), make_function(name="b")
    with pytest.raises(concurrency.ReservedConcurrencyError) as e:
        concurrency.set_reserved(a, 10)
    assert "minimum value of [1]" in str(e.value)
    a.refresh_from_db()
    assert a.reserved_concurrency is None
    concurrency.set_reserved(a, 8)
    with pytest.raises(concurrency.ReservedConcurrencyError):
        concurrency.set_reserved(b, 2)
    concurrency.set_reserved(b, 1)
    # Giving back is always allowed, even when the limit shrank meanwhile.
    settings.STRATUS_TEAM_CONCURRENCY = 4
    concurrency.set_reserved(a, 7)
    assert concurrency.reserved_total(team) == 8


# Async: waits without an attempt -------------------------------------------------


@pytest.fixture
def requeued(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: sent.append((str(rid), countdown))
    )
    return sent


def test_an_async_row_waits_for_a_slot_without_an_attempt(real_redis, make_function, requeued, monkeypatch):
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    concurrency.acquire(fn.id, "someone-else", 1, 60)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    monkeypatch.setattr(runner.pool, "lease", lambda f, running=None: pytest.fail("ran over the limit"))
    assert runner.run_async(str(inv.request_id)) == "waiting"
    inv.refresh_from_db()
    assert inv.status == "queued" and inv.attempts == 0
    assert requeued == [(str(inv.request_id), concurrency.WAIT_COUNTDOWN_S)]


def test_a_limit_of_zero_leaves_async_rows_to_the_reconciler(real_redis, make_function, requeued):
    fn = make_function()
    concurrency.set_reserved(fn, 0)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    assert runner.run_async(str(inv.request_id)) == "waiting"
    assert requeued == []


def test_a_duplicate_task_does_not_give_away_the_runners_slot(real_redis, make_function):
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    held = concurrency.admit(fn, inv.request_id)
    assert held.taken
    duplicate = concurrency.admit(fn, inv.request_id)
    assert not duplicate.taken
    duplicate.abandon()
    assert concurrency.holders(fn.id) == 1


@pytest.mark.django_db
def test_a_reservation_below_the_provisioned_concurrency_is_refused(make_function):
    # Lambda takes provisioned concurrency out of the reservation
    # (PutFunctionConcurrency: InvalidParameterValueException); the console's
    # form checks with check_for, the API with set_reserved.
    from functions.models import ProvisionedConcurrencyConfig

    fn = make_function()
    ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="1", requested=2)
    ProvisionedConcurrencyConfig.objects.create(function=fn, qualifier="live", requested=1)
    for value in (0, 2):
        with pytest.raises(concurrency.ReservedConcurrencyError, match="provisioned concurrency of 3"):
            concurrency.check_for(fn, value)
        with pytest.raises(concurrency.ReservedConcurrencyError):
            concurrency.set_reserved(fn, value)
        fn.refresh_from_db()
        assert fn.reserved_concurrency is None
    concurrency.set_reserved(fn, 3)
    concurrency.set_reserved(fn, None)  # no reservation: from the team's pool, allowed
    fn.refresh_from_db()
    assert fn.reserved_concurrency is None
