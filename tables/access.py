"""Who may see and change tables in the console, as buckets.access does for
buckets: 404 to a stranger (we do not confirm the table exists), 403 to a
read-only member on a change. A table is named in URLs by its team's
account id and its name (names are unique within a team, as DynamoDB's
are within an account and region)."""

from django.http import Http404

from functions.access import check_write
from tables.models import Table


def get_table_for_user(user, account_id: str, name: str, *, write: bool = False) -> Table:
    table = (Table.objects.select_related("team")
             .filter(team__account_id=account_id, name=name, team__membership__user=user).first())
    if table is None:
        raise Http404("No such table.")
    if write:
        check_write(user, table.team)
    return table
