"""Command: one entry point that routes each command to the function that
handles it, with boto3's lambda invoke (RequestResponse), and answers with
that function's result.

Event: {"command": "add" | "greet", "args": {...}}. The handlers are the
functions named in ROUTES; the execution policy allows lambda:InvokeFunction
on them (see policy.json)."""

import json

import boto3

lam = boto3.client("lambda")
ROUTES = {"add": "cmd-add", "greet": "cmd-greet"}


def handler(event, context):
    command = event.get("command")
    if command not in ROUTES:
        return {"error": f"unknown command {command!r}", "known": sorted(ROUTES)}
    answer = lam.invoke(FunctionName=ROUTES[command], Payload=json.dumps(event.get("args") or {}))
    result = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        return {"error": result}
    return {"command": command, "by": ROUTES[command], "result": result}
