"""The console's bucket pages: the bucket list, a bucket browser (folders by
prefix with "/" as the delimiter, paged by ListObjectsV2's continuation
token), download, delete, upload, and the notification settings. Thin:
access goes through buckets.access, every change through the same
operations the S3 API calls (buckets.objects, buckets.notifications; the
upload is buckets.upload_door, before Django), so the console and boto3
agree and fire the same events. A form with an error re-renders its page and saves nothing."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from awsapi.protocols import ServiceError
from buckets import listing, notifications, objects, storage
from buckets.access import get_bucket_for_user
from buckets.forms import BucketForm, NotificationFormSet
from buckets.models import Bucket, Object
from functions import team_lists
from functions.access import can_write

DELIMITER = "/"
PAGE_SIZE = 100
# Keys per delete when a "folder" goes (S3's DeleteObjects takes 1000).
DELETE_BATCH = 1000


def _requester(request: HttpRequest) -> notifications.Requester:
    """The console user as the event's userIdentity and requestParameters."""
    return notifications.Requester(
        principal_id=f"Stratus:{request.user.get_username()}",
        source_ip=request.META.get("REMOTE_ADDR", ""),
        request_id=uuid.uuid4().hex[:16].upper(),
    )


def bucket_url(bucket: Bucket, prefix: str = "") -> str:
    url = reverse("bkt-browse", args=[bucket.team.account_id, bucket.name])
    return f"{url}?{urlencode({'prefix': prefix})}" if prefix else url


def _parent(prefix: str) -> str:
    """The folder holding `prefix` ("a/b/" -> "a/", "a/" -> "")."""
    trimmed = prefix[:-1] if prefix.endswith(DELIMITER) else prefix
    at = trimmed.rfind(DELIMITER)
    return trimmed[: at + 1] if at >= 0 else ""


def _crumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) of each folder down to `prefix`."""
    crumbs, so_far = [], ""
    for part in prefix.split(DELIMITER)[:-1] if prefix else []:
        so_far += part + DELIMITER
        crumbs.append((part or "(empty)", so_far))
    return crumbs


# Buckets ------------------------------------------------------------------------


def _create_bucket(form: BucketForm) -> Bucket | None:
    try:
        return objects.create_bucket(form.cleaned_data["team"], form.cleaned_data["name"])
    except ServiceError as e:
        if e.code == "BucketAlreadyOwnedByYou":
            form.add_error("name", "Your team already has a bucket with this name.")
        else:
            form.add_error("name", e.message)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def bucket_list(request: HttpRequest) -> HttpResponse:
    return team_lists.list_page(
        request, what="bucket", form_class=BucketForm, create=_create_bucket, url=bucket_url,
        rows=lambda teams: (Bucket.objects.filter(team__in=teams).select_related("team")
                            .order_by("name", "team__name")),
        template="buckets/list.html",
    )


@login_required
@require_POST
def bucket_delete(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    bucket = get_bucket_for_user(request.user, account_id, name, write=True)
    try:
        objects.delete_bucket(bucket.team, bucket.name)
    except ServiceError as e:
        if e.code != "BucketNotEmpty":
            raise
        messages.error(request, f"The bucket {bucket.name} is not empty: delete its objects first "
                                "(BucketNotEmpty).")
        return redirect(bucket_url(bucket))
    messages.success(request, f"Deleted the bucket {bucket.name}.")
    return redirect("bkt-list")


# The browser ----------------------------------------------------------------------


@login_required
@require_GET
def bucket_browse(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """One page of the folder `prefix`: its sub-folders (common prefixes)
    and objects, PAGE_SIZE entries at a time; `token` is the continuation
    token of the page after."""
    bucket = get_bucket_for_user(request.user, account_id, name)
    prefix = request.GET.get("prefix", "")
    token = request.GET.get("token") or None
    try:
        page = listing.list_objects(bucket, prefix=prefix, delimiter=DELIMITER, max_keys=PAGE_SIZE,
                                    token=token)
    except ServiceError:
        # A token that does not parse (edited by hand): start at the first page.
        return redirect(bucket_url(bucket, prefix))
    ctx = {
        "bucket": bucket, "browse_url": bucket_url(bucket), "prefix": prefix, "parent": _parent(prefix),
        "crumbs": _crumbs(prefix),
        "folders": [(p[len(prefix):], p) for p in page.common_prefixes],
        "files": [(o.key[len(prefix):], o) for o in page.contents],
        "next_token": page.next_token, "paged": bool(token),
        "can_write": can_write(request.user, bucket.team),
        "max_upload": settings.STRATUS_S3_MAX_PUT_BYTES,
        "notification_count": bucket.notifications.count(),
    }
    template = "buckets/browse.html#listing" if request.htmx else "buckets/browse.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _object(bucket: Bucket, key: str) -> Object:
    found = Object.objects.filter(bucket=bucket, key=key).first()
    if found is None:
        raise Http404("No such object.")
    return found


@login_required
@require_GET
def object_download(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """The object's bytes, streamed from its file in chunks, as an attachment
    named after the key's last segment."""
    bucket = get_bucket_for_user(request.user, account_id, name)
    obj = _object(bucket, request.GET.get("key", ""))
    # Opened here: a replacement committed meanwhile unlinks a name, not our file.
    response = FileResponse(storage.open_blob(obj.blob), as_attachment=True,
                            filename=obj.key.rsplit(DELIMITER, 1)[-1] or "object",
                            content_type=obj.content_type)
    response["Content-Length"] = str(obj.size)
    response["ETag"] = obj.etag
    response["Last-Modified"] = http_date(obj.last_modified.timestamp())
    if obj.content_encoding:
        response["Content-Encoding"] = obj.content_encoding
    return response


@login_required
@require_POST
def object_delete(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """DeleteObject of `key` (its ObjectRemoved:Delete notifications too)."""
    bucket = get_bucket_for_user(request.user, account_id, name, write=True)
    key = request.POST.get("key", "")
    obj = _object(bucket, key)
    objects.delete_objects(bucket, [obj.key], by=_requester(request))
    messages.success(request, f"Deleted {key}.")
    return redirect(bucket_url(bucket, _parent(key)))


@login_required
@require_http_methods(["GET", "POST"])
def folder_delete(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """GET: what deleting the folder `prefix` takes (a confirmation page);
    POST: delete every object under it, as DeleteObjects in batches."""
    bucket = get_bucket_for_user(request.user, account_id, name, write=True)
    prefix = request.POST.get("prefix") if request.method == "POST" else request.GET.get("prefix")
    prefix = prefix or ""
    if not prefix.endswith(DELIMITER):
        messages.error(request, "Choose a folder to delete (a prefix ending with /).")
        return redirect(bucket_url(bucket))
    under = Object.objects.filter(bucket=bucket, key__startswith=prefix)
    if request.method == "GET":
        return render(request, "buckets/folder_delete.html", {
            "bucket": bucket, "prefix": prefix, "count": under.count(), "crumbs": _crumbs(prefix),
            "sample": list(under.order_by("key").values_list("key", flat=True)[:10]),
        })
    by, deleted = _requester(request), 0
    while True:
        keys = list(under.order_by("key").values_list("key", flat=True)[:DELETE_BATCH])
        if not keys:
            break
        objects.delete_objects(bucket, keys, by=by)
        deleted += len(keys)
    messages.success(request, f"Deleted the folder {prefix} ({deleted} object{'s' if deleted != 1 else ''}).")
    return redirect(bucket_url(bucket, _parent(prefix)))


@login_required
def object_upload(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """The upload URL: its PUTs are served before Django by
    buckets.upload_door (so a large body streams to disk); anything that
    reaches Django here is a method it does not take."""
    return HttpResponseNotAllowed(["PUT"])


# Notifications ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def bucket_notifications(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """The bucket's notification configuration as a form of entries; a save
    replaces the whole configuration through put_configuration, as
    PutBucketNotificationConfiguration does (and nothing changes when it
    refuses)."""
    bucket = get_bucket_for_user(request.user, account_id, name, write=request.method == "POST")
    formset = NotificationFormSet(request.POST or None, bucket=bucket, prefix="entry")
    if request.method == "POST" and formset.save():
        messages.success(request, f"Saved the notification configuration of {bucket.name}.")
        return redirect("bkt-notifications", bucket.team.account_id, bucket.name)
    return render(request, "buckets/notifications.html", {
        "bucket": bucket, "formset": formset, "can_write": can_write(request.user, bucket.team),
        "configuration": json.dumps(notifications.get_configuration(bucket), indent=2),
    })
