"""The one place that builds and parses ARNs.

Stratus names its resources the way AWS does, so SDKs and handlers that
read ARNs work unchanged: `arn:aws:<service>:<region>:<account>:<resource>`.
The region is the server's (STRATUS_REGION); the account is the team's
12-digit `account_id`. Shapes (AWS's own):

| what | resource part |
|---|---|
| Lambda function | `function:<name>` or `function:<name>:<qualifier>` |
| SNS topic | `<name>`; a subscription `<name>:<uuid>` |
| SQS queue | `<name>` |
| EventBridge rule | `rule/<name>` |
| DynamoDB table | `table/<name>`; its stream `table/<name>/stream/<label>` |
| Kinesis stream | `stream/<name>` |
"""

from dataclasses import dataclass

from django.conf import settings

# Lambda: names are 1-64 of letters, digits, hyphens and underscores.
SERVICES = ("lambda", "sns", "sqs", "events")


class ArnError(ValueError):
    """Text that is not an ARN of the expected shape; says which shape."""


@dataclass(frozen=True)
class Arn:
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:aws:{self.service}:{self.region}:{self.account}:{self.resource}"


def build(service: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{settings.STRATUS_REGION}:{account}:{resource}"


def function_arn(account: str, name: str, qualifier: str | None = None) -> str:
    """`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`."""
    resource = f"function:{name}" + (f":{qualifier}" if qualifier else "")
    return build("lambda", account, resource)


def topic_arn(account: str, name: str) -> str:
    return build("sns", account, name)


def subscription_arn(account: str, topic: str, subscription_id) -> str:
    return build("sns", account, f"{topic}:{subscription_id}")


def queue_arn(account: str, name: str) -> str:
    return build("sqs", account, name)


def rule_arn(account: str, rule: str) -> str:
    return build("events", account, f"rule/{rule}")


def table_arn(account: str, name: str) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>`."""
    return build("dynamodb", account, f"table/{name}")


def table_stream_arn(account: str, table: str, label: str) -> str:
    """A DynamoDB Streams stream: `<table ARN>/stream/<label>`."""
    return f"{table_arn(account, table)}/stream/{label}"


def kinesis_stream_arn(account: str, name: str) -> str:
    """`arn:aws:kinesis:<region>:<account>:stream/<name>`."""
    return build("kinesis", account, f"stream/{name}")


def parse(text) -> Arn:
    """An ARN's parts; ArnError when `text` is not `arn:aws:...` with six
    parts (the resource part may hold further colons)."""
    if not isinstance(text, str):
        raise ArnError(f"{text!r} is not an ARN (arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE).")
    parts = text.strip().split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != "aws" or not parts[5]:
        raise ArnError(f"{text!r} is not an ARN (arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE).")
    return Arn(parts[2], parts[3], parts[4], parts[5])


def split_function_name(value: str) -> tuple[str | None, str, str | None]:
    """(account, name, qualifier) from what Lambda accepts as FunctionName:
    a name, `name:qualifier`, a partial ARN `123456789012:function:name[:q]`
    or a full ARN. ArnError for anything else."""
    parts = value.split(":")
    if parts[0] == "arn" and len(parts) in (7, 8) and parts[2] == "lambda" and parts[5] == "function":
        return parts[4], parts[6], (parts[7] if len(parts) == 8 else None)
    if len(parts) in (3, 4) and parts[1] == "function":
        return parts[0], parts[2], (parts[3] if len(parts) == 4 else None)
    if len(parts) in (1, 2):
        return None, parts[0], (parts[1] if len(parts) == 2 else None)
    raise ArnError(
        f"FunctionName {value!r} is not a function name, a partial ARN "
        "(123456789012:function:NAME) or a function ARN."
    )


def foreign_region(value: str) -> str | None:
    """The region of a full ARN (`arn:PARTITION:SERVICE:REGION:...`) when
    it is not this server's region (STRATUS_REGION), else None (this
    region, or no full ARN: a name or a partial ARN means this region)."""
    parts = value.split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3] != settings.STRATUS_REGION:
        return parts[3]
    return None


def local_name(text: str, service: str, account: str) -> str | None:
    """The resource name of a `service` ARN in this region and `account`
    (a topic's or queue's name), else None."""
    try:
        arn = parse(text)
    except ArnError:
        return None
    if arn.service != service or arn.region != settings.STRATUS_REGION or arn.account != account:
        return None
    if ":" in arn.resource or "/" in arn.resource:
        return None
    return arn.resource
