"""A function's own credentials (awsapi.principals) and its execution
policy, through the production ASGI application with real boto3 clients
signing with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
as a handler's would."""

import json

import pytest
from botocore.exceptions import ClientError

from awsapi import errors, guard, principals
from functions.forms import ExecutionPolicyForm
from functions.models import ApiKey, DeniedCall, Function
from tests.unit.aws_clients import aws_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("objects_dir")]


def client(service: str, credentials: dict):
    extra = {"s3": {"addressing_style": "path"}, "signature_version": "s3v4"} if service == "s3" else {}
    return aws_client(service, credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"],
                      token=credentials.get("AWS_SESSION_TOKEN"), **extra)


@pytest.fixture
def person(users, team):
    key, secret = ApiKey.issue(users["member"], team)
    return {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": secret}


@pytest.fixture
def fn(make_function):
    return make_function("worker")


def allow(fn: Function, *statements) -> None:
    Function.objects.filter(pk=fn.pk).update(
        execution_policy={"Version": "2012-10-17", "Statement": list(statements)}
    )


def error(excinfo) -> tuple[str, str, int]:
    response = excinfo.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return response["Error"]["Code"], response["Error"]["Message"], status


def test_issued_credentials_look_like_sts_ones_and_differ_per_environment(fn):
    one, two = principals.issue(fn), principals.issue(fn)
    assert set(one) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert one["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(one["AWS_ACCESS_KEY_ID"]) == 20
    assert len(one["AWS_SECRET_ACCESS_KEY"]) == 40
    assert one["AWS_ACCESS_KEY_ID"] != two["AWS_ACCESS_KEY_ID"]


def test_a_function_may_do_what_its_policy_allows_and_nothing_else(fn, person, team):
    s3_person = client("s3", person)
    s3_person.create_bucket(Bucket="data")
    s3_person.put_object(Bucket="data", Key="in/a.txt", Body=b"hello")
    allow(fn, {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data/in/*"})
    s3 = client("s3", principals.issue(fn))

    assert s3.get_object(Bucket="data", Key="in/a.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket="data", Key="in/b.txt", Body=b"no")
    who = f"arn:aws:sts::{team.account_id}:assumed-role/worker-role/worker"
    assert error(denied) == ("AccessDenied", (
        f"User: {who} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::data/in/b.txt "
        "because no identity-based policy allows the s3:PutObject action"), 403)
    with pytest.raises(ClientError):
        s3.get_object(Bucket="data", Key="out/a.txt")  # outside the Resource
    # Nothing was written, and both refusals are recorded.
    assert [o["Key"] for o in s3_person.list_objects_v2(Bucket="data")["Contents"]] == ["in/a.txt"]
    assert list(DeniedCall.objects.values_list("action", "resource")) == [
        ("s3:GetObject", "arn:aws:s3:::data/out/a.txt"), ("s3:PutObject", "arn:aws:s3:::data/in/b.txt"),
    ]


def test_an_explicit_deny_wins_and_json_services_answer_access_denied_exception(fn, person, team):
    sqs_person = client("sqs", person)
    url = sqs_person.create_queue(QueueName="jobs")["QueueUrl"]
    allow(fn, {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
          {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*"})
    sqs = client("sqs", principals.issue(fn))

    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    with pytest.raises(ClientError) as denied:
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": "1", "ReceiptHandle": message["ReceiptHandle"]}]
        )
    code, text, status = error(denied)
    # botocore reads the query-compatible code; the JSON __type is AccessDeniedException.
    assert (code, status) == ("AccessDenied", 403)
    assert text.endswith(
        f"sqs:DeleteMessage on resource: arn:aws:sqs:us-east-1:{team.account_id}:jobs "
        "with an explicit deny in an identity-based policy"
    )


def test_lambda_calls_are_checked_on_the_function_arn(fn, make_function, team):
    target = make_function("target")
    lam = client("lambda", principals.issue(fn))
    with pytest.raises(ClientError) as denied:
        lam.invoke(FunctionName="target", InvocationType="DryRun")
    assert error(denied)[0] == "AccessDeniedException"
    assert f"lambda:InvokeFunction on resource: {target.arn} because" in error(denied)[1]
    allow(fn, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": target.arn})
    assert lam.invoke(FunctionName="target", InvocationType="DryRun")["StatusCode"] == 204
    # The doors outside the front door (awsapi.guard: Invoke) name their action from the path.
    principal = principals.FunctionPrincipal("ASIA", fn, 0)
    with pytest.raises(errors.AwsError) as listing:
        guard.authorize_function(principal, "GET", "/2015-03-31/functions/")
    assert listing.value.code == "AccessDeniedException"
    assert "lambda:ListFunctions on resource: * because" in listing.value.message
    guard.authorize_function(principal, "POST", "/2015-03-31/functions/target/invocations")


def test_a_token_that_was_altered_expired_or_left_out_is_refused(fn, settings):
    allow(fn, {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    good = principals.issue(fn)
    forged = {**good, "AWS_SESSION_TOKEN": good["AWS_SESSION_TOKEN"].replace(".", ".A", 1)}
    other_key = {**good, "AWS_ACCESS_KEY_ID": principals.issue(fn)["AWS_ACCESS_KEY_ID"]}
    expired = principals.issue(fn, lifetime_s=-1)
    no_token = {k: v for k, v in good.items() if k != "AWS_SESSION_TOKEN"}
    assert client("sqs", good).list_queues().get("QueueUrls", []) == []
    for credentials, code in [(forged, "InvalidClientTokenId"), (other_key, "InvalidClientTokenId"),
                              (expired, "ExpiredToken"), (no_token, "InvalidClientTokenId")]:
        with pytest.raises(ClientError) as refused:
            client("sqs", credentials).list_queues()
        assert error(refused)[0] == code and error(refused)[2] == 403


def test_deleting_the_function_revokes_its_credentials(fn):
    allow(fn, {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    sns = client("sns", principals.issue(fn))
    sns.list_topics()
    fn.delete()
    with pytest.raises(ClientError) as refused:
        sns.list_topics()
    assert error(refused)[2] == 403


def test_people_keys_are_not_held_to_any_function_policy(person):
    assert client("sns", person).create_topic(Name="free")["TopicArn"].endswith(":free")
    assert DeniedCall.objects.count() == 0


@pytest.mark.parametrize("text, words", [
    ("{", "not JSON"),
    ('{"Version": "2012-10-17"}', "Statement"),
    ('{"Version": "2020-01-01", "Statement": []}', "Version must be"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}',
     "Effect must be"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}',
     "SERVICE:ACTION"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}]}',
     "not an ARN"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", '
     '"Condition": {}}]}', "Condition is not supported"),
])
def test_the_console_form_says_what_is_wrong_with_a_policy(text, words):
    form = ExecutionPolicyForm({"execution_policy": text})
    assert not form.is_valid()
    assert words in form.errors["execution_policy"][0]


def test_the_console_form_keeps_a_valid_policy_and_empty_means_nothing_allowed():
    statement = {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": statement}
    form = ExecutionPolicyForm({"execution_policy": json.dumps(document)})
    assert form.is_valid() and form.cleaned_data["execution_policy"] == document
    empty = ExecutionPolicyForm({"execution_policy": "  "})
    assert empty.is_valid() and empty.cleaned_data["execution_policy"] == {}


def test_the_configuration_tab_saves_a_policy_or_says_what_is_wrong(client, users, fn):
    client.force_login(users["member"])
    url = f"/functions/{fn.id}/policy/"
    bad = client.post(url, {"execution_policy": '{"Version": "2012-10-17", "Statement": []}'})
    assert bad.status_code == 200 and "Statement must be" in bad.content.decode()
    assert Function.objects.get(pk=fn.pk).execution_policy == {}
    statement = {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert client.post(url, {"execution_policy": json.dumps(document)}).status_code == 302
    assert Function.objects.get(pk=fn.pk).execution_policy == document
    client.force_login(users["reader"])
    assert client.post(url, {"execution_policy": ""}).status_code in (403, 404)
    assert Function.objects.get(pk=fn.pk).execution_policy == document
