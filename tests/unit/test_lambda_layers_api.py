"""The Lambda layer operations driven by a real boto3 client through the
production ASGI application (as tests/unit/test_lambda_api.py), so shapes,
ARNs, paging and errors are checked the way SDK users meet them; and a
function's Layers on Create/Update/GetFunction."""

import base64
import hashlib
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from functions.models import Function, LayerVersion
from tests.integration.helpers import zip_of as layer_zip
from tests.unit import asgi_client
from tests.unit.test_lambda_api import ROLE, error_code, status_of, zip_of

MYLIB = layer_zip({"python/mylib.py": "VALUE = 'from the layer'\n"})


def publish(lam, name="mylib", data=MYLIB, **kwargs):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": data}, **kwargs)


def test_it_publishes_a_layer_version_in_lambdas_shape(lam, team):
    resp = publish(lam, Description="my lib", CompatibleRuntimes=["python3.11"],
                   CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    base = f"arn:aws:lambda:us-east-1:{team.account_id}:layer:mylib"
    assert resp["LayerArn"] == base and resp["LayerVersionArn"] == base + ":1"
    assert resp["Version"] == 1 and resp["Description"] == "my lib" and resp["LicenseInfo"] == "MIT"
    assert resp["CompatibleRuntimes"] == ["python3.11"] and resp["CompatibleArchitectures"] == ["x86_64"]
    assert resp["Content"]["CodeSize"] == len(MYLIB)
    assert resp["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(MYLIB).digest()).decode()
    assert resp["CreatedDate"].endswith("+0000")
    assert publish(lam)["Version"] == 2


def test_get_layer_version_by_name_arn_and_version_arn(lam, team):
    made = publish(lam, Description="d")
    by_name = lam.get_layer_version(LayerName="mylib", VersionNumber=1)
    by_layer_arn = lam.get_layer_version(LayerName=made["LayerArn"], VersionNumber=1)
    by_arn = lam.get_layer_version_by_arn(Arn=made["LayerVersionArn"])
    for got in (by_name, by_layer_arn, by_arn):
        assert got["LayerVersionArn"] == made["LayerVersionArn"] and got["Description"] == "d"
        assert got["Content"]["CodeSha256"] == made["Content"]["CodeSha256"]


def test_the_content_location_downloads_the_zip(lam):
    publish(lam)
    location = lam.get_layer_version(LayerName="mylib", VersionNumber=1)["Content"]["Location"]
    assert location.startswith("http://testserver/")
    download = asgi_client.call("GET", urlsplit(location).path)
    assert download.status_code == 200 and download.content == MYLIB


def test_an_unknown_version_is_not_found(lam):
    publish(lam)
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="mylib", VersionNumber=9)
    assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="nothing", VersionNumber=1)
    assert error_code(e) == "ResourceNotFoundException"


def test_another_accounts_layer_is_access_denied(lam, stranger_lam):
    arn = publish(lam)["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        stranger_lam.get_layer_version_by_arn(Arn=arn)
    assert (status_of(e), error_code(e)) == (403, "AccessDeniedException")
    assert "another account" in e.value.response["Error"]["Message"]
    # By name, the stranger's own account has no such layer.
    with pytest.raises(ClientError) as e:
        stranger_lam.get_layer_version(LayerName="mylib", VersionNumber=1)
    assert error_code(e) == "ResourceNotFoundException"


def test_s3_content_and_a_bad_zip_are_refused_and_nothing_is_stored(lam):
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName="l", Content={"S3Bucket": "my-bucket", "S3Key": "k.zip"})
    assert error_code(e) == "InvalidParameterValueException"
    assert "S3Bucket/S3Key are not supported" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        publish(lam, "l", b"not a zip")
    assert error_code(e) == "InvalidParameterValueException"
    assert not LayerVersion.objects.exists()


def test_list_layers_in_pages_with_the_latest_matching_version(lam, stranger_lam):
    for name in ("a", "b", "c"):
        publish(lam, name, CompatibleRuntimes=["python3.11"])
    publish(lam, "b", CompatibleRuntimes=["nodejs20.x"])
    page = lam.list_layers(MaxItems=2)
    assert [x["LayerName"] for x in page["Layers"]] == ["a", "b"]
    assert page["Layers"][1]["LatestMatchingVersion"]["Version"] == 2
    rest = lam.list_layers(Marker=page["NextMarker"], MaxItems=2)
    assert [x["LayerName"] for x in rest["Layers"]] == ["c"] and "NextMarker" not in rest
    python = lam.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert {x["LayerName"]: x["LatestMatchingVersion"]["Version"] for x in python} == {"a": 1, "b": 1, "c": 1}
    assert stranger_lam.list_layers()["Layers"] == []
    # boto3's paginator follows NextMarker.
    pages = lam.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 1})
    assert [x["LayerName"] for p in pages for x in p["Layers"]] == ["a", "b", "c"]


def test_list_layer_versions_newest_first_in_pages(lam):
    for _ in range(3):
        publish(lam)
    page = lam.list_layer_versions(LayerName="mylib", MaxItems=2)
    assert [v["Version"] for v in page["LayerVersions"]] == [3, 2]
    rest = lam.list_layer_versions(LayerName="mylib", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert lam.list_layer_versions(LayerName="unknown")["LayerVersions"] == []


def test_max_items_over_50_is_refused(lam):
    with pytest.raises(ClientError) as e:
        lam.list_layers(MaxItems=51)
    assert status_of(e) == 400


def test_delete_layer_version_is_204_and_the_number_is_never_reused(lam):
    publish(lam)
    resp = lam.delete_layer_version(LayerName="mylib", VersionNumber=1)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    again = lam.delete_layer_version(LayerName="mylib", VersionNumber=1)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="mylib", VersionNumber=1)
    assert error_code(e) == "ResourceNotFoundException"
    assert publish(lam)["Version"] == 2


def test_a_read_only_member_may_read_but_not_publish(lam, reader_lam):
    publish(lam)
    assert reader_lam.list_layers()["Layers"]
    with pytest.raises(ClientError) as e:
        publish(reader_lam)
    assert error_code(e) == "AccessDeniedException"


# A function's Layers ---------------------------------------------------------------


def create(lam, name="withlayers", **kwargs):
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()}, **kwargs)


def test_create_function_with_layers_shows_them_with_their_sizes(lam):
    arn = publish(lam)["LayerVersionArn"]
    made = create(lam, Layers=[arn])
    assert made["Layers"] == [{"Arn": arn, "CodeSize": len(MYLIB)}]
    got = lam.get_function(FunctionName="withlayers")["Configuration"]
    assert got["Layers"] == [{"Arn": arn, "CodeSize": len(MYLIB)}]
    assert "Layers" not in create(lam, "nolayers")


def test_update_function_configuration_changes_and_clears_layers(lam):
    one = publish(lam, "one")["LayerVersionArn"]
    two = publish(lam, "two")["LayerVersionArn"]
    before = create(lam)["RevisionId"]
    updated = lam.update_function_configuration(FunctionName="withlayers", Layers=[two, one])
    assert [x["Arn"] for x in updated["Layers"]] == [two, one] and updated["RevisionId"] != before
    cleared = lam.update_function_configuration(FunctionName="withlayers", Layers=[])
    assert "Layers" not in cleared


@pytest.mark.parametrize("make_layers, code, words", [
    (lambda lam, acct: [publish(lam, f"l{i}")["LayerVersionArn"] for i in range(6)],
     "InvalidParameterValueException", "Cannot reference more than 5 layers"),
    (lambda lam, acct: [f"arn:aws:lambda:us-east-1:{acct}:layer:missing:1"],
     "InvalidParameterValueException", "does not exist"),
    (lambda lam, acct: ["arn:aws:lambda:us-east-1:999999999999:layer:theirs:1"],
     "AccessDeniedException", "another account"),
])
def test_bad_layers_are_refused_and_nothing_is_stored(lam, team, make_layers, code, words):
    arns = make_layers(lam, team.account_id)
    with pytest.raises(ClientError) as e:
        create(lam, Layers=arns)
    assert error_code(e) == code and words in e.value.response["Error"]["Message"]
    assert not Function.objects.filter(name="withlayers").exists()


def test_a_deleted_layer_version_stays_on_the_function(lam):
    arn = publish(lam)["LayerVersionArn"]
    create(lam, Layers=[arn])
    lam.delete_layer_version(LayerName="mylib", VersionNumber=1)
    got = lam.get_function_configuration(FunctionName="withlayers")
    assert got["Layers"] == [{"Arn": arn, "CodeSize": len(MYLIB)}]
    # ... but it cannot be added again.
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="withlayers", Layers=[arn])
    assert "does not exist" in e.value.response["Error"]["Message"]


def test_iam_resources_name_the_layer_arns(team):
    from types import SimpleNamespace

    from functions import lambda_layers_api

    context = SimpleNamespace(team=team)
    base = f"arn:aws:lambda:us-east-1:{team.account_id}:layer:lib"
    assert lambda_layers_api.resources(context, "PublishLayerVersion", {"LayerName": "lib"}) == [
        ("lambda:PublishLayerVersion", base)
    ]
    deleting = {"LayerName": base, "VersionNumber": 2}
    assert lambda_layers_api.resources(context, "DeleteLayerVersion", deleting) == [
        ("lambda:DeleteLayerVersion", base + ":2")
    ]
    assert lambda_layers_api.resources(context, "GetLayerVersionByArn", {"Arn": base + ":1"}) == [
        ("lambda:GetLayerVersion", base + ":1")
    ]
    assert lambda_layers_api.resources(context, "ListLayers", {}) == [("lambda:ListLayers", "*")]


def test_account_usage_counts_layer_archives(lam):
    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    publish(lam)
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before + len(MYLIB)
    lam.delete_layer_version(LayerName="mylib", VersionNumber=1)
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before
