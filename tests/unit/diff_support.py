"""Differential testing support: run the same boto3 calls against Stratus
(the production ASGI app, tests.unit.aws_clients) and against moto's
in-process AWS (`moto.mock_aws`), and keep a transcript of each side's
answers with what may differ between two correct implementations taken
out (request ids, timestamps, capacity, error messages, Scan order).

A scenario is a function of one `Recorder`; it is run once per side and
the two transcripts are compared entry by entry."""

import base64
import json
from decimal import Decimal, InvalidOperation

import boto3
from botocore.exceptions import ClientError

# Answer fields that name or time a resource and so differ by design.
VOLATILE = {
    "ResponseMetadata", "ConsumedCapacity", "TableDescription", "Table", "TableNames",
    "StreamDescription", "StreamDescriptionSummary", "ItemCollectionMetrics",
    "MillisBehindLatest", "NextShardIterator", "ShardIterator", "SequenceNumber",
    "ApproximateArrivalTimestamp", "EncryptionType", "LastEvaluatedTableName",
}


def _plain(value):
    """`value` with bytes as base64 text, so transcripts compare and sort."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return "b64:" + base64.b64encode(bytes(value)).decode()
    return value


def _number(text):
    """A number's value as text ("9.99E+125" and "999...0" alike): moto
    echoes the text it was given; how DynamoDB spells a number with an
    exponent is not compared here, only its value."""
    try:
        return format(Decimal(text).normalize(), "E")
    except (InvalidOperation, TypeError):
        return text


def _canonical(item):
    """Sets are unordered in DynamoDB: sort them; numbers by value."""
    if isinstance(item, dict):
        out = {}
        for k, v in item.items():
            if k == "NS" and isinstance(v, list):
                out[k] = sorted(_number(n) for n in v)
            elif k == "N" and isinstance(v, str):
                out[k] = _number(v)
            elif k in ("SS", "BS") and isinstance(v, list):
                out[k] = sorted(v)
            else:
                out[k] = _canonical(v)
        return out
    if isinstance(item, list):
        return [_canonical(v) for v in item]
    return item


def key_of(item) -> str:
    return json.dumps(item, sort_keys=True)


def normalize(op: str, answer: dict) -> dict:
    out = {k: v for k, v in answer.items() if k not in VOLATILE}
    out = _canonical(_plain(out))
    if out.get("Attributes") == {}:
        # moto answers an empty map where DynamoDB leaves Attributes out
        # (nothing to return); both mean "no attributes".
        del out["Attributes"]
    if op == "scan" and "Items" in out:
        out["Items"] = sorted(out["Items"], key=key_of)
    if op == "batch_get_item":
        out["Responses"] = {t: sorted(items, key=key_of) for t, items in out.get("Responses", {}).items()}
        out["UnprocessedKeys"] = out.get("UnprocessedKeys") or {}
    if op == "batch_write_item":
        out["UnprocessedItems"] = out.get("UnprocessedItems") or {}
    return out


def error_of(error: ClientError) -> dict:
    """An error as its code, and the codes of a transaction's reasons
    (and their Item, asked for with ReturnValuesOnConditionCheckFailure)."""
    response = error.response
    out = {"Error": response["Error"]["Code"]}
    reasons = response.get("CancellationReasons")
    if reasons:
        out["CancellationReasons"] = [
            _canonical(_plain({k: v for k, v in r.items() if k != "Message"})) for r in reasons
        ]
    if "Item" in response:
        out["Item"] = _canonical(_plain(response["Item"]))
    return out


class Recorder:
    """Calls `client`'s operations (`rec.put_item(...)`) and writes each
    answer, normalised, to `log`; an error is recorded (and returned), not
    raised; `raw` is the last answer as boto3 gave it. `note(label,
    value)` records a value a scenario derived."""

    def __init__(self, client):
        self.client = client
        self.log: list = []

    def note(self, label, value):
        self.log.append((label, _canonical(_plain(value))))

    def __getattr__(self, op):
        method = getattr(self.client, op)

        def call(**params):
            self.raw = {}
            try:
                self.raw = method(**params)
                answer = normalize(op, self.raw)
            except ClientError as error:
                answer = error_of(error)
            except Exception as error:  # moto's own failures: recorded, then judged
                answer = {"Crash": type(error).__name__}
            self.log.append((op, _canonical(_plain(params)), answer))
            return answer

        return call

    def quiet(self, op, **params):
        """A call whose answer is not compared (table creation...)."""
        return getattr(self.client, op)(**params)


def moto_client(service: str):
    """A boto3 client for `service`, to be used inside `mock_aws`. The
    streams client names its endpoint: moto answers the one botocore
    resolves by itself with 404 "Not yet implemented"."""
    extra = {}
    if service == "dynamodbstreams":
        extra["endpoint_url"] = "https://streams.dynamodb.us-east-1.amazonaws.com"
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", **extra)


def differences(ours: list, theirs: list) -> list:
    """The transcript entries that differ, as (index, ours, theirs)."""
    out = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b]
    if len(ours) != len(theirs):
        out.append(("length", len(ours), len(theirs)))
    return out
