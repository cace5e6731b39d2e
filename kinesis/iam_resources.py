"""What a Kinesis call does, as IAM names it: (action, resource ARN) pairs
for execution policies (awsapi.principals.authorize). Source: the Service
Authorization Reference for Amazon Kinesis Data Streams: every action is
`kinesis:<Operation>` on the stream's ARN, ListStreams on "*"; GetRecords
names no stream, so its stream comes from the iterator."""

from __future__ import annotations

from awsapi import arns
from kinesis import records
from kinesis.models import Stream


def kinesis(context, operation: str, params: dict) -> list[tuple[str, str]]:
    action = "kinesis:" + operation
    account = context.team.account_id
    if params.get("StreamARN"):
        return [(action, str(params["StreamARN"]))]
    if params.get("StreamName"):
        return [(action, arns.kinesis_stream_arn(account, str(params["StreamName"])))]
    if operation == "GetRecords" and params.get("ShardIterator"):
        try:
            position = records.decode(params["ShardIterator"])
        except Exception:  # A bad iterator is the handler's to answer.
            return [(action, "*")]
        mine = Stream.objects.filter(id=position.stream_id, team=context.team)
        name = mine.values_list("name", flat=True).first()
        if name:
            return [(action, arns.kinesis_stream_arn(account, name))]
    return [(action, "*")]
