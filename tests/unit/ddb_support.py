"""Shared pieces of the DynamoDB unit tests: boto3 `dynamodb` clients and
resources whose requests go to the production ASGI app
(tests.unit.aws_clients), and a table maker. The `ddb`, `raw_ddb` and
`ddbs` fixtures (tests/unit/conftest.py) are these clients of the member."""

from tests.unit.aws_clients import aws_client, aws_resource


def client(keys):
    key, secret = keys
    return aws_client("dynamodb", key.access_key_id, secret)


def raw_client(keys):
    """Without botocore's own parameter checks: the server's are tested."""
    key, secret = keys
    return aws_client("dynamodb", key.access_key_id, secret, parameter_validation=False)


def resource(keys):
    """boto3's resource layer (Table, conditions, batch_writer) over the app."""
    key, secret = keys
    return aws_resource("dynamodb", key.access_key_id, secret)


def make_table(ddb, name="things", *, sort: str | None = "sk", sort_type="S", **extra):
    """A PAY_PER_REQUEST table keyed by pk (S) and, unless `sort` is None,
    `sort` of `sort_type`."""
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
        definitions.append({"AttributeName": sort, "AttributeType": sort_type})
    for extra_definition in extra.pop("more_definitions", []):
        definitions.append(extra_definition)
    return ddb.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=definitions,
                            BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]
