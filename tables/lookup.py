"""Finding the caller's table: table names are per team (the team of the
caller's API key), and TableName may also be the table's ARN. The table
comes back with `team` already set to the caller's (read through the
team's related manager), so its ARN, which a write's stream record wakes
pollers with (tables.streams.record_change), costs no query for the team
inside the write's transaction."""

from __future__ import annotations

from tables import schema, wire
from tables.models import Table


def table_for(team, name, *, describe: bool = False) -> Table:
    """The team's table `name` (or ARN); ResourceNotFoundException
    ("Requested resource not found", DescribeTable and the table
    operations naming the table) when it has none."""
    given = name
    name = schema.table_name(name)
    if isinstance(given, str) and given.startswith("arn:") and given.split(":")[4:5] != [team.account_id]:
        # Another account's table: never the caller's table of that name.
        raise wire.table_not_found(name) if describe else wire.not_found()
    table = team.tables.filter(name=name).first()
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
    table = team.tables.filter(name=name).first()
    if table is None:
        raise wire.not_found(f"{wire.NOT_FOUND}: {arn}")
    return table
