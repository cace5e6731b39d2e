"""Our models in the Lambda API's response shapes (botocore's service model,
lambda 2015-03-31), so SDK code written against AWS reads them unchanged.

FunctionConfiguration carries every member that applies to a Zip function
here, with Lambda's defaults: Environment always (empty Variables),
TracingConfig {"Mode": "PassThrough"}, LoggingConfig {"LogFormat": "Text",
"LogGroup": "/aws/lambda/<name>"} (JSON adds ApplicationLogLevel and
SystemLogLevel, INFO unless set), EphemeralStorage {"Size": 512},
Architectures ["x86_64"], Layers [{"Arn", "CodeSize"}] only when the
function has layers, StateReason(Code) and LastUpdateStatusReason(Code) only
when set. VpcConfig, DeadLetterConfig, KMSKeyArn, FileSystemConfigs,
SnapStart, ImageConfigResponse and the signing members are left out: Stratus
has none of them (as Lambda leaves out what a function does not use)."""

from datetime import datetime

from functions import dependencies, layers
from functions.models import Function


def lambda_time(value: datetime) -> str:
    """Lambda's LastModified format: 2024-01-01T00:00:00.000+0000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def logging_config(fn: Function) -> dict:
    """LoggingConfig as Lambda answers it: the stored members over its
    defaults (Text, /aws/lambda/<name>; INFO levels with JSON)."""
    stored = dict(fn.logging_config or {})
    shape = {"LogFormat": stored.get("LogFormat", "Text")}
    if shape["LogFormat"] == "JSON":
        shape["ApplicationLogLevel"] = stored.get("ApplicationLogLevel", "INFO")
        shape["SystemLogLevel"] = stored.get("SystemLogLevel", "INFO")
    shape["LogGroup"] = stored.get("LogGroup") or f"/aws/lambda/{fn.name}"
    return shape


def qualified_arn(fn: Function) -> str:
    """The function's ARN with the version or alias it was named by (a
    functions.qualifiers copy's `.qualifier`), bare for $LATEST."""
    qualifier = fn.qualifier
    return f"{fn.arn}:{qualifier}" if qualifier and qualifier != "$LATEST" else fn.arn


def function_configuration(fn: Function) -> dict:
    """Lambda's FunctionConfiguration of `fn` ($LATEST, or a version's copy
    from functions.qualifiers.resolve: its `executed_version`)."""
    submitted = dependencies.submitted_code(fn)  # as uploaded: a build's packages are ours
    shape = {
        "FunctionName": fn.name,
        # Qualified as asked (":3", ":live"), as Lambda answers.
        "FunctionArn": qualified_arn(fn),
        "Runtime": fn.runtime,
        "Role": fn.role,
        "Handler": fn.handler,
        "CodeSize": submitted.size,
        "Description": fn.description,
        "Timeout": fn.timeout_s,
        "MemorySize": fn.memory_mb,
        "LastModified": lambda_time(fn.updated_at),
        "CodeSha256": submitted.sha256_b64,
        "Version": fn.executed_version,
        "Environment": {"Variables": dict(fn.environment or {})},
        "TracingConfig": {"Mode": fn.tracing_mode or "PassThrough"},
        "RevisionId": str(fn.revision),
        "State": fn.state or "Active",
        "LastUpdateStatus": fn.last_update_status or "Successful",
        "PackageType": "Zip",
        "Architectures": list(fn.architectures or ["x86_64"]),
        "EphemeralStorage": {"Size": fn.ephemeral_storage_mb or 512},
        "LoggingConfig": logging_config(fn),
        **layers_part(fn),
    }
    state_fields(fn, shape)
    return shape


def state_fields(fn: Function, shape: dict) -> None:
    """StateReason(Code) and LastUpdateStatusReason(Code), present when set (Lambda)."""
    for key, value in (
        ("StateReason", fn.state_reason), ("StateReasonCode", fn.state_reason_code),
        ("LastUpdateStatusReason", fn.last_update_status_reason),
        ("LastUpdateStatusReasonCode", fn.last_update_status_reason_code),
    ):
        if value:
            shape[key] = value


def layers_part(fn: Function) -> dict:
    """{"Layers": [{"Arn", "CodeSize"}]} when the function has layers (a
    deleted version still listed), else {}: Lambda leaves the member out."""
    return {"Layers": layers.layers_shape(fn)} if fn.layers else {}


def get_function(fn: Function, code_location: str) -> dict:
    """GetFunction's answer: Configuration, Code, Tags when the function
    has any (as Lambda answers a caller allowed lambda:ListTags) and
    Concurrency when set."""
    shape = {
        "Configuration": function_configuration(fn),
        "Code": {"RepositoryType": "S3", "Location": code_location},
    }
    if fn.tags:
        shape["Tags"] = dict(fn.tags)
    if fn.reserved_concurrency is not None:
        # As Lambda: present only when the function has a reservation.
        shape["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
    return shape
