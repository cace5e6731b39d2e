"""Schedule expressions, the preview, and firing: claimed once, from now."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from invocations import tasks as inv_tasks
from invocations.models import Invocation
from triggers import tasks
from triggers.forms import ScheduleForm
from triggers.models import Schedule, fire_due_schedules
from triggers.schedule import ExpressionError, parse, zone

T0 = datetime(2024, 3, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(inv_tasks.run, "apply_async", lambda args, **kw: sent.append((args, kw)))
    return sent


@pytest.mark.parametrize("text,seconds", [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
    ("rate(2 hours)", 7200), ("rate(1 day)", 86400), ("rate(3 days)", 259200),
])
def test_it_parses_rates(text, seconds):
    assert parse(text).next_after(T0, zone("UTC")) == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("text,message", [
    ("rate(1 minutes)", "singular"),
    ("rate(5 minute)", "plural"),
    ("rate(0 minutes)", "1 or more"),
    ("rate(5 weeks)", "Unknown unit"),
    ("cron(0 12 * * *)", "six fields"),
    ("cron(0 12 * * * *)", "must be ?"),
    ("cron(0 12 ? * ? *)", "must be ?"),
    ("cron(61 12 * * ? *)", "not a valid cron"),
    ("cron(0 12 ? * 9 *)", "out of range"),
    ("cron(0 12 * * ? 1800)", "out of range"),
    ("every day", "Write rate"),
])
def test_it_refuses_bad_expressions(text, message):
    with pytest.raises(ExpressionError, match=message):
        parse(text)


def test_it_previews_five_cron_times_in_the_zone():
    # Paris moves to summer time on 31 March 2024: noon stays noon locally.
    times = parse("cron(0 12 * * ? *)").preview(T0, zone("Europe/Paris"))
    assert [t.strftime("%Y-%m-%d %H:%M %Z") for t in times] == [
        "2024-03-30 12:00 CET", "2024-03-31 12:00 CEST", "2024-04-01 12:00 CEST",
        "2024-04-02 12:00 CEST", "2024-04-03 12:00 CEST",
    ]


def test_it_counts_aws_days_of_week_from_sunday():
    # 2 = MON ... 6 = FRI in AWS; 2024-03-30 is a Saturday.
    times = parse("cron(0 9 ? * 2-6 *)").preview(T0, zone("UTC"))
    assert [t.strftime("%a") for t in times] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert parse("cron(0 9 ? * MON-FRI *)").preview(T0, zone("UTC")) == times


def test_it_honours_the_year_field():
    times = parse("cron(0 0 1 1 ? 2026-2027)").preview(T0, zone("UTC"))
    assert [t.year for t in times] == [2026, 2027]
    assert parse("cron(0 0 1 1 ? 2001)").preview(T0, zone("UTC")) == []


def test_it_refuses_in_the_form_and_saves_nothing(db):
    form = ScheduleForm({"expression": "rate(1 minutes)", "timezone": "UTC", "priority": "normal"})
    assert not form.is_valid()
    assert "rate(1 minute)" in form.errors["expression"][0]
    assert not ScheduleForm(
        {"expression": "rate(1 minute)", "timezone": "Mars/Base", "priority": "normal"}
    ).is_valid()
    assert "never fires" in ScheduleForm(
        {"expression": "cron(0 0 1 1 ? 2001)", "timezone": "UTC", "priority": "low"}
    ).errors["expression"][0]
    assert Schedule.objects.count() == 0


def _due_schedule(fn, **kwargs):
    schedule = Schedule.objects.create(function=fn, expression="rate(5 minutes)", **kwargs)
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=timezone.now() - timedelta(seconds=1))
    schedule.refresh_from_db()
    return schedule


def test_it_fires_a_due_schedule_once(make_function, no_broker, django_capture_on_commit_callbacks):
    fn = make_function()
    schedule = _due_schedule(fn, priority="high")
    due_at = schedule.next_fire_at
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.fire_due_schedules() == 1
    inv = Invocation.objects.get()
    assert inv.source == "schedule"
    assert inv.invocation_type == "Event"
    assert inv.priority == "high"
    assert inv.trigger == f"schedule:{schedule.id}"
    event = json.loads(inv.event)
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(no_broker) == 1
    schedule.refresh_from_db()
    assert schedule.last_fired_at is not None
    assert schedule.next_fire_at > timezone.now() + timedelta(minutes=4)
    # Nothing is due any more.
    assert fire_due_schedules() == 0


def test_it_never_fires_one_slot_twice(make_function, no_broker):
    schedule = _due_schedule(make_function())
    due_at = schedule.next_fire_at
    # Two schedulers read the same due row; only the first claim wins.
    other = Schedule.objects.get(pk=schedule.pk)
    assert schedule.fire(due_at) is not None
    assert other.fire(due_at) is None
    assert Invocation.objects.count() == 1


def test_it_skips_missed_fires(make_function, no_broker):
    schedule = Schedule.objects.create(function=make_function(), expression="rate(1 minute)")
    # The scheduler was down for an hour: one fire now, not sixty.
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=timezone.now() - timedelta(hours=1))
    assert fire_due_schedules() == 1
    assert fire_due_schedules() == 0
    assert Invocation.objects.count() == 1


def test_it_does_not_fire_disabled_schedules(make_function, no_broker):
    schedule = _due_schedule(make_function())
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)
    assert fire_due_schedules() == 0
    schedule.refresh_from_db()
    schedule.set_enabled(True)
    # Enabling counts from now: the stale due time is gone.
    assert schedule.next_fire_at > timezone.now()
    assert fire_due_schedules() == 0
    schedule.set_enabled(False)
    assert schedule.next_fire_at is None
