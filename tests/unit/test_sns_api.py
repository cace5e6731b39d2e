"""SNS through the AWS front door, driven by a real boto3 `sns` client (query
protocol, SigV4): its requests go through the production ASGI application
(console.asgi -> awsapi.door) and its answers are parsed by botocore, so
shapes and errors are what SDK users meet."""

import json

import pytest
from botocore.exceptions import ClientError

from functions.models import ApiKey, Membership, Team
from invocations import tasks
from invocations.models import Invocation
from messaging import queues, sns_api, topics
from messaging.models import QueueMessage, Subscription, Topic, TopicMessage
from tests.unit.aws_clients import boto_client
from tests.unit.test_sqs_api import code_of


@pytest.fixture
def reader_sns(users, team):
    key, secret = ApiKey.issue(users["reader"], team)
    return boto_client("sns", key.access_key_id, secret)


@pytest.fixture
def other_team(users):
    other = Team.objects.create(name="beta")
    Membership.objects.create(team=other, user=users["outsider"], role="owner")
    return other


@pytest.fixture
def queued(monkeypatch):
    """Record queued invocation tasks instead of sending them to a broker."""
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append((args[0], kw)))
    return sent


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def message_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def topic_arn(team, name: str) -> str:
    return f"arn:aws:sns:us-east-1:{team.account_id}:{name}"


def fail(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e


# Topics --------------------------------------------------------------------------


def test_it_creates_a_topic_once_by_name(sns, team):
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"})["TopicArn"]
    assert arn == topic_arn(team, "orders")
    assert sns.create_topic(Name="orders")["TopicArn"] == arn
    assert sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    e = fail(sns.create_topic, Name="orders", Attributes={"DisplayName": "Other"})
    assert code_of(e) == "InvalidParameter"
    assert "Topic already exists with different attributes" in message_of(e)
    assert Topic.objects.get(team=team).display_name == "Orders"


@pytest.mark.parametrize("kwargs, words", [
    ({"Name": "bad name"}, "Invalid parameter: Topic Name"),
    ({"Name": ""}, "Invalid parameter: Topic Name"),
    ({"Name": "x" * 257}, "Invalid parameter: Topic Name"),
    ({"Name": "orders.fifo"}, "FIFO"),
    ({"Name": "t", "Tags": [{"Key": "a", "Value": "b"}]}, "tags"),
    ({"Name": "t", "Attributes": {"KmsMasterKeyId": "k"}}, "does not support the topic attribute KmsMaster"),
    ({"Name": "t", "Attributes": {"Colour": "red"}}, "Invalid parameter: AttributeName"),
    ({"Name": "t", "Attributes": {"FifoTopic": "true"}}, "Fifo Topic names must end with .fifo"),
    ({"Name": "t", "Attributes": {"Policy": "{nope"}}, "Policy Error"),
])
def test_it_refuses_bad_topics_and_stores_nothing(sns, kwargs, words):
    e = fail(sns.create_topic, **kwargs)
    assert code_of(e) == "InvalidParameter" and status_of(e) == 400
    assert words in message_of(e)
    assert not Topic.objects.exists()


def test_it_lists_topics_a_page_at_a_time(sns, team, other_team, monkeypatch):
    monkeypatch.setattr(sns_api, "PAGE_SIZE", 2)
    for name in ("c", "a", "b", "d", "e"):
        topics.create_topic(team, name)
    topics.create_topic(other_team, "theirs")
    first = sns.list_topics()
    assert [t["TopicArn"] for t in first["Topics"]] == [topic_arn(team, "a"), topic_arn(team, "b")]
    second = sns.list_topics(NextToken=first["NextToken"])
    third = sns.list_topics(NextToken=second["NextToken"])
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in second["Topics"] + third["Topics"]] == ["c", "d", "e"]
    assert "NextToken" not in third
    assert code_of(fail(sns.list_topics, NextToken="%%%")) == "InvalidParameter"


def test_it_deletes_a_topic_and_its_subscriptions(sns, team, make_function):
    topic = topics.create_topic(team, "gone")
    topics.subscribe(topic, make_function())
    sns.delete_topic(TopicArn=topic.arn)
    assert not Topic.objects.exists() and not Subscription.objects.exists()
    # Deleting it again is not an error, as in SNS.
    sns.delete_topic(TopicArn=topic.arn)


def test_it_gets_and_sets_topic_attributes(sns, team, make_function):
    topic = topics.create_topic(team, "t")
    topics.subscribe(topic, make_function())
    doomed = topics.subscribe(topic, make_function("other"))
    sns.unsubscribe(SubscriptionArn=doomed.arn)
    got = sns.get_topic_attributes(TopicArn=topic.arn)["Attributes"]
    assert got["TopicArn"] == topic.arn and got["Owner"] == team.account_id
    assert (got["SubscriptionsConfirmed"], got["SubscriptionsPending"], got["SubscriptionsDeleted"]) == (
        "1", "0", "1"
    )
    assert got["DisplayName"] == ""
    policy = json.loads(got["Policy"])
    assert policy["Statement"][0]["Resource"] == topic.arn
    assert "http" in json.loads(got["EffectiveDeliveryPolicy"])

    sns.set_topic_attributes(TopicArn=topic.arn, AttributeName="DisplayName", AttributeValue="Tea")
    mine = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish", "Resource": topic.arn}
    ]})
    sns.set_topic_attributes(TopicArn=topic.arn, AttributeName="Policy", AttributeValue=mine)
    got = sns.get_topic_attributes(TopicArn=topic.arn)["Attributes"]
    assert (got["DisplayName"], got["Policy"]) == ("Tea", mine)

    e = fail(sns.set_topic_attributes, TopicArn=topic.arn, AttributeName="Policy",
             AttributeValue='{"Statement": "everyone"}')
    assert code_of(e) == "InvalidParameter" and "Policy Error" in message_of(e)
    e = fail(sns.set_topic_attributes, TopicArn=topic.arn, AttributeName="DisplayName",
             AttributeValue="x" * 101)
    assert code_of(e) == "InvalidParameter"
    e = fail(sns.set_topic_attributes, TopicArn=topic.arn, AttributeName="DeliveryPolicy",
             AttributeValue="{}")
    assert code_of(e) == "InvalidParameter" and "DeliveryPolicy" in message_of(e)
    assert Topic.objects.get(pk=topic.pk).display_name == "Tea"


def test_it_names_missing_and_foreign_topics_as_sns_does(sns, team, other_team):
    e = fail(sns.get_topic_attributes, TopicArn=topic_arn(team, "nope"))
    assert (code_of(e), message_of(e), status_of(e)) == ("NotFound", "Topic does not exist", 404)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=topic_arn(team, "nope"))
    e = fail(sns.get_topic_attributes, TopicArn="not-an-arn")
    assert code_of(e) == "InvalidParameter" and message_of(e).startswith("Invalid parameter: TopicArn")
    theirs = topics.create_topic(other_team, "theirs")
    e = fail(sns.publish, TopicArn=theirs.arn, Message="hi")
    assert (code_of(e), status_of(e)) == ("AuthorizationError", 403)
    assert not TopicMessage.objects.exists()


def test_it_refuses_writes_to_a_read_only_member(reader_sns, team):
    topic = topics.create_topic(team, "t")
    e = fail(reader_sns.publish, TopicArn=topic.arn, Message="x")
    assert (code_of(e), status_of(e)) == ("AuthorizationError", 403)
    assert code_of(fail(reader_sns.create_topic, Name="u")) == "AuthorizationError"
    assert not TopicMessage.objects.exists()
    # Reads are allowed.
    assert reader_sns.list_topics()["Topics"] == [{"TopicArn": topic.arn}]
    assert reader_sns.get_topic_attributes(TopicArn=topic.arn)["Attributes"]["TopicArn"] == topic.arn


def test_it_answers_an_operation_it_does_not_serve(sns):
    e = fail(sns.list_tags_for_resource, ResourceArn="arn:aws:sns:us-east-1:1:t")
    assert code_of(e) == "InvalidAction"


# Subscriptions --------------------------------------------------------------------


def test_it_subscribes_a_function_once(sns, team, make_function):
    fn = make_function()
    topic = topics.create_topic(team, "t")
    arn = sns.subscribe(TopicArn=topic.arn, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"]
    sub = Subscription.objects.get()
    assert arn == sub.arn and sub.function == fn
    assert sns.subscribe(TopicArn=topic.arn, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"] == arn
    e = fail(sns.subscribe, TopicArn=topic.arn, Protocol="lambda", Endpoint=fn.arn,
             Attributes={"FilterPolicy": '{"a": ["b"]}'})
    assert "Subscription already exists with different attributes" in message_of(e)
    assert Subscription.objects.count() == 1


def test_it_subscribes_a_queue_with_its_attributes(sns, team):
    queue = queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    arn = sns.subscribe(
        TopicArn=topic.arn, Protocol="sqs", Endpoint=queue.arn, ReturnSubscriptionArn=True,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"k": [{"prefix": "a"}]}'},
    )["SubscriptionArn"]
    again = sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=queue.arn,
                          Attributes={"RawMessageDelivery": "true"})
    assert again["SubscriptionArn"] == arn
    got = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert got["Protocol"] == "sqs" and got["Endpoint"] == queue.arn and got["TopicArn"] == topic.arn
    assert got["RawMessageDelivery"] == "true" and got["PendingConfirmation"] == "false"
    assert json.loads(got["FilterPolicy"]) == {"k": [{"prefix": "a"}]}
    assert got["FilterPolicyScope"] == "MessageAttributes" and got["Owner"] == team.account_id


@pytest.mark.parametrize("protocol, endpoint, words", [
    ("ftp", "x", "Amazon SNS does not support this protocol string: ftp"),
    ("email", "a@example.com", "does not deliver to email endpoints yet"),
    ("http", "http://example.com/hook", "loopback endpoints only"),
    ("http", "http://10.0.0.1:8080/", "10.0.0.1 is not one"),
    ("https", "http://127.0.0.1/", "must match the specified protocol"),
    ("http", "http://[::ffff:8.8.8.8]/", "is not one"),
    ("lambda", "", "Invalid parameter: Endpoint"),
    ("lambda", "arn:aws:lambda:us-east-1:{account}:function:nope", "no function named nope"),
    ("lambda", "arn:aws:lambda:us-east-1:{account}:function:hello:1", "has no version or alias 1"),
    ("lambda", "arn:aws:sqs:us-east-1:{account}:inbox", "is not an lambda ARN"),
    ("sqs", "arn:aws:sqs:us-east-1:{account}:nope", "no queue named nope"),
    ("sqs", "arn:aws:sqs:eu-west-1:{account}:inbox", "region eu-west-1"),
])
def test_it_refuses_bad_endpoints(sns, team, make_function, protocol, endpoint, words):
    make_function()
    queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    endpoint = endpoint.format(account=team.account_id)
    e = fail(sns.subscribe, TopicArn=topic.arn, Protocol=protocol, Endpoint=endpoint)
    assert code_of(e) == "InvalidParameter" and words in message_of(e)
    assert not Subscription.objects.exists()


def test_it_refuses_another_accounts_endpoint(sns, team, other_team):
    topic = topics.create_topic(team, "t")
    theirs = queues.create_queue(other_team, "theirs")
    e = fail(sns.subscribe, TopicArn=topic.arn, Protocol="sqs", Endpoint=theirs.arn)
    assert code_of(e) == "AuthorizationError"


@pytest.mark.parametrize("attributes, words", [
    ({"RawMessageDelivery": "true"}, "Delivery protocol [lambda] does not support raw message delivery"),
    ({"RawMessageDelivery": "maybe"}, "Must be true or false"),
    ({"FilterPolicy": '{"a": [{"regex": "x"}]}'}, "FilterPolicy: Unrecognized match type regex"),
    ({"FilterPolicyScope": "Headers"}, "Please use either MessageBody or MessageAttributes"),
    ({"FilterPolicy": '{"a": {"b": ["c"]}}'}, "nested policies need the filter policy scope MessageBody"),
    ({"RedrivePolicy": "{}"}, "does not support the subscription attribute RedrivePolicy"),
    ({"Colour": "red"}, "Unknown attribute Colour"),
])
def test_it_refuses_bad_subscription_attributes(sns, team, make_function, attributes, words):
    fn = make_function()
    topic = topics.create_topic(team, "t")
    e = fail(sns.subscribe, TopicArn=topic.arn, Protocol="lambda", Endpoint=fn.arn, Attributes=attributes)
    assert code_of(e) == "InvalidParameter" and words in message_of(e)
    assert not Subscription.objects.exists()


def test_it_sets_subscription_attributes(sns, team):
    queue = queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    sub = topics.subscribe_queue(topic, queue)
    body_policy = '{"order": {"total": [{"numeric": [">", 10]}]}}'
    e = fail(sns.set_subscription_attributes, SubscriptionArn=sub.arn, AttributeName="FilterPolicy",
             AttributeValue=body_policy)
    assert "MessageBody" in message_of(e)
    sns.set_subscription_attributes(SubscriptionArn=sub.arn, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=sub.arn, AttributeName="FilterPolicy",
                                    AttributeValue=body_policy)
    sns.set_subscription_attributes(SubscriptionArn=sub.arn, AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    sub.refresh_from_db()
    assert sub.filter_policy == json.loads(body_policy) and sub.filter_policy_scope == "MessageBody"
    assert sub.raw_message_delivery
    # A scope the policy does not fit is refused, and nothing changes.
    e = fail(sns.set_subscription_attributes, SubscriptionArn=sub.arn, AttributeName="FilterPolicyScope",
             AttributeValue="MessageAttributes")
    assert code_of(e) == "InvalidParameter"
    sns.set_subscription_attributes(SubscriptionArn=sub.arn, AttributeName="FilterPolicy", AttributeValue="")
    sub.refresh_from_db()
    assert sub.filter_policy is None and sub.filter_policy_scope == "MessageBody"
    assert "FilterPolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub.arn)["Attributes"]


def test_it_lists_subscriptions_a_page_at_a_time(sns, team, make_function, monkeypatch):
    monkeypatch.setattr(sns_api, "PAGE_SIZE", 2)
    one, two = topics.create_topic(team, "one"), topics.create_topic(team, "two")
    made = [topics.subscribe(one, make_function(f"f{i}")) for i in range(3)]
    made.append(topics.subscribe_queue(two, queues.create_queue(team, "q")))
    first = sns.list_subscriptions()
    second = sns.list_subscriptions(NextToken=first["NextToken"])
    assert "NextToken" not in second
    listed = first["Subscriptions"] + second["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [s.arn for s in made]
    assert listed[-1] == {"SubscriptionArn": made[-1].arn, "Owner": team.account_id, "Protocol": "sqs",
                          "Endpoint": made[-1].queue.arn, "TopicArn": two.arn}
    by_topic = sns.list_subscriptions_by_topic(TopicArn=one.arn)
    more = sns.list_subscriptions_by_topic(TopicArn=one.arn, NextToken=by_topic["NextToken"])
    assert [s["SubscriptionArn"] for s in by_topic["Subscriptions"] + more["Subscriptions"]] == [
        s.arn for s in made[:3]
    ]
    assert code_of(fail(sns.list_subscriptions_by_topic, TopicArn=topic_arn(team, "no"))) == "NotFound"
    assert code_of(fail(sns.list_subscriptions, NextToken="eA==")) == "InvalidParameter"


def test_it_unsubscribes(sns, team, make_function):
    topic = topics.create_topic(team, "t")
    sub = topics.subscribe(topic, make_function())
    sns.unsubscribe(SubscriptionArn=sub.arn)
    assert not Subscription.objects.exists()
    sns.unsubscribe(SubscriptionArn=sub.arn)  # Again: not an error, as in SNS.
    assert Topic.objects.get().subscriptions_deleted == 1
    e = fail(sns.unsubscribe, SubscriptionArn=topic.arn)
    assert code_of(e) == "InvalidParameter" and "SubscriptionId" in message_of(e)
    e = fail(sns.get_subscription_attributes, SubscriptionArn=sub.arn)
    assert (code_of(e), message_of(e)) == ("NotFound", "Subscription does not exist")


# Publishing -------------------------------------------------------------------------


def test_it_publishes_to_a_function_with_labels_kept(
    sns, team, make_function, queued, django_capture_on_commit_callbacks
):
    fn = make_function()
    topic = topics.create_topic(team, "t")
    sub = topics.subscribe(topic, fn)
    with django_capture_on_commit_callbacks(execute=True):
        sent = sns.publish(TopicArn=topic.arn, Message="hello", Subject="Hi", MessageAttributes={
            "tags": {"DataType": "String.Array", "StringValue": '["a", 1, true]'},
            "price": {"DataType": "Number", "StringValue": "9.5"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        })
    inv = Invocation.objects.get()
    assert (inv.source, inv.trigger, inv.function) == ("topic", sub.trigger, fn)
    assert len(queued) == 1
    record = json.loads(inv.event)["Records"][0]
    assert record["EventSubscriptionArn"] == sub.arn
    msg = record["Sns"]
    assert (msg["MessageId"], msg["Message"], msg["Subject"]) == (sent["MessageId"], "hello", "Hi")
    assert msg["MessageAttributes"] == {
        "tags": {"Type": "String.Array", "Value": '["a", 1, true]'},
        "price": {"Type": "Number", "Value": "9.5"},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }
    assert TopicMessage.objects.get().deliveries == 1


def test_it_delivers_the_sns_envelope_to_a_queue(sns, sqs, team):
    queue = queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    sub = topics.subscribe_queue(topic, queue)
    sent = sns.publish(TopicArn=topic.arn, Message="hello", Subject="Hi", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "a"},
    })
    url = f"http://testserver/{team.account_id}/inbox"
    (got,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    envelope = json.loads(got["Body"])
    assert envelope["Type"] == "Notification" and envelope["MessageId"] == sent["MessageId"]
    assert (envelope["TopicArn"], envelope["Subject"], envelope["Message"]) == (topic.arn, "Hi", "hello")
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "a"}}
    assert {"Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"} <= set(envelope)
    assert "MessageAttributes" not in got
    assert sub.arn  # The subscription stays.


def test_it_delivers_raw_messages_with_their_attributes_to_a_queue(sns, sqs, team):
    queue = queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    topics.subscribe_queue(topic, queue, raw=True)
    sns.publish(TopicArn=topic.arn, Message="just this", MessageAttributes={
        "price": {"DataType": "Number.float", "StringValue": "1.5"},
        "tags": {"DataType": "String.Array", "StringValue": '["x"]'},
    })
    url = f"http://testserver/{team.account_id}/inbox"
    (got,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert got["Body"] == "just this"
    assert got["MessageAttributes"] == {
        "price": {"DataType": "Number.float", "StringValue": "1.5"},
        "tags": {"DataType": "String.Array", "StringValue": '["x"]'},
    }


def test_it_sends_each_protocol_its_own_message(sns, team, make_function, queued):
    queue = queues.create_queue(team, "inbox")
    topic = topics.create_topic(team, "t")
    topics.subscribe_queue(topic, queue, raw=True)
    topics.subscribe(topic, make_function())
    sns.publish(TopicArn=topic.arn, MessageStructure="json",
                Message=json.dumps({"default": "plain", "sqs": "for queues"}))
    assert QueueMessage.objects.get().body == "for queues"
    assert json.loads(Invocation.objects.get().event)["Records"][0]["Sns"]["Message"] == "plain"
    e = fail(sns.publish, TopicArn=topic.arn, MessageStructure="json", Message='{"sqs": "x"}')
    assert "No default entry in JSON message body" in message_of(e)
    e = fail(sns.publish, TopicArn=topic.arn, MessageStructure="json", Message="{nope")
    assert "failed to parse" in message_of(e)


def test_it_filters_deliveries_by_policy(sns, team, make_function, queued):
    topic = topics.create_topic(team, "t")
    cheap = queues.create_queue(team, "cheap")
    sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=cheap.arn, Attributes={
        "FilterPolicy": '{"price": [{"numeric": ["<", 10]}]}', "RawMessageDelivery": "true",
    })
    big = queues.create_queue(team, "big")
    sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=big.arn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": '{"order": {"size": ["big"]}}',
        "RawMessageDelivery": "true",
    })
    price = {"price": {"DataType": "Number", "StringValue": "5"}}
    sns.publish(TopicArn=topic.arn, Message=json.dumps({"order": {"size": "big"}}), MessageAttributes=price)
    sns.publish(TopicArn=topic.arn, Message="not json", MessageAttributes=price)
    sns.publish(TopicArn=topic.arn, Message=json.dumps({"order": {"size": "small"}}))
    assert list(QueueMessage.objects.filter(queue=cheap).values_list("body", flat=True).order_by("id")) == [
        '{"order": {"size": "big"}}', "not json",
    ]
    assert list(QueueMessage.objects.filter(queue=big).values_list("body", flat=True)) == [
        '{"order": {"size": "big"}}'
    ]
    assert list(TopicMessage.objects.order_by("id").values_list("deliveries", flat=True)) == [2, 1, 0]


@pytest.mark.parametrize("kwargs, code, words", [
    ({"Message": ""}, "InvalidParameter", "Invalid parameter: Empty message"),
    ({"Message": "x" * (256 * 1024 + 1)}, "InvalidParameter", "Message too long"),
    ({"Message": "x", "Subject": ""}, "InvalidParameter", "Invalid parameter: Subject"),
    ({"Message": "x", "Subject": "two\nlines"}, "InvalidParameter", "Invalid parameter: Subject"),
    ({"Message": "x", "Subject": "é"}, "InvalidParameter", "Invalid parameter: Subject"),
    ({"Message": "x", "MessageGroupId": "g"}, "InvalidParameter", "MessageGroupId"),
    ({"Message": "x", "PhoneNumber": "+15550100"}, "InvalidParameter", "SMS"),
    ({"Message": "x", "MessageAttributes": {"a": {"DataType": "Text", "StringValue": "v"}}},
     "ParameterValueInvalid", "the set of supported type prefixes is Binary, Number, and String"),
    ({"Message": "x", "MessageAttributes": {"a": {"DataType": "Number", "StringValue": "ten"}}},
     "ParameterValueInvalid", "Could not cast message attribute 'a' value to number"),
    ({"Message": "x", "MessageAttributes": {"a": {"DataType": "String", "StringValue": ""}}},
     "ParameterValueInvalid", "must contain non-empty message attribute value"),
    ({"Message": "x", "MessageAttributes": {"a": {"DataType": "String.Array", "StringValue": "[{}]"}}},
     "ParameterValueInvalid", "String.Array"),
    ({"Message": "x", "MessageAttributes": {"a b": {"DataType": "String", "StringValue": "v"}}},
     "ParameterValueInvalid", "is not valid"),
])
def test_it_refuses_bad_messages_and_delivers_nothing(sns, team, make_function, queued, kwargs, code, words):
    topic = topics.create_topic(team, "t")
    topics.subscribe(topic, make_function())
    e = fail(sns.publish, TopicArn=topic.arn, **kwargs)
    assert code_of(e) == code and status_of(e) == 400 and words in message_of(e)
    assert not TopicMessage.objects.exists() and not Invocation.objects.exists()


def test_it_publishes_by_target_arn_and_names_a_missing_topic(sns, team):
    topic = topics.create_topic(team, "t")
    assert sns.publish(TargetArn=topic.arn, Message="x")["MessageId"]
    e = fail(sns.publish, TopicArn=topic_arn(team, "gone"), Message="x")
    assert (code_of(e), status_of(e)) == ("NotFound", 404)


def test_it_publishes_a_batch(sns, team, make_function, queued):
    topic = topics.create_topic(team, "t")
    topics.subscribe(topic, make_function())
    answer = sns.publish_batch(TopicArn=topic.arn, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "first", "MessageAttributes": {
            "tags": {"DataType": "String.Array", "StringValue": '["a"]'}}},
        {"Id": "two", "Message": ""},
        {"Id": "three", "Message": "third", "Subject": "S"},
    ])
    assert [s["Id"] for s in answer["Successful"]] == ["one", "three"]
    (failed,) = answer["Failed"]
    assert failed["Id"] == "two" and failed["Code"] == "InvalidParameter" and failed["SenderFault"]
    assert Invocation.objects.count() == 2
    stored = TopicMessage.objects.get(message="first")
    assert stored.attributes == {"tags": {"Type": "String.Array", "Value": '["a"]'}}
    assert str(stored.message_id) == answer["Successful"][0]["MessageId"]


@pytest.mark.parametrize("entries, code", [
    ([], "EmptyBatchRequest"),
    ([{"Id": str(i), "Message": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
    ([{"Id": "a", "Message": "x"}, {"Id": "a", "Message": "y"}], "BatchEntryIdsNotDistinct"),
    ([{"Id": "not ok", "Message": "x"}], "InvalidBatchEntryId"),
    ([{"Id": "a", "Message": "x" * 200_000}, {"Id": "b", "Message": "x" * 100_000}], "BatchRequestTooLong"),
])
def test_it_refuses_bad_batches_whole(sns, team, entries, code):
    topic = topics.create_topic(team, "t")
    e = fail(sns.publish_batch, TopicArn=topic.arn, PublishBatchRequestEntries=entries)
    assert code_of(e) == code and status_of(e) == 400
    assert not TopicMessage.objects.exists()
