"""The MD5 digests SQS returns with a message (MD5OfMessageBody,
MD5OfMessageAttributes) and Lambda's SQS event carries (`md5OfBody`,
`md5OfMessageAttributes`). Apart from messaging.sqs_wire so that
messaging.queues, which builds the Lambda event, can use them too.

Source of the attribute digest: "Calculating the MD5 message digest for
message attributes", Amazon SQS Developer Guide."""

from __future__ import annotations

import base64
import hashlib
import struct


def md5_of_body(body: str) -> str:
    """Hex MD5 of the body's UTF-8 bytes."""
    return hashlib.md5(body.encode()).hexdigest()


def md5_of_attributes(attributes: dict) -> str | None:
    """SQS's MD5OfMessageAttributes over API-shaped attributes
    ({name: {"DataType", "StringValue" | "BinaryValue" (bytes)}}): for each
    name in order, the name, the data type, a transport byte (1 string,
    2 binary) and the value, each after its length as 4 bytes big-endian.
    None without attributes (SQS then sends no digest)."""
    if not attributes:
        return None
    digest = hashlib.md5()

    def part(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        value = attributes[name]
        part(name.encode())
        part(value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            part(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            part(value["StringValue"].encode())
    return digest.hexdigest()


def md5_of_stored_attributes(stored: dict) -> str | None:
    """The same digest over attributes as messaging stores them
    ({name: {"Type", "Value"}}, a Binary value as base64 text)."""
    api = {}
    for name, a in stored.items():
        if a["Type"].split(".", 1)[0] == "Binary":
            api[name] = {"DataType": a["Type"], "BinaryValue": base64.b64decode(a["Value"])}
        else:
            api[name] = {"DataType": a["Type"], "StringValue": a["Value"]}
    return md5_of_attributes(api)
