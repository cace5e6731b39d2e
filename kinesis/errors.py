"""Kinesis's errors, in its codes and words (Amazon Kinesis Data Streams
API Reference, "Common Errors" and each operation's "Errors"): a missing
stream is ResourceNotFoundException "Stream NAME under account ACCOUNT not
found.", a name taken ResourceInUseException, a value Kinesis refuses
InvalidArgumentException, an old iterator ExpiredIteratorException, a
quota LimitExceededException; a value outside the API model's constraints
(length, pattern, range) is ValidationException "1 validation error
detected: ..." as Kinesis's request validation words it."""

from __future__ import annotations

from awsapi.protocols import ServiceError


def gone(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def not_found(name: str, account: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Stream {name} under account {account} not found.")


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message)


def limit(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message)


def expired(message: str) -> ServiceError:
    return ServiceError("ExpiredIteratorException", message)


def validation(value, member: str, constraint: str) -> ServiceError:
    """`member` is the wire path (`streamName`, `records.1.member.data`)."""
    shown = "" if value is None else f"Value '{value}' "
    return ServiceError(
        "ValidationException",
        f"1 validation error detected: {shown}at '{member}' failed to satisfy constraint: {constraint}",
    )


def dry_run() -> ServiceError:
    """DryRun=true on a call that would have succeeded (Kinesis Data Streams
    Developer Guide, "Test your permissions and request inputs with dry run")."""
    return ServiceError("DryRunOperationException",
                        "The request would have succeeded, but the DryRun parameter was set.")


def not_found_shard(shard_id, stream) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"Shard {shard_id} in stream {stream.name} under account {stream.team.account_id} does not exist",
    )
