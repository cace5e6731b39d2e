"""Our models in the Lambda API's response shapes (botocore's service model,
lambda 2015-03-31), so SDK code written against AWS reads them unchanged."""

from datetime import datetime

from functions import dependencies, layers
from functions.models import Function


def lambda_time(value: datetime) -> str:
    """Lambda's LastModified format: 2024-01-01T00:00:00.000+0000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def function_configuration(fn: Function) -> dict:
    submitted = dependencies.submitted_code(fn)  # as uploaded: a build's packages are ours
    shape = {
        "FunctionName": fn.name,
        "FunctionArn": fn.arn,
        "Runtime": fn.runtime,
        "Role": fn.role,
        "Handler": fn.handler,
        "CodeSize": submitted.size,
        "Description": fn.description,
        "Timeout": fn.timeout_s,
        "MemorySize": fn.memory_mb,
        "LastModified": lambda_time(fn.updated_at),
        "CodeSha256": submitted.sha256_b64,
        "Version": "$LATEST",
        "Environment": {"Variables": dict(fn.environment or {})},
        "State": fn.state,
        "LastUpdateStatus": fn.last_update_status,
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "RevisionId": str(fn.revision),
        "EphemeralStorage": {"Size": 512},
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
    shape = {
        "Configuration": function_configuration(fn),
        "Code": {"RepositoryType": "S3", "Location": code_location},
    }
    if fn.reserved_concurrency is not None:
        # As Lambda: present only when the function has a reservation.
        shape["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
    return shape
