"""Versions, aliases and provisioned concurrency through a real boto3
client against the production ASGI application (tests.unit.asgi_client,
as test_lambda_api): PublishVersion, ListVersionsByFunction, the alias
operations, qualified Get/Delete and the provisioned concurrency
configurations, with Lambda's errors."""

import pytest
from botocore.exceptions import ClientError

from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import dispatch
from invocations.models import Invocation
from tests.conftest import HELLO
from tests.unit.test_lambda_api import ROLE, error_code, status_of, zip_of


@pytest.fixture
def made(lam, team):
    lam.create_function(FunctionName="ver", Runtime="python3.11", Role=ROLE,
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    return Function.objects.get(team=team, name="ver")


def test_it_publishes_versions_and_lists_them(lam, made, team):
    one = lam.publish_version(FunctionName="ver", Description="first")
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert one["Version"] == "1" and one["Description"] == "first"
    assert one["FunctionArn"] == f"arn:aws:lambda:us-east-1:{team.account_id}:function:ver:1"
    assert one["RevisionId"] == str(FunctionVersion.objects.get(function=made, version=1).revision)
    # Nothing changed: the same version again, nothing new stored.
    again = lam.publish_version(FunctionName="ver")
    assert again["Version"] == "1" and FunctionVersion.objects.filter(function=made).count() == 1
    lam.update_function_configuration(FunctionName="ver", MemorySize=256)
    two = lam.publish_version(FunctionName="ver")
    assert two["Version"] == "2" and two["MemorySize"] == 256
    listed = lam.list_versions_by_function(FunctionName="ver")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert listed[0]["FunctionArn"].endswith(":function:ver")
    assert (listed[1]["MemorySize"], listed[2]["MemorySize"]) == (128, 256)
    page = lam.list_versions_by_function(FunctionName="ver", MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = lam.list_versions_by_function(FunctionName="ver", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"] and "NextMarker" not in rest


def test_list_functions_with_every_version_pages_through_them(lam, made, team):
    lam.publish_version(FunctionName="ver", Description="first")
    lam.update_function_configuration(FunctionName="ver", MemorySize=256)
    lam.publish_version(FunctionName="ver")
    for name in ("alone", "zed"):
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    lam.publish_version(FunctionName="zed")
    expected = ["alone", "ver", "ver:1", "ver:2", "zed", "zed:1"]

    def entry(shape):
        return shape["FunctionArn"].split(":function:")[1]

    listed = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [entry(f) for f in listed] == expected
    assert [f["Version"] for f in listed] == ["$LATEST", "$LATEST", "1", "2", "$LATEST", "1"]
    assert (listed[2]["Description"], listed[3]["MemorySize"]) == ("first", 256)
    # Every page size gives every entry once, in order.
    for size in range(1, len(expected) + 1):
        pages = lam.get_paginator("list_functions").paginate(
            FunctionVersion="ALL", PaginationConfig={"PageSize": size})
        assert [entry(f) for page in pages for f in page["Functions"]] == expected, size
    # Many functions without versions: a page resuming after one of them
    # still says there is more (the resumed function gives no entry).
    for n in range(7):
        lam.create_function(FunctionName=f"plain-{n}", Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    everything = sorted(expected + [f"plain-{n}" for n in range(7)], key=lambda e: e.split(":")[0])
    for size in (1, 2, 3, 5):
        pages = lam.get_paginator("list_functions").paginate(
            FunctionVersion="ALL", PaginationConfig={"PageSize": size})
        assert [entry(f) for page in pages for f in page["Functions"]] == everything, size
    for n in range(7):
        lam.delete_function(FunctionName=f"plain-{n}")
    # Without it: $LATEST only, as before.
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["alone", "ver", "zed"]
    with pytest.raises(ClientError) as e:
        lam.list_functions(FunctionVersion="ALL", Marker="ver:x")
    assert error_code(e) == "InvalidParameterValueException"


def test_publish_checks_code_sha_and_revision(lam, made):
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="ver", CodeSha256="bm90LXRoZS1oYXNo")
    assert error_code(e) == "InvalidParameterValueException" and "CodeSHA256" in str(e.value)
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="ver", RevisionId="00000000-0000-0000-0000-000000000000")
    assert status_of(e) == 412 and error_code(e) == "PreconditionFailedException"
    assert not FunctionVersion.objects.filter(function=made).exists()
    ok = lam.publish_version(FunctionName="ver", CodeSha256=made.code.sha256_b64,
                             RevisionId=str(made.revision))
    assert ok["Version"] == "1"


def test_publish_true_on_create_and_code_update(lam, team):
    made = lam.create_function(FunctionName="pub", Runtime="python3.11", Role=ROLE, Publish=True,
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert made["Version"] == "1" and made["FunctionArn"].endswith(":pub:1")
    updated = lam.update_function_code(FunctionName="pub", ZipFile=zip_of(HELLO + "\n# v2\n"), Publish=True)
    assert updated["Version"] == "2"
    assert updated["CodeSha256"] != made["CodeSha256"]


def test_qualified_get_and_not_found(lam, made, team):
    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    got = lam.get_function_configuration(FunctionName="ver", Qualifier="1")
    assert (got["Version"], got["Timeout"]) == ("1", 3)
    assert lam.get_function(FunctionName="ver:1")["Configuration"]["Version"] == "1"
    assert lam.get_function_configuration(FunctionName="ver")["Timeout"] == 9
    for qualifier in ("7", "nope"):
        with pytest.raises(ClientError) as e:
            lam.get_function(FunctionName="ver", Qualifier=qualifier)
        assert error_code(e) == "ResourceNotFoundException"
        assert f":function:ver:{qualifier}" in str(e.value)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="ver:1", Timeout=4)
    assert error_code(e) == "InvalidParameterValueException"


def test_aliases_and_routing(lam, made, team):
    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    lam.publish_version(FunctionName="ver")
    created = lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1", Description="prod",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert created["AliasArn"] == f"arn:aws:lambda:us-east-1:{team.account_id}:function:ver:live"
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert lam.get_alias(FunctionName="ver", Name="live")["FunctionVersion"] == "1"
    aliased = lam.get_function_configuration(FunctionName="ver", Qualifier="live")
    assert aliased["Version"] == "1" and aliased["FunctionArn"].endswith(":ver:live")
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    assert status_of(e) == 409 and error_code(e) == "ResourceConflictException"
    bad_routes = [
        ("1", {"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}),  # two extra versions
        ("$LATEST", {"AdditionalVersionWeights": {"2": 0.5}}),  # $LATEST in a split
        ("1", {"AdditionalVersionWeights": {"1": 0.5}}),  # its own version
    ]
    for version, routing in bad_routes:
        with pytest.raises(ClientError) as e:
            lam.create_alias(FunctionName="ver", Name="bad", FunctionVersion=version, RoutingConfig=routing)
        assert error_code(e) in ("InvalidParameterValueException", "ValidationException"), routing
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="ver", Name="bad", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"9": 0.5}})
    assert error_code(e) == "ResourceNotFoundException"
    assert not Alias.objects.filter(name="bad").exists()
    lam.create_alias(FunctionName="ver", Name="beta", FunctionVersion="2")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="ver")["Aliases"]] == ["beta", "live"]
    def names(**filters):
        return [a["Name"] for a in lam.list_aliases(FunctionName="ver", **filters)["Aliases"]]

    assert names(FunctionVersion="2") == ["beta", "live"] and names(FunctionVersion="1") == ["live"]
    # UpdateAlias: RevisionId must be the alias's own.
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2",
                         RevisionId="00000000-0000-0000-0000-000000000000")
    assert status_of(e) == 412
    revision = lam.get_alias(FunctionName="ver", Name="live")["RevisionId"]
    moved = lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2",
                             RevisionId=revision, RoutingConfig={"AdditionalVersionWeights": {}})
    assert moved["FunctionVersion"] == "2" and "RoutingConfig" not in moved
    assert moved["RevisionId"] != revision
    # A version an alias uses cannot be deleted.
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="ver", Qualifier="2")
    assert status_of(e) == 409 and "beta" in str(e.value)
    lam.delete_function(FunctionName="ver", Qualifier="1")
    assert list(FunctionVersion.objects.filter(function=made).values_list("version", flat=True)) == [2]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="ver", Qualifier="$LATEST")
    assert error_code(e) == "InvalidParameterValueException"
    lam.delete_alias(FunctionName="ver", Name="beta")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName="ver", Name="beta")
    assert error_code(e) == "ResourceNotFoundException"
    # The next version is 3: numbers are never reused.
    lam.update_function_configuration(FunctionName="ver", Timeout=5)
    assert lam.publish_version(FunctionName="ver")["Version"] == "3"


def test_provisioned_concurrency_configs(lam, made, team):
    lam.publish_version(FunctionName="ver")
    lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    lam.create_alias(FunctionName="ver", Name="edge", FunctionVersion="$LATEST")
    for qualifier in ("$LATEST", "edge"):
        with pytest.raises(ClientError) as e:
            lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier=qualifier,
                                                   ProvisionedConcurrentExecutions=1)
        assert error_code(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="ver", Qualifier="live")
    assert status_of(e) == 404 and error_code(e) == "ProvisionedConcurrencyConfigNotFoundException"
    put = lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier="live",
                                                 ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["RequestedProvisionedConcurrentExecutions"], put["Status"]) == (2, "IN_PROGRESS")
    # The alias's version cannot have its own configuration too.
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier="1",
                                               ProvisionedConcurrentExecutions=1)
    assert error_code(e) == "ResourceConflictException"
    got = lam.get_provisioned_concurrency_config(FunctionName="ver", Qualifier="live")
    assert got["AllocatedProvisionedConcurrentExecutions"] == 0
    listed = lam.list_provisioned_concurrency_configs(FunctionName="ver")["ProvisionedConcurrencyConfigs"]
    arn = f"arn:aws:lambda:us-east-1:{team.account_id}:function:ver:live"
    assert [c["FunctionArn"] for c in listed] == [arn]
    # A reservation below the provisioned concurrency it must hold: refused
    # (InvalidParameterValueException, as Lambda), nothing stored.
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="ver", ReservedConcurrentExecutions=1)
    assert status_of(e) == 400 and error_code(e) == "InvalidParameterValueException"
    message = e.value.response["Error"]["Message"]
    assert "ReservedConcurrentExecutions 1" in message and "provisioned concurrency of 2" in message
    assert Function.objects.get(pk=made.pk).reserved_concurrency is None
    assert lam.get_function_concurrency(FunctionName="ver").get("ReservedConcurrentExecutions") is None
    # Over the function's reservation: refused, nothing changed.
    lam.put_function_concurrency(FunctionName="ver", ReservedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier="live",
                                               ProvisionedConcurrentExecutions=3)
    assert error_code(e) == "InvalidParameterValueException"
    assert ProvisionedConcurrencyConfig.objects.get(function=made).requested == 2
    lam.delete_provisioned_concurrency_config(FunctionName="ver", Qualifier="live")
    with pytest.raises(ClientError) as e:
        lam.delete_provisioned_concurrency_config(FunctionName="ver", Qualifier="live")
    assert error_code(e) == "ProvisionedConcurrencyConfigNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="ver", Qualifier="gone")
    assert error_code(e) == "ResourceNotFoundException"


@pytest.fixture
def runs(monkeypatch):
    """Sync invokes answer at once as the version they were handed ran;
    the (executed version, qualifier) of each call is kept."""
    from invocations import dispatch
    from invocations.done import Done

    seen = []

    async def fake(fn, event, *, source, **kwargs):
        version = getattr(fn, "executed_version", "$LATEST")
        seen.append((version, getattr(fn, "qualifier", None), fn.timeout_s))
        return Done(request_id="00000000-0000-0000-0000-00000000abcd", status="succeeded",
                    result="{}", executed_version=version)

    monkeypatch.setattr(dispatch, "invoke_sync", fake)
    return seen


def test_invoke_runs_the_version_or_alias_named(lam, made, runs):
    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    assert lam.invoke(FunctionName="ver", Qualifier="1")["ExecutedVersion"] == "1"
    assert lam.invoke(FunctionName="ver:live")["ExecutedVersion"] == "1"
    assert lam.invoke(FunctionName="ver")["ExecutedVersion"] == "$LATEST"
    assert runs == [("1", "1", 3), ("1", "live", 3), ("$LATEST", None, 9)]
    # The alias moves: the next call (its cached copy dropped) follows it.
    lam.publish_version(FunctionName="ver")
    lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2")
    assert lam.invoke(FunctionName="ver", Qualifier="live")["ExecutedVersion"] == "2"
    for name, qualifier in (("ver", "5"), ("ver:nope", None)):
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name, **kwargs)
        assert error_code(e) == "ResourceNotFoundException"
        assert f":function:ver:{qualifier or 'nope'}" in str(e.value)


def test_a_qualifier_in_the_name_and_a_different_qualifier_is_refused(lam, made, runs):
    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    lam.publish_version(FunctionName="ver")
    arn = lam.get_function_configuration(FunctionName="ver")["FunctionArn"]
    for name in ("ver:1", f"{arn}:1"):
        for call in (lam.invoke, lam.get_function_configuration):
            with pytest.raises(ClientError) as e:
                call(FunctionName=name, Qualifier="2")
            assert error_code(e) == "InvalidParameterValueException"
            assert "derived qualifier from the function name does not match" in str(e.value)
    assert runs == []
    # The same qualifier twice names it.
    assert lam.invoke(FunctionName="ver:2", Qualifier="2")["ExecutedVersion"] == "2"


def test_a_function_url_on_an_alias_named_in_the_function_name(lam, made, team):
    # FunctionName "ver:live" names the alias as Qualifier="live" does
    # (botocore's model allows a qualified name there); a fresh user's find.
    lam.publish_version(FunctionName="ver")
    lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    made_url = lam.create_function_url_config(FunctionName="ver:live", AuthType="NONE")
    assert made_url["FunctionArn"].endswith(":function:ver:live")
    got = lam.get_function_url_config(FunctionName="ver", Qualifier="live")
    assert got["FunctionUrl"] == made_url["FunctionUrl"]
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName="ver")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName="ver:live", Qualifier="other")
    assert error_code(e) == "InvalidParameterValueException"


def test_invoke_with_qualifier_latest_gives_the_handler_the_arn_ending_latest(lam, made, handed_over):
    # Lambda: context.invoked_function_arn is ...:function:ver:$LATEST when
    # the caller named $LATEST, bare when it named nothing.
    from invocations import dispatch, runner

    handed_over.answer = {"status": "succeeded", "result": "{}"}
    lam.invoke(FunctionName="ver", Qualifier="$LATEST")
    lam.invoke(FunctionName="ver:$LATEST")
    lam.invoke(FunctionName="ver")
    frames = [runner._request(dispatch.record_of(made, request), made, 0.0) for request in handed_over.calls]
    assert [(f["invokedFunctionArn"], f["functionVersion"]) for f in frames] == [
        (f"{made.arn}:$LATEST", "$LATEST"), (f"{made.arn}:$LATEST", "$LATEST"), (made.arn, "$LATEST"),
    ]
    # The async path: the stored event keeps what was named, so its run does too.
    lam.invoke(FunctionName="ver", Qualifier="$LATEST", InvocationType="Event")
    lam.invoke(FunctionName="ver", InvocationType="Event")
    named, bare = Invocation.objects.filter(function=made, invocation_type="Event").order_by("created_at")
    assert (named.qualifier, bare.qualifier) == ("$LATEST", "")
    assert runner._request(named, made, 0.0)["invokedFunctionArn"] == f"{made.arn}:$LATEST"
    assert runner._request(bare, made, 0.0)["invokedFunctionArn"] == made.arn
    # The function's shared copy (functions.lookup) was never marked.
    from functions import lookup

    assert lookup.cached(made.team, "ver").qualifier is None


def test_invoke_async_on_a_weighted_alias_splits_by_weight(lam, made, monkeypatch):
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)  # stored, not sent to a worker
    # InvokeAsync names "fn:alias" in FunctionName; each event picks its
    # version as Invoke does (it ran the alias's main version only).
    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    lam.publish_version(FunctionName="ver")
    lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    for _ in range(40):
        assert lam.invoke_async(FunctionName="ver:live", InvokeArgs=b"{}")["Status"] == 202
    ran = Invocation.objects.values_list("function_version", "qualifier")
    assert {version for version, _ in ran} == {"1", "2"}  # fails by chance with odds 2 ** -39
    assert {qualifier for _, qualifier in ran} == {"live"}
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="ver:gone", InvokeArgs=b"{}")
    assert error_code(e) == "ResourceNotFoundException"


def test_moving_a_provisioned_alias_counts_only_the_new_versions_environments(lam, made):
    from invocations import provisioning
    from invocations.models import Environment

    lam.publish_version(FunctionName="ver")
    lam.update_function_configuration(FunctionName="ver", Timeout=5)
    lam.publish_version(FunctionName="ver")
    lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    config = ProvisionedConcurrencyConfig.objects.get(function=made, qualifier="live")
    # Version 1's environment is initialised (what the node upkeep records).
    Environment.objects.create(id="v1env", node="n1", state="ready", function=made,
                               provisioned_for=provisioning.key_of(config, "1"))
    ProvisionedConcurrencyConfig.objects.filter(pk=config.pk).update(allocated=1, status="READY")

    def status():
        got = lam.get_provisioned_concurrency_config(FunctionName="ver", Qualifier="live")
        return got["Status"], got["AvailableProvisionedConcurrentExecutions"]

    assert status() == ("READY", 1)
    # Its description only: still version 1's environment, still READY.
    lam.update_alias(FunctionName="ver", Name="live", Description="same version")
    assert status() == ("READY", 1)
    # Moved to version 2: none of its environments is ready yet.
    lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2")
    assert status() == ("IN_PROGRESS", 0)
    listed = lam.list_provisioned_concurrency_configs(FunctionName="ver")["ProvisionedConcurrencyConfigs"]
    listed = [(c["Status"], c["AllocatedProvisionedConcurrentExecutions"]) for c in listed]
    assert listed == [("IN_PROGRESS", 0)]
    # Back to version 1, whose environment is still there: READY at once.
    lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    assert status() == ("READY", 1)
    # Two on version 1, both ready; then half of the calls to version 2:
    # version 1's second environment no longer counts, version 2's is missing.
    lam.put_provisioned_concurrency_config(FunctionName="ver", Qualifier="live",
                                           ProvisionedConcurrentExecutions=2)
    Environment.objects.create(id="v1env2", node="n1", state="ready", function=made,
                               provisioned_for=provisioning.key_of(config, "1"))
    ProvisionedConcurrencyConfig.objects.filter(pk=config.pk).update(allocated=2, status="READY")
    lam.update_alias(FunctionName="ver", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert status() == ("IN_PROGRESS", 1)


def test_list_markers_are_the_operations_own_tokens(lam, made):
    # ListAliases, ListProvisionedConcurrencyConfigs, ListFunctionUrlConfigs
    # and ListLayers resume only from a NextMarker they gave (they listed
    # from any text before), and a marker naming an item deleted since
    # still resumes after it.
    lam.publish_version(FunctionName="ver")
    for name in ("a1", "a2", "a3"):
        lam.create_alias(FunctionName="ver", Name=name, FunctionVersion="1")
        lam.create_function_url_config(FunctionName="ver", Qualifier=name, AuthType="NONE")
    lam.create_function_url_config(FunctionName="ver", AuthType="NONE")
    for name in ("l1", "l2", "l3"):
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_of()})
    calls = [
        (lam.list_aliases, {"FunctionName": "ver"}, "Aliases", lambda a: a["Name"], ["a1", "a2", "a3"]),
        (lam.list_function_url_configs, {"FunctionName": "ver"}, "FunctionUrlConfigs",
         lambda u: u["FunctionArn"].rsplit(":", 1)[1], ["ver", "a1", "a2", "a3"]),
        (lam.list_layers, {}, "Layers", lambda x: x["LayerName"], ["l1", "l2", "l3"]),
    ]
    for call, kwargs, member, key, expected in calls:
        first = call(MaxItems=1, **kwargs)
        seen = [key(item) for item in first[member]]
        marker = first["NextMarker"]
        assert marker not in expected
        while marker:
            page = call(MaxItems=1, Marker=marker, **kwargs)
            seen += [key(item) for item in page[member]]
            marker = page.get("NextMarker")
        assert seen == expected, member
        for garbage in ("garbage", expected[0]):
            with pytest.raises(ClientError) as e:
                call(Marker=garbage, **kwargs)
            assert error_code(e) == "InvalidParameterValueException", (member, garbage)
    after_a1 = lam.list_aliases(FunctionName="ver", MaxItems=1)["NextMarker"]
    lam.delete_alias(FunctionName="ver", Name="a1")
    resumed = lam.list_aliases(FunctionName="ver", Marker=after_a1)["Aliases"]
    assert [a["Name"] for a in resumed] == ["a2", "a3"]
    with pytest.raises(ClientError) as e:
        lam.list_provisioned_concurrency_configs(FunctionName="ver", Marker="a1")
    assert error_code(e) == "InvalidParameterValueException"
