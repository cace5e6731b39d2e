"""Fan-out, the receiving side: one function per queue; each gets the SNS
envelope in its SQS record's body (RawMessageDelivery off)."""

import json
import os


def handler(event, context):
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        message = json.loads(envelope["Message"])
        print(f"{os.environ['AWS_LAMBDA_FUNCTION_NAME']} got order {message['order']}")
    return {"count": len(event["Records"])}
