"""Who may see and change buckets, as functions.access does for functions:
404 to a stranger (we do not confirm the bucket exists), 403 to a
read-only member on a change. A bucket is named in URLs by its team's
account id and its name (names are unique within a team)."""

from buckets.models import Bucket
from functions.access import get_named_team_object_for_user


def get_bucket_for_user(user, account_id: str, name: str, *, write: bool = False) -> Bucket:
    return get_named_team_object_for_user(Bucket.objects.select_related("team"), account_id, name, user,
                                          write=write, what="bucket")
