"""Finding the caller's table: table names are per team (the team of the
caller's API key), and TableName may also be the table's ARN."""

from __future__ import annotations

from tables import schema, wire
from tables.models import Table


def table_for(team, name, *, describe: bool = False) -> Table:
    """The team's table `name` (or ARN); ResourceNotFoundException
    ("Requested resource not found", DescribeTable and the table
    operations naming the table) when it has none."""
    name = schema.table_name(name)
    table = Table.objects.filter(team=team, name=name).first()
    if table is None:
        raise wire.table_not_found(name) if describe else wire.not_found()
    return table


def table_by_arn(team, arn) -> Table:
    """TagResource & co.: ResourceArn of one of the team's tables."""
    if not isinstance(arn, str) or ":table/" not in arn:
        raise wire.validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    if account != team.account_id:
        raise wire.not_found(f"{wire.NOT_FOUND}: {arn}")
    name = arn.split(":table/", 1)[1].split("/", 1)[0]
    table = Table.objects.filter(team=team, name=name).first()
    if table is None:
        raise wire.not_found(f"{wire.NOT_FOUND}: {arn}")
    return table
