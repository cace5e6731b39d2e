"""SQS queues as a kind of event source ("sqs") for mappings.sources:
registered from MessagingConfig.ready(). A queue is named by its ARN
`arn:aws:sqs:<region>:<account>:<name>` (awsapi.arns.queue_arn)."""

from __future__ import annotations

from collections.abc import Iterable

from awsapi import arns
from functions.models import Team
from mappings import sources
from messaging.models import Queue


class QueueSource:
    kind = "sqs"

    def matches(self, arn: str) -> bool:
        try:
            return arns.parse(arn).service == "sqs"
        except arns.ArnError:
            return False

    def exists(self, team: Team, arn: str) -> bool:
        return queue_of(team, arn) is not None

    def check(self, function, arn: str) -> str | None:
        """Lambda's refusal when the queue's visibility timeout is shorter
        than the function's timeout (a batch would reappear, and run again,
        while the function still works on it); None when it fits."""
        queue = queue_of(function.team, arn)
        if queue is not None and queue.visibility_timeout_s < function.timeout_s:
            return (
                f"Queue visibility timeout: {queue.visibility_timeout_s} seconds is less than "
                f"Function timeout: {function.timeout_s} seconds"
            )
        return None


def queue_of(team: Team, arn: str) -> Queue | None:
    """The team's queue `arn` names (this region, the team's account), or None."""
    name = arns.local_name(arn, "sqs", team.account_id)
    if name is None:
        return None
    return Queue.objects.select_related("team", "dead_letter_queue").filter(team=team, name=name).first()


def queues_of(wanted: Iterable[tuple[Team, str]]) -> dict[tuple[object, str], Queue]:
    """queue_of for many (team, ARN) pairs in one query: {(team id, ARN):
    queue} of the ones that exist (the queue poller's round)."""
    names = {}
    for team, arn in wanted:
        name = arns.local_name(arn, "sqs", team.account_id)
        if name is not None:
            names[(team.id, arn)] = name
    if not names:
        return {}
    found = Queue.objects.select_related("team", "dead_letter_queue").filter(
        team_id__in={team_id for team_id, _ in names}, name__in=set(names.values())
    )
    by_name = {(queue.team_id, queue.name): queue for queue in found}
    return {
        key: by_name[(key[0], name)] for key, name in names.items() if (key[0], name) in by_name
    }


def register() -> None:
    sources.register(QueueSource())
