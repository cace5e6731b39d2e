"""The console's forms report every bad field at once, each error once;
the throttle message for a reservation of 0 says waiting will not help."""

import re

from django.urls import reverse

from functions.forms import ConfigurationForm, CreateFunctionForm
from functions.models import Team
from invocations import concurrency
from triggers.forms import ScheduleForm
from triggers.models import Schedule

HX = {"HTTP_HX_REQUEST": "true"}
CONFIG = {"handler": "app.handler", "memory_mb": 128, "timeout_s": 3, "description": "", "environment": ""}


def test_a_schedule_with_a_bad_expression_and_a_bad_zone_reports_both():
    form = ScheduleForm(
        {"expression": "cron(61 9 ? * MON-FRI *)", "timezone": "Mars/Base", "priority": "normal"}
    )
    assert not form.is_valid()
    assert set(form.errors) == {"expression", "timezone"}


def test_a_schedule_that_never_fires_again_says_so_once():
    form = ScheduleForm({"expression": "cron(0 9 1 1 ? 1999)", "timezone": "UTC", "priority": "normal"})
    assert not form.is_valid()
    assert form.errors["expression"] == [
        "cron(0 9 1 1 ? 1999) never fires again (its year field is in the past)."
    ]


def test_a_good_schedule_passes():
    form = ScheduleForm(
        {"expression": " cron(30 9 ? * MON-FRI *) ", "timezone": "Europe/Paris", "priority": "normal"}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["expression"] == "cron(30 9 ? * MON-FRI *)"


def test_the_configuration_form_reports_every_bad_field():
    form = ConfigurationForm({
        **CONFIG, "handler": "no spaces allowed", "memory_mb": 50, "timeout_s": 1000,
        "description": "x" * 300, "environment": "GOOD=1\nAWS_REGION=x",
    })
    assert not form.is_valid()
    assert set(form.errors) == {"handler", "memory_mb", "timeout_s", "description", "environment"}
    assert form.errors["memory_mb"] == ["Memory must be between 128 and 10240 MB, got 50."]
    assert form.errors["timeout_s"] == ["The timeout must be between 1 and 900 seconds, got 1000."]
    assert "reserved by Lambda" in form.errors["environment"][0]


def test_the_configuration_form_keeps_the_environment_text(db):
    form = ConfigurationForm({**CONFIG, "environment": "A1=x\n\n# note\nB2=y"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["environment"] == "A1=x\n\n# note\nB2=y"


def test_the_create_form_reports_a_bad_name_and_a_bad_memory_together(team):
    form = CreateFunctionForm(
        {**CONFIG, "team": team.pk, "name": "bad name!", "runtime": "python3.11", "memory_mb": 64,
         "code_source": "inline", "source": "def handler(e, c):\n    return 1\n"},
        teams=Team.objects.filter(pk=team.pk),
    )
    assert not form.is_valid()
    assert {"name", "memory_mb"} <= set(form.errors)


def test_the_configure_page_shows_both_errors_and_saves_nothing(client, users, make_function):
    fn = make_function()
    client.force_login(users["member"])
    r = client.post(reverse("fn-config", args=[fn.id]), {**CONFIG, "memory_mb": 50, "timeout_s": 1000})
    body = r.content.decode()
    assert "Memory must be between 128 and 10240 MB, got 50." in body
    assert "The timeout must be between 1 and 900 seconds, got 1000." in body
    fn.refresh_from_db()
    assert (fn.memory_mb, fn.timeout_s) == (128, 3)


def test_a_refused_schedule_shows_its_error_once(client, users, make_function):
    fn = make_function()
    client.force_login(users["member"])
    r = client.post(
        reverse("trg-schedule-add", args=[fn.id]),
        {"expression": "cron(0 9 * * * *)", "timezone": "UTC", "priority": "normal"}, **HX,
    )
    body = r.content.decode()
    form = re.search(r'<form id="schedule-form".*?</form>', body, re.S).group(0)
    errors = re.findall(r'<p class="error">(.*?)</p>', form)
    assert len(errors) == 1, errors
    # The preview holds it, and does not ask again on load (that would repeat it).
    assert re.search(r'<div id="schedule-preview"[^>]*>\s*<p class="error">', form)
    assert 'hx-trigger="change from' in form
    assert not Schedule.objects.filter(function=fn).exists()


def test_the_expression_box_is_made_for_expressions():
    html = str(ScheduleForm()["expression"])
    assert 'class="expression"' in html and 'placeholder="cron(30 9 ? * MON-FRI *)"' in html


def test_the_throttle_message_for_a_reservation_of_0_says_it_is_0(make_function):
    fn = make_function()
    fn.reserved_concurrency = 0
    error = concurrency.throttle_error(fn)
    assert error["errorType"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert f"the reserved concurrency of {fn.name} is 0" in error["errorMessage"]
    assert "until it is raised" in error["errorMessage"]
    assert "try again" not in error["errorMessage"]


def test_the_throttle_message_for_a_full_reservation_says_to_wait(make_function):
    fn = make_function()
    fn.reserved_concurrency = 2
    assert "try again when one finishes" in concurrency.throttle_error(fn)["errorMessage"]
