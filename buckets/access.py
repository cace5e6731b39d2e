"""Who may see and change buckets, as functions.access does for functions:
404 to a stranger (we do not confirm the bucket exists), 403 to a
read-only member on a change. A bucket is named in URLs by its team's
account id and its name (names are unique within a team)."""

from django.http import Http404

from buckets.models import Bucket
from functions.access import check_write


def get_bucket_for_user(user, account_id: str, name: str, *, write: bool = False) -> Bucket:
    bucket = (Bucket.objects.select_related("team")
              .filter(team__account_id=account_id, name=name, team__membership__user=user).first())
    if bucket is None:
        raise Http404("No such bucket.")
    if write:
        check_write(user, bucket.team)
    return bucket
