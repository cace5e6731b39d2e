"""Who may see and change tables in the console, as buckets.access does for
buckets: 404 to a stranger (we do not confirm the table exists), 403 to a
read-only member on a change. A table is named in URLs by its team's
account id and its name (names are unique within a team, as DynamoDB's
are within an account and region)."""

from functions.access import get_named_team_object_for_user
from tables.models import Table


def get_table_for_user(user, account_id: str, name: str, *, write: bool = False) -> Table:
    return get_named_team_object_for_user(Table.objects.select_related("team"), account_id, name, user,
                                          write=write, what="table")
