"""Helpers shared by the sandbox tests (fixtures: conftest.py)."""

from __future__ import annotations

import time
import uuid


def request(event=None, name: str = "demo", memory_mb: int = 128) -> dict:
    return {
        "requestId": str(uuid.uuid4()),
        "event": event,
        "deadlineMs": int(time.time() * 1000) + 30_000,
        "functionName": name,
        "functionVersion": "$LATEST",
        "memoryLimitInMB": memory_mb,
        "invokedFunctionArn": f"arn:aws:lambda:eu-west-1:000000000000:function:{name}",
        "logGroupName": f"/aws/lambda/{name}",
        "logStreamName": "stream",
    }
