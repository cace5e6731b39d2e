"""boto3 inside functions, on the real stack: unmodified boto3 clients in
handlers (network `none`) reach the platform through the runtime's door
(127.0.0.1:4566 in the container -> aws.sock -> the worker's forwarder ->
the web server -> the AWS front door), signed with the function's own
credentials and held to its execution policy. The seed's patterns run
from examples/."""

import hashlib
import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.integration.helpers import login, wait_for, zip_of
from tests.integration.test_messaging_real import ids, logs_of, submit

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def clients(stack):
    key, secret = stack.api_key()

    def client(service):
        extra = {"signature_version": "s3v4", "s3": {"addressing_style": "path"}} if service == "s3" else {}
        return boto3.client(
            service, endpoint_url=stack.url, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 0}, read_timeout=120, **extra),
        )

    return {name: client(name) for name in ("s3", "sqs", "sns", "lambda")}


@pytest.fixture(scope="module")
def console(stack):
    return login(stack)


def deploy(clients, name: str, files: dict[str, str], handler: str, **kwargs):
    kwargs.setdefault("Timeout", 30)
    kwargs.setdefault("MemorySize", 256)
    return clients["lambda"].create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler=handler,
        Code={"ZipFile": zip_of(files)}, **kwargs,
    )["FunctionArn"]


def example(path: str) -> str:
    return (EXAMPLES / path).read_text()


def set_policy(stack, console, name: str, document) -> None:
    """Through the console's Configuration tab, as a person would."""
    text = document if isinstance(document, str) else json.dumps(document)
    submit(stack, console, f"/functions/{ids(stack, name)['id']}/policy/", {"execution_policy": text})


def invoke(clients, name: str, payload) -> dict:
    answer = clients["lambda"].invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def test_etl_a_csv_into_one_bucket_comes_out_transformed_in_another(stack, clients, console):
    s3 = clients["s3"]
    s3.create_bucket(Bucket="etl-raw")
    s3.create_bucket(Bucket="etl-clean")
    arn = deploy(clients, "etl", {"app.py": example("etl/app.py")}, "app.handler",
                 Environment={"Variables": {"OUTPUT_BUCKET": "etl-clean"}})
    set_policy(stack, console, "etl", example("etl/policy.json"))
    s3.put_bucket_notification_configuration(Bucket="etl-raw", NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}}},
        ],
    })
    s3.put_object(Bucket="etl-raw", Key="day/sales.csv", Body=b"name,qty,price\napple,3,0.5\npear,2,1.25\n")

    def transformed():
        try:
            return s3.get_object(Bucket="etl-clean", Key="day/sales.csv")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    out = wait_for(transformed, timeout=120, interval=0.5)
    assert out == b"name,qty,price,total\nAPPLE,3,0.5,1.50\nPEAR,2,1.25,2.50\n"
    [row] = [r for r in logs_of(stack, "etl") if r["status"] == "succeeded"]
    assert "transformed s3://etl-raw/day/sales.csv: 2 rows" in row["logs"]


def test_command_a_router_invokes_other_functions_with_boto3(stack, clients, console):
    handlers = {"handlers.py": example("command/handlers.py")}
    deploy(clients, "cmd-add", handlers, "handlers.add")
    deploy(clients, "cmd-greet", handlers, "handlers.greet")
    deploy(clients, "router", {"router.py": example("command/router.py")}, "router.handler")
    set_policy(stack, console, "router", example("command/policy.json"))

    assert invoke(clients, "router", {"command": "add", "args": {"numbers": [1, 2, 39]}}) == {
        "command": "add", "by": "cmd-add", "result": 42,
    }
    # A second call reuses the warm environment, its boto3 client and its connection.
    greeted = invoke(clients, "router", {"command": "greet", "args": {"name": "stratus"}})
    assert greeted["result"] == "hello, stratus"
    sources = {r["source"] for r in stack.rows(
        "Invocation.objects.filter(function__name__in=['cmd-add', 'cmd-greet']).values('source')"
    )}
    assert sources == {"api"}


def test_fan_out_one_publish_from_a_function_runs_a_function_per_queue(stack, clients, console):
    sns, sqs = clients["sns"], clients["sqs"]
    topic = sns.create_topic(Name="orders")["TopicArn"]
    workers = ["ship", "bill", "notify"]
    for name in workers:
        deploy(clients, f"fan-{name}", {"worker.py": example("fanout/worker.py")}, "worker.handler")
        url = sqs.create_queue(QueueName=f"orders-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        queue_arn = attributes["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        queue_id = stack.rows(f"Queue.objects.filter(name='orders-{name}').values_list('id', flat=True)")[0]
        submit(stack, console, f"/queues/{queue_id}/mappings/", {
            "function": ids(stack, f"fan-{name}")["id"], "batch_size": "10", "batching_window_s": "0",
            "priority": "normal",
        })
    deploy(clients, "publisher", {"publisher.py": example("fanout/publisher.py")}, "publisher.handler",
           Environment={"Variables": {"TOPIC_ARN": topic}})
    set_policy(stack, console, "publisher", example("fanout/policy.json"))

    assert invoke(clients, "publisher", {"order": 42})["MessageId"]

    for name in workers:
        rows = wait_for(lambda n=name: [r for r in logs_of(stack, f"fan-{n}") if r["status"] == "succeeded"],
                        timeout=120)
        assert f"fan-{name} got order 42" in rows[0]["logs"]


DENIED = '''
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    answers = {}
    calls = {
        "sqs": lambda: boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="x"),
        "s3": lambda: boto3.client("s3").get_object(Bucket="locked", Key="secret.txt"),
        "lambda": lambda: boto3.client("lambda").invoke(FunctionName="cmd-add", Payload=b"{}"),
        "sns": lambda: boto3.client("sns").publish(TopicArn=event["topic"], Message="x"),
    }
    for service, call in calls.items():
        try:
            call()
            answers[service] = "allowed"
        except ClientError as e:
            answers[service] = [e.response["Error"]["Code"], e.response["Error"]["Message"],
                                e.response["ResponseMetadata"]["HTTPStatusCode"]]
    return answers
'''


def test_a_call_outside_the_policy_is_access_denied_inside_the_handler_and_recorded(stack, clients, console):
    s3, sqs, sns = clients["s3"], clients["sqs"], clients["sns"]
    s3.create_bucket(Bucket="locked")
    s3.put_object(Bucket="locked", Key="secret.txt", Body=b"no")
    url = sqs.create_queue(QueueName="locked-queue")["QueueUrl"]
    topic = sns.create_topic(Name="locked-topic")["TopicArn"]
    deploy(clients, "nosy", {"app.py": DENIED}, "app.handler")
    account = ids(stack, "nosy")
    account_id = stack.rows(
        "Function.objects.filter(name='nosy').values_list('team__account_id', flat=True)"
    )[0]
    # Allowed: SQS in general; then an explicit Deny on this queue wins. Nothing else is allowed.
    set_policy(stack, console, "nosy", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:Send*", "Resource": f"arn:aws:sqs:us-east-1:{account_id}:locked-*"},
    ]})

    answers = invoke(clients, "nosy", {"queue": url, "topic": topic})

    who = f"arn:aws:sts::{account_id}:assumed-role/lambda-role/nosy"
    assert answers["s3"] == ["AccessDenied", (
        f"User: {who} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::locked/secret.txt "
        "because no identity-based policy allows the s3:GetObject action"), 403]
    assert answers["sqs"] == ["AccessDenied", (
        f"User: {who} is not authorized to perform: sqs:SendMessage on resource: "
        f"arn:aws:sqs:us-east-1:{account_id}:locked-queue "
        "with an explicit deny in an identity-based policy"), 403]
    assert answers["lambda"][0] == "AccessDeniedException" and answers["lambda"][2] == 403
    assert "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:" in answers["lambda"][1]
    assert answers["sns"][0] == "AuthorizationError" and "sns:Publish" in answers["sns"][1]
    # Nothing happened, and every refusal is on the function's page.
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None
    recorded = json.loads(stack.shell(
        "import json; from functions.models import DeniedCall; print(json.dumps(list("
        "DeniedCall.objects.filter(function__name='nosy').values_list('action', flat=True))))"
    ).strip().splitlines()[-1])
    assert sorted(recorded) == ["lambda:InvokeFunction", "s3:GetObject", "sns:Publish", "sqs:SendMessage"]
    page = console.get(f"{stack.url}/functions/{account['id']}/?tab=configuration").text
    assert "Denied calls" in page and "sqs:SendMessage" in page and "arn:aws:s3:::locked/secret.txt" in page


ENVIRONMENT = '''
import hashlib
import os

import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    body = bytes(range(256)) * (event["size"] // 256)
    s3.put_object(Bucket="inside", Key="big.bin", Body=body)
    back = s3.get_object(Bucket="inside", Key="big.bin")["Body"].read()
    try:
        listing = os.listdir("/var/runtime/sock")
    except PermissionError:
        listing = "denied"
    return {"env": dict(os.environ), "put": hashlib.sha256(body).hexdigest(),
            "got": hashlib.sha256(back).hexdigest(), "sock": listing,
            "door": os.path.exists("/var/runtime/sock/aws.sock")}
'''


def test_the_environment_holds_only_its_own_short_lived_credentials(stack, clients, console):
    clients["s3"].create_bucket(Bucket="inside")
    deploy(clients, "env-dump", {"app.py": ENVIRONMENT}, "app.handler",
           Environment={"Variables": {"MINE": "yes"}})
    set_policy(stack, console, "env-dump", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::inside/*"},
    ]})
    size = 24 * 1024 * 1024  # one put_object body, streamed through both halves of the door

    answer = invoke(clients, "env-dump", {"size": size})

    assert answer["put"] == answer["got"] == hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
    # Its socket folder (its own, the only one mounted) cannot be listed or written; the door is there.
    assert (answer["sock"], answer["door"]) == ("denied", True)
    env = answer["env"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(env["AWS_ACCESS_KEY_ID"]) == 20
    assert env["AWS_SESSION_TOKEN"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["MINE"] == "yes"
    api_key, api_secret = stack.api_key()
    platform_secrets = {api_key, api_secret, "admin-pass-123", stack.shell(
        "from django.conf import settings; print(settings.SECRET_KEY)").strip()}
    for name, value in env.items():
        assert not any(s in value for s in platform_secrets), name
        assert not name.startswith(("STRATUS_", "DJANGO_", "REDIS", "DOCKER", "DATABASE")), name

    # The credentials are the function's: they work for what its policy allows, from anywhere...
    own = boto3.client(
        "s3", endpoint_url=stack.url, region_name="us-east-1", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"],
        config=Config(retries={"max_attempts": 0}, signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    assert own.head_object(Bucket="inside", Key="big.bin")["ContentLength"] == size
    with pytest.raises(own.exceptions.ClientError) as denied:
        own.list_buckets()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # ...a token altered by one character is refused...
    token = env["AWS_SESSION_TOKEN"]
    forged = boto3.client(
        "s3", endpoint_url=stack.url, region_name="us-east-1", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=token[:-1] + ("B" if token.endswith("A") else "A"),
        config=Config(retries={"max_attempts": 0}, signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    with pytest.raises(forged.exceptions.ClientError) as bad:
        forged.head_object(Bucket="inside", Key="big.bin")
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # ...and deleting the function revokes them.
    clients["lambda"].delete_function(FunctionName="env-dump")
    deadline = time.monotonic() + 30
    with pytest.raises(own.exceptions.ClientError) as revoked:
        while time.monotonic() < deadline:
            own.head_object(Bucket="inside", Key="big.bin")
            time.sleep(0.2)
    assert revoked.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_environment_is_recycled_before_its_credentials_end(stack, clients):
    deploy(clients, "long-lived", {"app.py": "def handler(e, c):\n    return 1\n"}, "app.handler")
    invoke(clients, "long-lived", {})
    [env] = stack.rows("Environment.objects.filter(function__name='long-lived').values('id')")
    from tests.stack import DEFAULT_NODE

    def reap(lifetime_s: int) -> None:
        stack.shell(
            "from django.conf import settings\nfrom invocations import pool\n"
            f"settings.STRATUS_NODE = {DEFAULT_NODE!r}\n"
            f"settings.STRATUS_FUNCTION_CREDENTIALS_S = {lifetime_s}\npool.reap(keep_alive_s=3600)"
        )

    reap(12 * 3600)  # well within the keep-alive and its credentials' life: stays
    assert stack.rows("Environment.objects.filter(function__name='long-lived').values('id')") == [env]
    reap(900)  # credentials that end before a call started now could: it goes
    assert stack.rows("Environment.objects.filter(function__name='long-lived').values('id')") == []


REFUSED_THEN_READ = '''
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    s3 = boto3.client("s3")
    answers = []
    for _ in range(2):
        try:
            s3.put_object(Bucket="inside-wire", Key="new.txt", Body=b"x")
            answers.append("put allowed")
        except ClientError as e:
            answers.append(e.response["Error"]["Code"])
        # The same keep-alive connection through the door, after the refusal.
        answers.append(s3.get_object(Bucket="inside-wire", Key="there.txt")["Body"].read().decode())
    return answers
'''


def test_a_put_refused_by_the_policy_leaves_the_handlers_next_call_working(stack, clients, console):
    clients["s3"].create_bucket(Bucket="inside-wire")
    clients["s3"].put_object(Bucket="inside-wire", Key="there.txt", Body=b"kept")
    deploy(clients, "wire-reader", {"app.py": REFUSED_THEN_READ}, "app.handler")
    set_policy(stack, console, "wire-reader", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::inside-wire/*"},
    ]})

    assert invoke(clients, "wire-reader", {}) == ["AccessDenied", "kept", "AccessDenied", "kept"]
