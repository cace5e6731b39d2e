"""The invocation path's plain statements agree with the ORM: same rows in,
same values out (UUIDs, JSON, datetimes, NULLs, foreign keys)."""

import uuid
from datetime import timedelta

from django.utils import timezone

from functions.models import Function
from invocations import fastsql
from invocations.models import Environment, Invocation


def test_insert_stores_what_the_orm_reads_back(make_function):
    fn = make_function()
    when = timezone.now() - timedelta(minutes=3)
    inv = Invocation(function=fn, event='{"a": 1}', origin={"ids": ["m1", "m2"]}, created_at=when,
                     invocation_type="Event", source="topic", memory_size_mb=256)
    fastsql.insert(inv)
    row = Invocation.objects.get(request_id=inv.request_id)
    assert (row.function_id, row.event, row.origin) == (fn.id, '{"a": 1}', {"ids": ["m1", "m2"]})
    assert (row.created_at, row.invocation_type, row.source, row.memory_size_mb) == (
        when, "Event", "topic", 256,
    )
    assert row.status == "queued" and row.error is None and row.started_at is None
    assert not inv._state.adding


def test_get_returns_the_same_values_as_the_orm(make_function):
    fn = make_function()
    inv = Invocation.objects.create(function=fn, error={"errorType": "X"}, status="failed",
                                    duration_ms=1.5, cold_start=True, started_at=timezone.now())
    got = fastsql.get(Invocation, {"request_id": inv.request_id})
    orm = Invocation.objects.get(request_id=inv.request_id)
    for field in Invocation._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert fastsql.get(Invocation, {"request_id": uuid.uuid4()}) is None


def test_get_reads_joined_columns(make_function):
    fn = make_function()
    Function.objects.filter(id=fn.id).update(reserved_concurrency=3)
    inv = Invocation.objects.create(function=fn)
    got = fastsql.get(Invocation, {"request_id": inv.request_id}, extra={
        "fn_revision": (Function, "revision", "function"),
        "fn_reserved": (Function, "reserved_concurrency", "function"),
    })
    assert got.fn_revision == fn.revision and isinstance(got.fn_revision, uuid.UUID)
    assert got.fn_reserved == 3


def test_get_by_foreign_key_and_name(make_function, team):
    fn = make_function(name="by-name")
    got = fastsql.get(Function, {"team": team.id, "name": "by-name"})
    assert got.id == fn.id and got.environment == fn.environment and got.timeout_s == fn.timeout_s
    assert fastsql.get(Function, {"team": team.id, "name": "nope"}) is None


def test_update_is_conditional_and_can_increment(make_function):
    fn = make_function()
    inv = Invocation.objects.create(function=fn)
    now = timezone.now()
    claim = ({"request_id": inv.request_id, "status": "queued"}, {"status": "running", "started_at": now})
    assert fastsql.update(Invocation, *claim, increment=("attempts",)) == 1
    assert fastsql.update(Invocation, *claim, increment=("attempts",)) == 0
    row = Invocation.objects.get(request_id=inv.request_id)
    assert (row.status, row.started_at, row.attempts) == ("running", now, 1)
    changes = {"error": {"e": [1]}, "result": None}
    assert fastsql.update(Invocation, {"request_id": inv.request_id}, changes) == 1
    row.refresh_from_db()
    assert row.error == {"e": [1]} and row.result is None


def test_update_by_a_char_primary_key(make_function):
    fn = make_function()
    Environment.objects.create(id="env-1", function=fn, revision=fn.revision, state="idle")
    assert fastsql.update(Environment, {"id": "env-1", "state": "idle"}, {"state": "busy"}) == 1
    assert Environment.objects.get(id="env-1").state == "busy"
