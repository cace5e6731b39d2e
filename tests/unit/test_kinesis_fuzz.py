"""Every Kinesis operation fuzzed through the AWS front door (hypothesis,
as tests/unit/test_fuzz_api.py does for SQS and SNS): typed requests with
wild members and broken bodies never get a 5xx, every refusal is a
Kinesis-shaped error (a code the operation's model lists, or one of the
JSON protocol's own: test_fuzz_api_streams.assert_json_error), and a
refused request changes no stored data."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinesis import kinesis_api, records, streams
from kinesis.models import Record, Shard, Stream
from tests.unit.test_fuzz_api import (
    ACCOUNT,
    FUZZ_EACH,
    _json_typed,
    _model,
    _signed,
    aws,  # noqa: F401 - the fixture
    json_values,
    raw_bad_bodies,
)
from tests.unit.test_fuzz_api_streams import assert_json_error

OPERATIONS = sorted(kinesis_api.READS | {
    "CreateStream", "DeleteStream", "UpdateShardCount", "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod", "AddTagsToStream", "RemoveTagsFromStream", "PutRecord", "PutRecords",
})
ARN = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"


def test_the_fuzzed_operations_are_the_served_ones():
    from awsapi import services

    assert sorted(services.get("kinesis").handlers) == OPERATIONS


def snapshot():
    return (tuple(Stream.objects.order_by("pk").values_list("pk", "name", "retention_hours", "tags")),
            tuple(Shard.objects.order_by("pk").values_list("pk", "closed_at")), Record.objects.count())


@pytest.mark.parametrize("op", OPERATIONS)
def test_fuzz_every_kinesis_operation(aws, op):  # noqa: F811
    team, key, secret = aws
    if not Stream.objects.filter(team=team, name="s").exists():
        streams.create(team, "s", 2)
    shard = Shard.objects.filter(stream__team=team, stream__name="s").first()
    good_iterator = records.iterator(Stream.objects.get(team=team, name="s"), shard, 0)
    names = {
        "StreamName": st.one_of(st.sampled_from(["s", "s", "fresh", "", "a" * 129, "bad name"]), json_values),
        "StreamARN": st.one_of(st.just(ARN), st.sampled_from(["arn:aws:kinesis:x", "nope"]), json_values),
        "ShardId": st.one_of(st.sampled_from(["shardId-000000000000", "shardId-1", "x"]), json_values),
        "ShardIterator": st.one_of(st.just(good_iterator), st.text(max_size=20), json_values),
        "Data": st.one_of(st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()), json_values),
        "ShardCount": st.one_of(st.integers(-2, 6), json_values),
        "TargetShardCount": st.one_of(st.integers(-2, 6), json_values),
    }
    requests = _json_typed(_model("kinesis").operation_model(op).input_shape, names)

    @FUZZ_EACH
    @given(params=requests, raw=st.one_of(st.none(), st.none(), st.none(), raw_bad_bodies))
    def run(params, raw):
        body = raw if raw is not None else json.dumps(params).encode()
        before = snapshot()
        resp = _signed("kinesis", "POST", "/", body, {
            "X-Amz-Target": f"Kinesis_20131202.{op}", "Content-Type": "application/x-amz-json-1.1",
        }, key, secret)
        # Below 500; an error's code is one the operation's model lists (or JSON's common ones).
        assert_json_error("kinesis", op, resp, body)
        if resp.status_code >= 400:
            assert snapshot() == before, "a refused request changed stored data"

    run()
