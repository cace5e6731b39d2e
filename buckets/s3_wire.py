"""S3's errors and names, in S3's words: the error codes and messages its
clients match on, and the bucket-name rules."""

from __future__ import annotations

import ipaddress
import re

from awsapi.protocols import ServiceError

BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024
# S3: a PUT's user-defined metadata is at most 2 KB, the sum of the UTF-8
# bytes of each key (without x-amz-meta-) and value.
MAX_METADATA_BYTES = 2048
# S3's integer query parameters: a value that is not an int32 is
# InvalidArgument "Provided <name> not an integer or within integer range".
INTEGER_QUERY = ("max-keys", "max-parts", "part-number-marker", "max-uploads", "max-buckets",
                 "partNumber")
INT32_MAX = 2**31 - 1
# What the door's signature errors are called by S3's clients.
SIGNATURE_CODES = {
    "UnrecognizedClientException": "InvalidAccessKeyId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "AuthorizationHeaderMalformed",
    "MissingAuthenticationTokenException": "AccessDenied",
}


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid bucket name (S3's general purpose bucket
    rules), or None."""
    if not 3 <= len(name) <= 63:
        return "Bucket names must be between 3 and 63 characters long."
    if not BUCKET_NAME_RE.fullmatch(name):
        return ("Bucket names can consist only of lowercase letters, numbers, dots and hyphens, "
                "and must begin and end with a letter or number.")
    if ".." in name or ".-" in name or "-." in name:
        return "Bucket names must not contain two adjacent periods, or a period next to a hyphen."
    try:
        ipaddress.IPv4Address(name)
        return "Bucket names must not be formatted as an IP address."
    except ValueError:
        pass
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "Bucket names must not use a prefix or suffix reserved by S3."
    return None


def no_bucket(name: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", status=404,
                        fields={"BucketName": name})


def no_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", status=404, fields={"Key": key})


def no_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
        "been aborted or completed.", status=404, fields={"UploadId": upload_id},
    )


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    fields = {}
    if name is not None:
        fields = {"ArgumentName": name, "ArgumentValue": "" if value is None else str(value)}
    return ServiceError("InvalidArgument", message, fields=fields)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                        status=412, fields={"Condition": condition})


def not_modified() -> ServiceError:
    return ServiceError("NotModified", "Not Modified", status=304)


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """`metadata` if its keys and values together are at most 2 KB (UTF-8
    bytes), else S3's MetadataTooLarge (400)."""
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise ServiceError(
            "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.",
            fields={"Size": size, "MaxSizeAllowed": MAX_METADATA_BYTES},
        )
    return metadata


def not_an_integer(name: str, value: str) -> ServiceError:
    return invalid_argument(f"Provided {name} not an integer or within integer range", name, value)


def not_implemented(operation: str) -> ServiceError:
    return ServiceError(
        "NotImplemented",
        f"A header or query you provided implies functionality that is not implemented ({operation}).",
        status=501, sender_fault=False,
    )


def check_key(key: str | None) -> str:
    if not key:
        raise invalid_argument("A key must be given.", "Key", key)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ServiceError("KeyTooLongError", "Your key is too long", fields={"Size": len(key.encode())})
    return key
