"""The environments views: states assembled from rows and Redis (fakes,
then a real redis-server), the counters on the release pipeline, the live
flush, the pages' access rules."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import redis
from django.utils import timezone

from functions.models import Team
from invocations import env_keys, env_live, env_state, pool
from invocations.env_state import RedisState, assemble
from invocations.models import Environment

NOW = 1_800_000_000.0


def row(env_id, *, node="n1", runtime="python3.11", revision=None, memory_mb=128, age_s=100, function=None):
    created = datetime.fromtimestamp(NOW - age_s, tz=UTC)
    return SimpleNamespace(id=env_id, node=node, runtime=runtime, revision=revision, memory_mb=memory_mb,
                           created_at=created, function=function)


def test_it_assembles_each_state_from_the_redis_sets():
    rows = [row("gen"), row("idle", age_s=300), row("leased", age_s=50), row("new", age_s=1)]
    state = RedisState(
        busy={"leased": NOW - 2}, idle={"idle": NOW - 40}, generic={"gen"},
        served={"idle": 7, "leased": 3}, memory={"idle": 41},
    )
    views = {v.id: v for v in assemble(rows, state, NOW)}
    assert {k: v.state for k, v in views.items()} == {
        "gen": "pre-warmed", "idle": "warm", "leased": "busy", "new": "starting",
    }
    assert views["idle"].calls == 7 and views["idle"].max_memory_used_mb == 41
    assert views["idle"].for_s == 40 and views["leased"].for_s == 2
    assert views["gen"].calls == 0 and views["gen"].max_memory_used_mb is None and views["gen"].for_s is None
    assert views["idle"].age_s == 300
    # Busy first, then warm, pre-warmed, starting.
    assert [v.id for v in assemble(rows, state, NOW)] == ["leased", "idle", "gen", "new"]


def test_busy_wins_over_a_stale_idle_mark():
    rows = [row("a"), row("b")]
    state = RedisState(
        busy={"a": NOW}, idle={"a": NOW - 1, "b": NOW - 1}, generic=set(), served={}, memory={}
    )
    views = assemble(rows, state, NOW)
    assert [v.state for v in views] == ["busy", "warm"]


def test_an_idle_environment_past_the_provisioned_score_is_provisioned():
    from invocations.env_keys import PROVISIONED_SCORE

    rows = [row("p"), row("w")]
    state = RedisState(busy={}, idle={"p": PROVISIONED_SCORE + NOW - 5, "w": NOW - 3},
                       generic=set(), served={}, memory={})
    views = {v.id: v for v in assemble(rows, state, NOW)}
    assert (views["p"].state, views["p"].for_s) == ("provisioned", 5)
    assert views["w"].state == "warm"


def test_without_redis_every_state_is_unknown():
    assert [v.state for v in assemble([row("a")], None, NOW)] == ["unknown"]


def test_scopes_of_an_environment():
    assert env_state.scopes_of(None, None, generic=True) == ("pool",)
    assert env_state.scopes_of("f1", 3, generic=False) == ("fn-f1", "team-3")
    assert env_state.scopes_of(None, None, generic=False) == ("unowned",)
    with pytest.raises(ValueError):
        env_state.scope_filter("team-x")


# Against a real redis-server --------------------------------------------------


@pytest.fixture
def real_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    settings.STRATUS_NODE = "n1"
    pool.redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    pool.redis_link._clients.clear()


@pytest.fixture
def envs(db, team, make_function, real_redis):
    """A pooled generic environment, a warm and a busy one of `hello`, one
    of another team's function, and one of an older revision of `hello`."""
    fn = make_function()
    other = Team.objects.create(name="beta")
    from functions import code as codestore
    from functions import service
    theirs = service.create_function(
        other, name="theirs", zip_bytes=codestore.zip_single_file("lambda_function.py", "x = 1\n"),
        handler="lambda_function.lambda_handler",
    )
    image = env_state._image("python3.11")
    Environment.objects.create(id="gen1", node="n1", state="generic")
    real_redis.rpush(env_keys.generic_key(image, "n1"), "gen1")
    for env_id, f in (("warm1", fn), ("busy1", fn), ("their1", theirs), ("stale1", fn)):
        Environment.objects.create(
            id=env_id, node="n1", state="ready", function=f, revision=f.revision, memory_mb=f.memory_mb,
            created_at=timezone.now() - timedelta(seconds=30),
        )
    real_redis.zadd(env_keys.idle_key(fn.revision, "n1"), {"warm1": time.time() - 5})
    real_redis.zadd(env_keys.idle_key(theirs.revision, "n1"), {"their1": time.time()})
    real_redis.hset(env_keys.busy_key("n1"), "busy1", time.time())
    # Idle, but for a revision its row is no longer on: not warm.
    real_redis.zadd(env_keys.idle_key(uuid.uuid4(), "n1"), {"stale1": time.time()})
    return SimpleNamespace(fn=fn, theirs=theirs, other=other)


def test_snapshots_read_the_real_redis_state(envs, team):
    snaps = env_state.snapshots(["pool", env_state.team_scope(team.id), env_state.fn_scope(envs.fn.id)])
    assert [(v.id, v.state) for v in snaps["pool"]] == [("gen1", "pre-warmed")]
    mine = {v.id: v.state for v in snaps[env_state.fn_scope(envs.fn.id)]}
    assert mine == {"busy1": "busy", "warm1": "warm", "stale1": "starting"}
    assert {v.id for v in snaps[env_state.team_scope(team.id)]} == set(mine)
    assert "their1" not in mine


def test_release_counts_calls_served_and_memory_on_its_pipeline(envs, real_redis):
    held = pool.Lease("warm1", str(envs.fn.revision), cold=False, max_memory_used_mb=37)
    for _ in range(3):
        real_redis.hset(env_keys.busy_key("n1"), "warm1", time.time())
        pipe = pool.redis_link.client().pipeline(transaction=False)
        pool.release_to(pipe, held)
        pipe.execute()
    [view] = [v for v in env_state.snapshot(env_state.fn_scope(envs.fn.id)) if v.id == "warm1"]
    assert (view.state, view.calls, view.max_memory_used_mb) == ("warm", 3, 37)


def test_a_flush_sends_watched_scopes_their_rows_and_events(envs, team, monkeypatch):
    sent = []
    monkeypatch.setattr(env_live.live, "send", lambda groups, html: sent.append((groups, html)))
    monkeypatch.setattr(env_live.live, "watched", lambda groups: [g for g in groups if g != "envs-pool"])
    fn_scope = env_state.fn_scope(envs.fn.id)
    event = {"t": time.time(), "env": "gone1234", "kind": "reaped", "text": "reaped after 600 s idle"}
    env_live.flush({fn_scope, "pool"}, [((fn_scope, env_state.team_scope(team.id)), event)])
    assert [groups for groups, _ in sent] == [[f"envs-{fn_scope}"]]
    html = sent[0][1]
    assert f'id="envs-{fn_scope}" hx-swap-oob="true"' in html
    assert 'data-env="busy1" data-state="busy"' in html and 'data-env="warm1" data-state="warm"' in html
    assert 'hx-swap-oob="afterbegin:#env-events"' in html and "reaped after 600 s idle" in html
    # The event is stored for pages opened later, in each of its scopes.
    assert env_state.recent_events([env_state.team_scope(team.id)])[0]["text"] == "reaped after 600 s idle"


# The pages ------------------------------------------------------------------


def test_a_member_sees_the_pool_and_their_teams_environments_only(client, users, envs, team):
    client.force_login(users["member"])
    page = client.get("/environments/").content.decode()
    assert 'data-env="gen1" data-state="pre-warmed"' in page
    assert 'data-env="warm1" data-state="warm"' in page
    assert "their1" not in page


def test_staff_see_every_environment(client, django_user_model, envs):
    admin = django_user_model.objects.create_user("root", password="pw", is_staff=True)
    client.force_login(admin)
    page = client.get("/environments/").content.decode()
    assert 'data-env="their1" data-state="warm"' in page and 'data-env="warm1"' in page


def test_the_function_tab_shows_its_environments_and_the_pool(client, users, envs):
    client.force_login(users["reader"])
    page = client.get(f"/functions/{envs.fn.id}/?tab=environments").content.decode()
    assert 'data-env="busy1" data-state="busy"' in page and 'data-env="gen1"' in page
    assert "their1" not in page
    assert f'ws-connect="/ws/environments/functions/{envs.fn.id}/"' in page


def test_the_pages_answer_strangers_and_wrong_methods(client, users, envs):
    assert client.get("/environments/").status_code == 302  # to the login
    client.force_login(users["outsider"])
    assert client.get(f"/functions/{envs.theirs.id}/?tab=environments").status_code == 404
    outsider_page = client.get("/environments/").content.decode()
    assert "warm1" not in outsider_page and "gen1" in outsider_page
    assert client.post("/environments/").status_code == 405


def test_the_reaper_says_why_an_idle_environment_goes():
    fn = SimpleNamespace(revision="r1")
    assert pool._why_idle_goes(SimpleNamespace(function=fn), True, 612.4, 600) == (
        "reaped after 612 s idle (keep-alive 600 s)"
    )
    gone = pool._why_idle_goes(SimpleNamespace(function=None), False, 1, 600)
    assert gone == "reaped: its function was deleted"
    assert "older revision" in pool._why_idle_goes(SimpleNamespace(function=fn), False, 1, 600)


def test_discard_tells_the_feed_why(envs, team, monkeypatch):
    told = []
    monkeypatch.setattr(pool.sandbox, "destroy", lambda client, name: None)
    monkeypatch.setattr(pool, "docker_client", lambda: None)
    monkeypatch.setattr(pool.env_live, "event", lambda *args: told.append(args))
    pool.discard("warm1", "OOM-killed at its 128 MB limit", "oom")
    pool.discard("gen1", "reaped: an older runtime image", "reaped")
    assert told == [
        ((f"fn-{envs.fn.id}", f"team-{team.id}"), "warm1", "oom", "OOM-killed at its 128 MB limit"),
        (("pool",), "gen1", "reaped", "reaped: an older runtime image"),
    ]
    assert not Environment.objects.filter(id__in=["warm1", "gen1"]).exists()
