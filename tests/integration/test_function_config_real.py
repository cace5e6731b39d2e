"""The whole FunctionConfiguration, tags and function URLs on the real stack
(uvicorn, the AWS front door, Celery, Docker), driven by boto3's `lambda`
client as scripts written for AWS drive it, and the URLs by plain
`requests`."""

import base64
import hashlib
import json
import platform
import re

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.helpers import create, invoke_json, wait_for, zip_of

pytestmark = pytest.mark.integration

ECHO = "def handler(event, context):\n    return event\n"
DF = (
    "import os\n"
    "def handler(event, context):\n"
    "    st = os.statvfs('/tmp')\n"
    "    return {'tmp_mb': st.f_blocks * st.f_frsize // (1024 * 1024)}\n"
)
# Answers what it saw, as a URL's function would.
URL_FN = (
    "import json\n"
    "def handler(event, context):\n"
    "    if event.get('rawPath') == '/plain':\n"
    "        return {'just': 'json'}\n"
    "    return {'statusCode': 201, 'headers': {'x-seen': event['requestContext']['http']['method']},\n"
    "            'cookies': ['answer=42; Path=/'], 'body': json.dumps(event)}\n"
)
LAMBDA_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")
OTHER_ARCH = "arm64" if HOST_ARCH == "x86_64" else "x86_64"


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


def error(exc) -> tuple[int, str, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_every_configuration_field_as_lambda_returns_it(lam):
    zip_bytes = zip_of({"app.py": ECHO})
    made = lam.create_function(
        FunctionName="cfg-defaults", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": zip_bytes}, Description="d", Timeout=10,
    )
    listed = next(f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "cfg-defaults")
    fetched = lam.get_function(FunctionName="cfg-defaults")["Configuration"]
    alone = lam.get_function_configuration(FunctionName="cfg-defaults")
    for shape in (made, listed, fetched, alone):
        assert shape["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
        assert shape["CodeSize"] == len(zip_bytes)
        assert LAMBDA_TIME.fullmatch(shape["LastModified"])
        assert shape["Version"] == "$LATEST" and shape["State"] == "Active"
        assert shape["LastUpdateStatus"] == "Successful" and shape["PackageType"] == "Zip"
        assert shape["Architectures"] == ["x86_64"]
        assert shape["EphemeralStorage"] == {"Size": 512}
        assert shape["TracingConfig"] == {"Mode": "PassThrough"}
        assert shape["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/cfg-defaults"}
        assert shape["Environment"] == {"Variables": {}}
        assert (shape["Role"], shape["Description"], shape["Timeout"], shape["MemorySize"]) == (
            "arn:aws:iam::000000000000:role/lambda-role", "d", 10, 128)
        assert (shape["Handler"], shape["Runtime"]) == ("app.handler", "python3.11")
        assert shape["RevisionId"] == made["RevisionId"]
        assert "Layers" not in shape and "StateReason" not in shape
    code = lam.update_function_code(FunctionName="cfg-defaults", ZipFile=zip_of({"app.py": ECHO + "#2\n"}))
    assert code["RevisionId"] != made["RevisionId"] and code["EphemeralStorage"] == {"Size": 512}


def test_new_fields_set_on_create_and_update(lam):
    made = create(
        lam, "cfg-fields", ECHO, Architectures=[HOST_ARCH], EphemeralStorage={"Size": 1024},
        TracingConfig={"Mode": "Active"},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/custom/group"},
    )
    assert made["Architectures"] == [HOST_ARCH] and made["EphemeralStorage"] == {"Size": 1024}
    assert made["TracingConfig"] == {"Mode": "Active"}
    assert made["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                     "SystemLogLevel": "INFO", "LogGroup": "/custom/group"}
    updated = lam.update_function_configuration(
        FunctionName="cfg-fields", LoggingConfig={"SystemLogLevel": "WARN"}, EphemeralStorage={"Size": 2048},
        TracingConfig={"Mode": "PassThrough"},
    )
    assert updated["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                        "SystemLogLevel": "WARN", "LogGroup": "/custom/group"}
    assert updated["EphemeralStorage"] == {"Size": 2048}
    assert updated["TracingConfig"] == {"Mode": "PassThrough"}
    text = lam.update_function_configuration(FunctionName="cfg-fields", LoggingConfig={"LogFormat": "Text"})
    assert text["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/custom/group"}
    assert lam.get_function_configuration(FunctionName="cfg-fields")["LoggingConfig"] == text["LoggingConfig"]


@pytest.mark.parametrize("fields, status, code, words", [
    ({"Architectures": [OTHER_ARCH]}, 400, "InvalidParameterValueException", platform.machine()),
    ({"Architectures": ["x86_64", "arm64"]}, 400, "ValidationException", "architectures"),
    ({"Architectures": ["sparc"]}, 400, "ValidationException", "architectures"),
    ({"EphemeralStorage": {"Size": 10241}}, 400, "ValidationException",
     "Value '10241' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less "
     "than or equal to 10240"),
    ({"EphemeralStorage": {"Size": 511}}, 400, "ValidationException", "ephemeralStorage.size"),
    ({"LoggingConfig": {"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"}}, 400,
     "InvalidParameterValueException", "only when LogFormat is JSON"),
    ({"LoggingConfig": {"SystemLogLevel": "ERROR", "LogFormat": "JSON"}}, 400, "ValidationException",
     "systemLogLevel"),
    ({"TracingConfig": {"Mode": "Sometimes"}}, 400, "ValidationException", "tracingConfig.mode"),
])
def test_bad_settings_are_refused_and_nothing_changes(stack, fields, status, code, words):
    # The server's own checks, not botocore's (which would refuse some first).
    lam = stack.lambda_client(parameter_validation=False)
    name = "cfg-bad"
    try:
        before = lam.get_function_configuration(FunctionName=name)
    except ClientError:
        before = create(lam, name, ECHO)
    with pytest.raises(ClientError) as e:
        if "Architectures" in fields:  # Lambda takes them with the code
            lam.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": ECHO}), **fields)
        else:
            lam.update_function_configuration(FunctionName=name, **fields)
    got = error(e)
    assert got[:2] == (status, code) and words.lower() in got[2].lower(), got
    with pytest.raises(ClientError) as e:
        create(lam, name + "-new", ECHO, **fields)
    assert error(e)[:2] == (status, code)
    after = lam.get_function_configuration(FunctionName=name)
    assert after["RevisionId"] == before["RevisionId"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name + "-new")


def test_the_log_group_reaches_the_function(lam):
    source = ("import os\ndef handler(event, context):\n"
              "    return [os.environ['AWS_LAMBDA_LOG_GROUP_NAME'], context.log_group_name]\n")
    create(lam, "cfg-group", source)
    assert invoke_json(lam, "cfg-group", {})[1] == ["/aws/lambda/cfg-group"] * 2
    lam.update_function_configuration(FunctionName="cfg-group", LoggingConfig={"LogGroup": "/team/app"})
    assert invoke_json(lam, "cfg-group", {})[1] == ["/team/app"] * 2


def started_from_pool(stack, name: str) -> set[bool]:
    """For each environment of `name`: whether it was started before its
    function existed (a pre-warmed generic one, specialised)."""
    envs = stack.rows(f"Environment.objects.filter(function__name='{name}')"
                      ".values_list('created_at', 'function__created_at')")
    return {env_at < fn_at for env_at, fn_at in envs}


def test_ephemeral_storage_is_the_size_of_tmp(lam, stack):
    # The pool's generic environments have the default /tmp (STRATUS_TMP_MB, 512).
    wait_for(lambda: stack.rows("Environment.objects.filter(state='generic').values('id')"), timeout=60)
    create(lam, "cfg-tmp", DF)
    assert invoke_json(lam, "cfg-tmp", {})[1] == {"tmp_mb": 512}
    assert started_from_pool(stack, "cfg-tmp") == {True}
    lam.update_function_configuration(FunctionName="cfg-tmp", EphemeralStorage={"Size": 1536})
    assert invoke_json(lam, "cfg-tmp", {})[1] == {"tmp_mb": 1536}
    # Another size cannot be a generic environment's: started cold.
    wait_for(lambda: stack.rows("Environment.objects.filter(state='generic').values('id')"), timeout=60)
    create(lam, "cfg-tmp-big", DF, EphemeralStorage={"Size": 2048})
    assert invoke_json(lam, "cfg-tmp-big", {})[1] == {"tmp_mb": 2048}
    assert started_from_pool(stack, "cfg-tmp-big") == {False}


def test_a_stale_revision_id_is_refused_with_412(lam):
    made = create(lam, "cfg-rev", ECHO)
    fresh = lam.update_function_configuration(FunctionName="cfg-rev", Description="one",
                                              RevisionId=made["RevisionId"])
    for call in (
        lambda: lam.update_function_configuration(FunctionName="cfg-rev", Description="two",
                                                  RevisionId=made["RevisionId"]),
        lambda: lam.update_function_code(FunctionName="cfg-rev", ZipFile=zip_of({"app.py": ECHO + "#\n"}),
                                         RevisionId=made["RevisionId"]),
    ):
        with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
            call()
        assert error(e)[0] == 412
    now = lam.get_function_configuration(FunctionName="cfg-rev")
    assert (now["Description"], now["RevisionId"]) == ("one", fresh["RevisionId"])


def test_tags(lam):
    arn = create(lam, "cfg-tags", ECHO, Tags={"team": "web", "env": "dev"})["FunctionArn"]
    assert lam.get_function(FunctionName="cfg-tags")["Tags"] == {"team": "web", "env": "dev"}
    lam.tag_resource(Resource=arn, Tags={"env": "prod", "owner": "me@example.com"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "web", "env": "prod", "owner": "me@example.com"}
    lam.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "prod", "owner": "me@example.com"}
    # Lambda's rules, and nothing stored when refused.
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.tag_resource(Resource=arn, Tags={"aws:thing": "x"})
    assert "aws:" in error(e)[2]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(49)})
    assert "50" in error(e)[2]
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource=arn, Tags={"k" * 129: "v"})
    assert error(e)[:2] == (400, "ValidationException")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.tag_resource(Resource=arn + ":alias", Tags={"a": "b"})
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_tags(Resource=arn.replace("cfg-tags", "cfg-none"))
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "prod", "owner": "me@example.com"}
    lam.untag_resource(Resource=arn, TagKeys=["env", "owner"])
    assert "Tags" not in lam.get_function(FunctionName="cfg-tags")


def test_function_url_runs_the_function_with_payload_2_0(lam, stack):
    create(lam, "cfg-url", URL_FN)
    made = lam.create_function_url_config(
        FunctionName="cfg-url", AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET", "POST"],
              "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-seen"], "MaxAge": 300},
    )
    url = made["FunctionUrl"]
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert url.startswith(stack.url + "/lambda-url/") and url.endswith("/")
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-z0-9]{32}", url_id)
    assert made["AuthType"] == "NONE" and made["InvokeMode"] == "BUFFERED"
    assert made["FunctionArn"].endswith(":function:cfg-url")
    got = lam.get_function_url_config(FunctionName="cfg-url")
    assert got["FunctionUrl"] == url and got["Cors"]["MaxAge"] == 300 and "LastModifiedTime" in got
    listed = lam.list_function_url_configs(FunctionName="cfg-url")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function_url_config(FunctionName="cfg-url", AuthType="NONE")

    # GET with a query and cookies.
    answer = requests.get(url + "items/7?q=1&q=2&x=y", cookies={"a": "1", "b": "2"},
                          headers={"Origin": "https://app.example.com"}, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-seen"] == "GET" and answer.cookies.get("answer") == "42"
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert answer.headers["Access-Control-Expose-Headers"] == "x-seen"
    assert answer.headers["x-amzn-RequestId"]
    event = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "q=1&q=2&x=y"
    assert event["queryStringParameters"] == {"q": "1,2", "x": "y"}
    assert sorted(event["cookies"]) == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["http"]["path"] == "/items/7"
    assert event["requestContext"]["apiId"] == url_id and event["requestContext"]["accountId"] == "anonymous"
    assert event["requestContext"]["requestId"] == answer.headers["x-amzn-RequestId"]
    assert event["headers"]["x-amzn-trace-id"] == answer.headers["X-Amzn-Trace-Id"]
    assert event["isBase64Encoded"] is False and "body" not in event

    # POST with a body, text and binary.
    posted = requests.post(url, data=json.dumps({"n": 1}), headers={"Content-Type": "application/json"},
                           timeout=60).json()
    assert posted["requestContext"]["http"]["method"] == "POST" and posted["rawPath"] == "/"
    assert json.loads(posted["body"]) == {"n": 1} and posted["isBase64Encoded"] is False
    binary = requests.post(url, data=b"\x00\xff", headers={"Content-Type": "application/octet-stream"},
                           timeout=60).json()
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00\xff"

    # Any JSON value without statusCode: a 200 JSON body of the value.
    plain = requests.get(url + "plain", timeout=60)
    assert plain.status_code == 200 and plain.json() == {"just": "json"}
    assert plain.headers["Content-Type"] == "application/json"

    # CORS preflight, answered by the URL itself.
    pre = requests.options(url + "items", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-custom"}, timeout=60)
    # 204 and no x-seen: the function (which answers 201) never saw it.
    assert pre.status_code == 204 and "x-seen" not in pre.headers
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "x-custom"
    assert pre.headers["Access-Control-Max-Age"] == "300"
    stranger = requests.options(url, headers={"Origin": "https://evil.example.com",
                                              "Access-Control-Request-Method": "GET"}, timeout=60)
    assert "Access-Control-Allow-Origin" not in stranger.headers

    # Update, then delete: the URL stops answering.
    updated = lam.update_function_url_config(FunctionName="cfg-url", Cors={"AllowOrigins": ["*"]})
    assert updated["Cors"] == {"AllowOrigins": ["*"]} and updated["FunctionUrl"] == url
    star = requests.get(url, headers={"Origin": "https://any.example.com"}, timeout=60)
    assert star.headers["Access-Control-Allow-Origin"] == "*"
    lam.delete_function_url_config(FunctionName="cfg-url")
    assert requests.get(url, timeout=60).status_code == 404
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="cfg-url")
    assert lam.list_function_url_configs(FunctionName="cfg-url")["FunctionUrlConfigs"] == []


def test_function_url_settings_are_checked(lam):
    create(lam, "cfg-url-bad", ECHO)
    for kwargs in (
        {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"},
        {"AuthType": "NONE", "Cors": {"AllowMethods": ["FETCH"]}},
        {"AuthType": "NONE", "Cors": {"AllowOrigins": ["not an origin"]}},
    ):
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.create_function_url_config(FunctionName="cfg-url-bad", **kwargs)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_function_url_config(FunctionName="cfg-url-bad", AuthType="NONE", Qualifier="nosuch")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_function_url_config(FunctionName="cfg-url-nosuch", AuthType="NONE")
    assert lam.list_function_url_configs(FunctionName="cfg-url-bad")["FunctionUrlConfigs"] == []


def test_an_aws_iam_function_url_takes_only_signed_requests(lam, stack):
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    create(lam, "cfg-url-iam", URL_FN)
    url = lam.create_function_url_config(FunctionName="cfg-url-iam", AuthType="AWS_IAM")["FunctionUrl"]
    assert requests.get(url, timeout=60).status_code == 403
    key, secret = stack.api_key()
    signed = AWSRequest(method="GET", url=url + "who", headers={})
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(signed)
    answer = requests.get(url + "who", headers=dict(signed.headers), timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.json()["requestContext"]["authorizer"]["iam"]["accessKey"] == key
    assert botocore.session  # the SDK's own signer, as a caller would use it


def test_a_function_url_of_an_alias_runs_the_alias(lam, stack):
    create(lam, "cfg-url-alias", URL_FN)
    # An alias row as CreateAlias makes one (its API is another branch's).
    stack.shell(
        "from functions.models import Alias, Function\n"
        "Alias.objects.create(function=Function.objects.get(name='cfg-url-alias'), name='live',"
        " function_version='$LATEST')\n"
    )
    made = lam.create_function_url_config(FunctionName="cfg-url-alias", Qualifier="live", AuthType="NONE")
    assert made["FunctionArn"].endswith(":function:cfg-url-alias:live")
    assert lam.get_function_url_config(FunctionName="cfg-url-alias", Qualifier="live")["FunctionUrl"] == (
        made["FunctionUrl"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="cfg-url-alias")  # the function itself has none
    answer = requests.get(made["FunctionUrl"] + "via-alias", timeout=60)
    assert answer.status_code == 201 and answer.json()["rawPath"] == "/via-alias"
    listed = lam.list_function_url_configs(FunctionName="cfg-url-alias")["FunctionUrlConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["live"]


def test_the_aws_cli_drives_configuration_tags_and_urls(stack, tmp_path_factory):
    from tests.integration.test_aws_cli_real import Cli

    aws = Cli(stack, tmp_path_factory.mktemp("aws-cfg-home"))
    lam = stack.lambda_client()
    arn = create(lam, "cfg-cli", ECHO)["FunctionArn"]
    got = aws("lambda", "update-function-configuration", "--function-name", "cfg-cli",
              "--ephemeral-storage", "Size=1024", "--tracing-config", "Mode=Active",
              "--logging-config", "LogFormat=JSON,ApplicationLogLevel=WARN")
    assert got["EphemeralStorage"] == {"Size": 1024} and got["TracingConfig"] == {"Mode": "Active"}
    assert got["LoggingConfig"]["ApplicationLogLevel"] == "WARN"
    stale = aws.fails("lambda", "update-function-configuration", "--function-name", "cfg-cli",
                      "--description", "x", "--revision-id", "00000000-0000-0000-0000-000000000000",
                      code="PreconditionFailedException")
    assert "Revision Id" in stale
    aws("lambda", "tag-resource", "--resource", arn, "--tags", "team=cli,env=test")
    assert aws("lambda", "list-tags", "--resource", arn)["Tags"] == {"team": "cli", "env": "test"}
    aws("lambda", "untag-resource", "--resource", arn, "--tag-keys", "team", "env")
    assert aws("lambda", "list-tags", "--resource", arn)["Tags"] == {}
    url = aws("lambda", "create-function-url-config", "--function-name", "cfg-cli", "--auth-type", "NONE",
              "--cors", "AllowOrigins=*")["FunctionUrl"]
    assert aws("lambda", "get-function-url-config", "--function-name", "cfg-cli")["Cors"] == {
        "AllowOrigins": ["*"]}
    assert aws("lambda", "update-function-url-config", "--function-name", "cfg-cli",
               "--cors", "MaxAge=60")["Cors"] == {"MaxAge": 60}
    listed = aws("lambda", "list-function-url-configs", "--function-name", "cfg-cli")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]
    assert requests.post(url, json={"a": 1}, timeout=60).json()["body"] == '{"a": 1}'
    aws("lambda", "delete-function-url-config", "--function-name", "cfg-cli")
    aws.fails("lambda", "get-function-url-config", "--function-name", "cfg-cli",
              code="ResourceNotFoundException")
