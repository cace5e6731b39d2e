"""Lambda's GetAccountSettings for a team (each team is an account): its
limits and what it uses. Served by the AWS front door as the other Lambda
operations (functions.lambda_door); the concurrency numbers are
invocations.concurrency's, the code-size limits functions.code's."""

from django.db.models import Sum

from awsapi import services
from functions import code
from functions.models import Function, LayerVersion, Team
from invocations import concurrency

# Lambda's default quota for all of an account's function and layer code (75 GB).
TOTAL_CODE_SIZE = 75 * 1024**3


def get_account_settings(context: services.Context, parameters: dict) -> dict:
    """GetAccountSettings: AccountLimit {TotalCodeSize, CodeSizeUnzipped,
    CodeSizeZipped (bytes), ConcurrentExecutions, UnreservedConcurrentExecutions}
    and AccountUsage {TotalCodeSize (bytes of the team's functions' zips and
    layer versions' zips, as Lambda counts "deployment packages and layer
    archives"), FunctionCount}. ConcurrentExecutions is the team's limit now (it follows
    the lane threads alive when derived from the installation)."""
    # Read again: the signing key's copy of its team may be older.
    team = Team.objects.get(pk=context.team.pk)
    limit = concurrency.team_limit(team)
    functions = Function.objects.filter(team=team)
    usage = functions.aggregate(size=Sum("code__size"))
    layer_usage = LayerVersion.objects.filter(layer__team=team, deleted_at__isnull=True).aggregate(
        size=Sum("content__size"))
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": code.MAX_UNZIPPED,
            "CodeSizeZipped": code.MAX_ZIPPED,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": max(0, limit - concurrency.reserved_total(team)),
        },
        "AccountUsage": {"TotalCodeSize": (usage["size"] or 0) + (layer_usage["size"] or 0),
                         "FunctionCount": functions.count()},
    }


HANDLERS = {"GetAccountSettings": get_account_settings}
READS = {"GetAccountSettings"}
