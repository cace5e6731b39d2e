"""The bucket's notification settings page: it shows the stored
configuration, saves a new one through put_configuration (the checks of
PutBucketNotificationConfiguration), and on bad input shows the error on
the entry it is about and leaves the stored configuration as it was."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from buckets import notifications, objects
from buckets.models import Notification
from invocations import tasks
from messaging import queues, topics
from invocations.models import Invocation
from messaging.models import QueueMessage
from triggers import registry

pytestmark = pytest.mark.usefixtures("objects_dir")


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def bucket(team):
    return objects.create_bucket(team, "photos")


@pytest.fixture
def fn(make_function):
    return make_function("thumbnailer")


def page_url(bucket):
    return reverse("bkt-notifications", args=[bucket.team.account_id, bucket.name])


def entry(index, target="", events=(), prefix="", suffix="", config_id="", delete=False):
    data = {f"entry-{index}-target": target, f"entry-{index}-prefix": prefix,
            f"entry-{index}-suffix": suffix, f"entry-{index}-config_id": config_id,
            f"entry-{index}-events": list(events)}
    if delete:
        data[f"entry-{index}-DELETE"] = "on"
    return data


def form(*entries, initial=0):
    data = {"entry-TOTAL_FORMS": str(len(entries)), "entry-INITIAL_FORMS": str(initial),
            "entry-MIN_NUM_FORMS": "0", "entry-MAX_NUM_FORMS": "1000"}
    for e in entries:
        data.update(e)
    return data


def member(users):
    client = Client()
    client.force_login(users["member"])
    return client


def test_it_shows_the_stored_configuration(users, bucket, fn):
    notifications.put_configuration(bucket, {"LambdaFunctionConfigurations": [
        {"Id": "thumbs", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".jpg"}]}}},
    ]})
    page = member(users).get(page_url(bucket))
    assert page.status_code == 200
    first = page.context["formset"].forms[0]
    assert first.initial["target"] == f"lambda:{fn.arn}"
    assert first.initial["suffix"] == ".jpg"
    body = page.content.decode()
    assert "thumbnailer" in body
    assert '"LambdaFunctionArn": "' + fn.arn in body.replace("&quot;", '"')


def test_it_saves_a_function_entry_as_put_configuration_does(users, bucket, fn):
    response = member(users).post(page_url(bucket), form(entry(
        0, f"lambda:{fn.arn}", ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"], prefix="in/", suffix=".csv",
        config_id="csv-in",
    )))
    assert response.status_code == 302
    assert notifications.get_configuration(bucket) == {"LambdaFunctionConfigurations": [{
        "Id": "csv-in", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"},
                                           {"Name": "Suffix", "Value": ".csv"}]}},
    }]}


def test_it_saves_queue_and_topic_entries_and_sends_the_test_event(users, bucket, team):
    queue = queues.create_queue(team, "uploads")
    topic = topics.create_topic(team, "uploads-topic")
    response = member(users).post(page_url(bucket), form(
        entry(0, f"queue:{queue.arn}", ["s3:ObjectCreated:*"]),
        entry(1, f"topic:{topic.arn}", ["s3:ObjectRemoved:Delete"]),
    ))
    assert response.status_code == 302
    kinds = list(Notification.objects.filter(bucket=bucket).values_list("kind", "target_arn"))
    assert kinds == [("queue", queue.arn), ("topic", topic.arn)]
    test_event = json.loads(QueueMessage.objects.get(queue=queue).body)
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == "photos"


def test_it_edits_and_removes_entries(users, bucket, fn, team):
    queue = queues.create_queue(team, "uploads")
    notifications.put_configuration(bucket, {
        "LambdaFunctionConfigurations": [
            {"Id": "a", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:*"]}],
        "QueueConfigurations": [{"Id": "b", "QueueArn": queue.arn, "Events": ["s3:ObjectCreated:*"]}],
    })
    response = member(users).post(page_url(bucket), form(
        entry(0, f"lambda:{fn.arn}", ["s3:ObjectRemoved:*"], config_id="a", suffix=".png"),
        entry(1, f"queue:{queue.arn}", ["s3:ObjectCreated:*"], config_id="b", delete=True),
        entry(2),  # the blank new entry
        initial=2,
    ))
    assert response.status_code == 302
    assert notifications.get_configuration(bucket) == {"LambdaFunctionConfigurations": [{
        "Id": "a", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".png"}]}},
    }]}


def test_it_clears_the_configuration_when_every_entry_goes(users, bucket, fn):
    notifications.put_configuration(bucket, {"LambdaFunctionConfigurations": [
        {"Id": "a", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:*"]}]})
    response = member(users).post(page_url(bucket), form(
        entry(0, f"lambda:{fn.arn}", ["s3:ObjectCreated:*"], config_id="a", delete=True), entry(1), initial=1,
    ))
    assert response.status_code == 302
    assert notifications.get_configuration(bucket) == {}


STORED = {"Id": "keep", "Events": ["s3:ObjectCreated:*"]}


@pytest.fixture
def stored(bucket, fn):
    notifications.put_configuration(bucket, {"LambdaFunctionConfigurations": [
        {**STORED, "LambdaFunctionArn": fn.arn}]})
    return notifications.get_configuration(bucket)


def test_it_needs_an_event_and_changes_nothing(users, bucket, fn, stored):
    response = member(users).post(page_url(bucket), form(
        entry(0, f"lambda:{fn.arn}", ["s3:ObjectCreated:*"], config_id="keep"),
        entry(1, f"lambda:{fn.arn}", []),
        initial=1,
    ))
    assert response.status_code == 200
    errors = response.context["formset"].forms[1].errors
    assert errors["events"] == ["Choose at least one event."]
    assert response.context["formset"].forms[0].errors == {}
    assert notifications.get_configuration(bucket) == stored


def test_it_needs_a_target(users, bucket, stored):
    response = member(users).post(page_url(bucket), form(entry(0, "", ["s3:ObjectCreated:*"], prefix="x/")))
    assert response.status_code == 200
    assert "Choose the function, queue or topic" in response.content.decode()
    assert notifications.get_configuration(bucket) == stored


def test_it_refuses_a_target_gone_since_the_page_was_shown(users, bucket, fn, stored, make_function):
    doomed = make_function("doomed")
    arn = doomed.arn
    client = member(users)
    client.get(page_url(bucket))
    doomed.delete()
    response = client.post(page_url(bucket), form(entry(0, f"lambda:{arn}", ["s3:ObjectCreated:*"])))
    assert response.status_code == 200
    # The choice is gone from the list, so the form refuses it first.
    assert "Select a valid choice" in response.content.decode()
    assert notifications.get_configuration(bucket) == stored


def test_it_shows_put_configurations_own_refusal_on_the_entry(users, bucket, fn, stored, team):
    queue = queues.create_queue(team, "short-lived")
    Notification.objects.create(bucket=bucket, position=1, kind="queue", config_id="old",
                                target_arn=queue.arn, events=["s3:ObjectCreated:*"])
    stored = notifications.get_configuration(bucket)
    queue.delete()  # the stored entry now names a queue that is gone: still offered, marked missing
    response = member(users).post(page_url(bucket), form(
        entry(0, f"lambda:{fn.arn}", ["s3:ObjectCreated:*"], config_id="keep"),
        entry(1, f"queue:{queue.arn}", ["s3:ObjectCreated:*"], config_id="old"),
        initial=2,
    ))
    assert response.status_code == 200
    forms_ = response.context["formset"].forms
    assert forms_[1].errors["target"] == [f"The destination queue does not exist: {queue.arn}"]
    assert "(missing)" in response.content.decode()
    assert notifications.get_configuration(bucket) == stored


def test_it_refuses_a_filter_value_over_1024_characters(users, bucket, fn, stored):
    response = member(users).post(page_url(bucket), form(
        entry(0, f"lambda:{fn.arn}", ["s3:ObjectCreated:*"], prefix="p" * 1025)))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["prefix"]
    assert notifications.get_configuration(bucket) == stored


def test_it_is_read_only_for_read_only_members(users, bucket, fn, stored):
    reader = Client()
    reader.force_login(users["reader"])
    page = reader.get(page_url(bucket))
    assert page.status_code == 200
    assert b"notifications-form" not in page.content
    assert b"keep" in page.content
    response = reader.post(page_url(bucket), form(entry(0, f"lambda:{fn.arn}", ["s3:ObjectRemoved:*"])))
    assert response.status_code == 403
    assert notifications.get_configuration(bucket) == stored


def test_it_hides_the_page_from_strangers_and_refuses_other_methods(users, bucket):
    outsider = Client()
    outsider.force_login(users["outsider"])
    assert outsider.get(page_url(bucket)).status_code == 404
    assert outsider.post(page_url(bucket), form()).status_code == 404
    assert member(users).put(page_url(bucket)).status_code == 405


def test_it_lists_the_functions_notifications_on_its_triggers_tab(users, bucket, fn, team, make_function):
    from functions import versions

    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    other = objects.create_bucket(team, "scans")
    notifications.put_configuration(bucket, {"LambdaFunctionConfigurations": [
        {"Id": "thumbs", "LambdaFunctionArn": fn.arn + ":live", "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".jpg"}]}}},
    ]})
    notifications.put_configuration(other, {"LambdaFunctionConfigurations": [
        {"Id": "all", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectRemoved:*"]},
        {"Id": "not-mine", "LambdaFunctionArn": make_function("thumbnailer-2").arn,
         "Events": ["s3:ObjectCreated:*"]},
    ]})
    Invocation.objects.create(function=fn, status="failed", trigger="bucket:photos")
    body = member(users).get(reverse("trg-tab", args=[fn.id]), HTTP_HX_REQUEST="true").content.decode()
    assert body.count("<td>S3 notification</td>") == 2
    assert "thumbs · s3:ObjectCreated:* · suffix &#x27;.jpg&#x27; · runs thumbnailer:live" in body
    assert "all · s3:ObjectRemoved:* · every key · runs unqualified ($LATEST)" in body
    assert "not-mine" not in body
    assert f'href="{page_url(bucket)}"' in body
    rows = {row.target: row for row in registry.rows_for(fn) if row.kind == "S3 notification"}
    assert rows["photos"].errors_last_hour == 1 and rows["photos"].last_fired_at is not None
    assert rows["scans"].errors_last_hour == 0 and rows["scans"].last_fired_at is None
