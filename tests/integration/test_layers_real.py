"""Lambda layers on the real stack (uvicorn, the AWS front door, Celery,
Redis, Docker), driven by boto3: every layer operation, a python3.11
function importing a module from its layer, two layers where the later one
overwrites a file of the earlier, pre-warmed and cold environments alike,
and a function that keeps running after its layer version is deleted."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.helpers import create, wait_for, zip_of

pytestmark = pytest.mark.integration

HANDLER = """
import socket, time

import mylib

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"value": mylib.VALUE, "host": socket.gethostname()}
"""

SHARED = """
import shared

def handler(event, context):
    return shared.WHO
"""


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


def publish(lam, name: str, files: dict[str, str], **kwargs) -> dict:
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_of(files)}, **kwargs)


def call(lam, name: str, event=None):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def kind_of(stack, host: str) -> str:
    """"pool" for a pre-warmed environment specialised for the function,
    "cold" for one started for it (their containers' labels)."""
    for container in stack.containers():
        if container.id.startswith(host):
            labels = container.labels
            return "pool" if "stratus.pool" in labels else "cold" if "stratus.function" in labels else "?"
    raise AssertionError(f"no container of host {host}")


def test_every_layer_operation_through_boto3(lam, stack):
    made = publish(lam, "ops-lib", {"python/opslib.py": "X = 1\n"}, Description="v1",
                   CompatibleRuntimes=["python3.11"], CompatibleArchitectures=["x86_64"])
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201 and made["Version"] == 1
    account = made["LayerArn"].split(":")[4]
    assert made["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{account}:layer:ops-lib:1"
    second = publish(lam, "ops-lib", {"python/opslib.py": "X = 2\n"}, CompatibleRuntimes=["nodejs20.x"])
    assert second["Version"] == 2
    got = lam.get_layer_version(LayerName="ops-lib", VersionNumber=1)
    assert got["Description"] == "v1" and got["Content"]["CodeSha256"] == made["Content"]["CodeSha256"]
    assert lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])["Version"] == 2
    layers = {x["LayerName"]: x for x in lam.list_layers()["Layers"]}
    assert layers["ops-lib"]["LatestMatchingVersion"]["Version"] == 2
    python = {x["LayerName"]: x for x in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]}
    assert python["ops-lib"]["LatestMatchingVersion"]["Version"] == 1
    versions = lam.list_layer_versions(LayerName="ops-lib", MaxItems=1)
    assert [v["Version"] for v in versions["LayerVersions"]] == [2] and versions["NextMarker"]
    lam.delete_layer_version(LayerName="ops-lib", VersionNumber=2)
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="ops-lib", VersionNumber=2)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert publish(lam, "ops-lib", {"python/opslib.py": "X = 3\n"})["Version"] == 3
    # The zip comes back from Content.Location.
    location = lam.get_layer_version(LayerName="ops-lib", VersionNumber=3)["Content"]["Location"]
    assert requests.get(location, timeout=30).content == zip_of({"python/opslib.py": "X = 3\n"})


def test_a_function_imports_a_module_of_its_layer_pooled_and_cold(lam, stack):
    arn = publish(lam, "mylib", {"python/mylib.py": "VALUE = 'from mylib'\n"})["LayerVersionArn"]
    made = create(lam, "layered", HANDLER, Layers=[arn])
    assert made["Layers"][0]["Arn"] == arn
    wait_for(lambda: stack.rows("Environment.objects.filter(state='generic').values('id')"))
    first = call(lam, "layered")
    assert first["value"] == "from mylib"
    kinds = {kind_of(stack, first["host"])}
    # Calls at once need more environments than the pool holds: some start
    # cold. Each burst is a new revision, so none of them is warm yet.
    for attempt in range(4):
        if {"pool", "cold"} <= kinds:
            break
        lam.update_function_configuration(FunctionName="layered", Description=f"burst {attempt}")
        # 3: the test stack's account concurrency; the pool holds 2.
        with ThreadPoolExecutor(3) as burst:
            answers = list(burst.map(lambda _: call(lam, "layered", {"sleep": 1.5}), range(3)))
        assert [a["value"] for a in answers] == ["from mylib"] * 3
        kinds |= {kind_of(stack, a["host"]) for a in answers}
    assert {"pool", "cold"} <= kinds


def test_a_later_layer_overwrites_a_file_of_an_earlier_one(lam):
    base = publish(lam, "shared-base", {"python/shared.py": "WHO = 'base'\n"})["LayerVersionArn"]
    top = publish(lam, "shared-top", {"python/shared.py": "WHO = 'top'\n"})["LayerVersionArn"]
    create(lam, "two-layers", SHARED, Layers=[base, top])
    assert call(lam, "two-layers") == "top"
    # Reordering is a new revision: fresh environments with the new /opt.
    lam.update_function_configuration(FunctionName="two-layers", Layers=[top, base])
    assert call(lam, "two-layers") == "base"


def test_a_function_keeps_running_after_its_layer_version_is_deleted(lam):
    made = publish(lam, "doomed", {"python/mylib.py": "VALUE = 'still here'\n"})
    create(lam, "survivor", HANDLER, Layers=[made["LayerVersionArn"]])
    assert call(lam, "survivor")["value"] == "still here"
    lam.delete_layer_version(LayerName="doomed", VersionNumber=made["Version"])
    # A new revision: a fresh environment unpacks the deleted version's kept content.
    lam.update_function_configuration(FunctionName="survivor", MemorySize=256)
    assert call(lam, "survivor")["value"] == "still here"
    config = lam.get_function_configuration(FunctionName="survivor")
    assert config["Layers"] == [{"Arn": made["LayerVersionArn"], "CodeSize": made["Content"]["CodeSize"]}]
    # It can no longer be added to a function.
    with pytest.raises(ClientError) as e:
        create(lam, "latecomer", HANDLER, Layers=[made["LayerVersionArn"]])
    assert "does not exist" in e.value.response["Error"]["Message"]
