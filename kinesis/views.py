"""The console's Kinesis pages: the streams list (with a create form), a
stream's page (shards, put a record, reshard, delete) and a shard's
records, browsed from a position with paging. They call the same
operations as the API (kinesis.streams, kinesis.records); a refusal is
shown next to the form in Kinesis's words."""

from __future__ import annotations

import base64
from datetime import UTC

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from awsapi.protocols import ServiceError
from functions import team_lists
from functions.access import can_write, get_team_object_for_user
from kinesis import records, streams
from kinesis.forms import BrowseForm, PutForm, ReshardForm, RetentionForm, StreamForm
from kinesis.models import Stream

PAGE = 25


def get_stream_for_user(user, stream_id, *, write: bool = False) -> Stream:
    """404 to a stranger, 403 to a read-only member on a change."""
    return get_team_object_for_user(Stream.objects.select_related("team"), stream_id, user,
                                    write=write, what="stream")


def _create_stream(form: StreamForm) -> Stream | None:
    data = form.cleaned_data
    count = streams.ON_DEMAND_SHARDS if data["mode"] == "ON_DEMAND" else data["shard_count"]
    try:
        return streams.create(data["team"], data["name"], count, data["mode"])
    except ServiceError as e:
        form.add_error("name" if e.code == "ResourceInUseException" else None, e.message)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def stream_list(request: HttpRequest) -> HttpResponse:
    return team_lists.list_page(
        request, what="stream", form_class=StreamForm, create=_create_stream,
        url=lambda stream: reverse("kin-stream-detail", args=[stream.id]),
        rows=lambda teams: (Stream.objects.filter(team__in=teams).select_related("team")
                            .annotate(open_shards=Count("shards", filter=Q(shards__closed_at__isnull=True)))),
        template="kinesis/stream_list.html",
    )


def _render_stream(request: HttpRequest, stream: Stream, partial: bool = False, **forms) -> HttpResponse:
    shards = streams.kept_shards(stream).annotate(record_count=Count("records"))
    ctx = {
        "stream": stream,
        "shards": [(s, int(s.hash_start), int(s.hash_end)) for s in shards],
        "can_write": can_write(request.user, stream.team),
        "put_form": forms.get("put_form") or PutForm(),
        "retention_form": forms.get("retention_form") or RetentionForm(
            initial={"hours": stream.retention_hours}),
        "reshard_form": forms.get("reshard_form") or ReshardForm(
            initial={"target": len(streams.open_shards(stream))}),
    }
    template = "kinesis/stream_detail.html#shards" if partial else "kinesis/stream_detail.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def stream_detail(request: HttpRequest, stream_id) -> HttpResponse:
    return _render_stream(request, get_stream_for_user(request.user, stream_id), bool(request.htmx))


@login_required
@require_POST
def stream_put(request: HttpRequest, stream_id) -> HttpResponse:
    stream = get_stream_for_user(request.user, stream_id, write=True)
    form = PutForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = records.entry(data["partition_key"], data["data"].encode(),
                                  data["explicit_hash_key"] or None)
            ((shard, row),) = records.put(stream, [entry])
        except ServiceError as e:
            form.add_error(None, e.message)
        else:
            messages.success(request, f"Put record {row.sequence_number} into {shard.shard_id}.")
            return redirect("kin-stream-detail", stream.id)
    return _render_stream(request, stream, put_form=form)


@login_required
@require_POST
def stream_reshard(request: HttpRequest, stream_id) -> HttpResponse:
    stream = get_stream_for_user(request.user, stream_id, write=True)
    form = ReshardForm(request.POST)
    if form.is_valid():
        try:
            before = streams.reshard(stream, form.cleaned_data["target"])
        except ServiceError as e:
            form.add_error("target", e.message)
        else:
            target = form.cleaned_data["target"]
            messages.success(request, f"Resharded from {before} to {target} open shards.")
            return redirect("kin-stream-detail", stream.id)
    return _render_stream(request, stream, reshard_form=form)


@login_required
@require_POST
def stream_retention(request: HttpRequest, stream_id) -> HttpResponse:
    """Increase/DecreaseStreamRetentionPeriod, whichever the new value is."""
    stream = get_stream_for_user(request.user, stream_id, write=True)
    form = RetentionForm(request.POST)
    if form.is_valid():
        hours = form.cleaned_data["hours"]
        try:
            streams.set_retention(stream, hours, increase=hours >= stream.retention_hours)
        except ServiceError as e:
            form.add_error("hours", e.message)
        else:
            messages.success(request, f"Records are now kept {hours} hours.")
            return redirect("kin-stream-detail", stream.id)
    return _render_stream(request, stream, retention_form=form)


@login_required
@require_POST
def stream_delete(request: HttpRequest, stream_id) -> HttpResponse:
    stream = get_stream_for_user(request.user, stream_id, write=True)
    streams.delete(stream)
    messages.success(request, f"Deleted the stream {stream.name} and its records.")
    return redirect("kin-stream-list")


def shown(data: bytes) -> tuple[str, bool]:
    """A record's data as text when it is UTF-8, else base64 (True)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), True


@login_required
@require_GET
def shard_records(request: HttpRequest, stream_id, shard_id: str) -> HttpResponse:
    stream = get_stream_for_user(request.user, stream_id)
    shard = streams.shard_by_id(stream, shard_id)
    if shard is None:
        raise Http404("No such shard.")
    form = BrowseForm(request.GET or None)
    rows, at_end, error = [], True, None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {"position": "TRIM_HORIZON", "after": None}
        try:
            if data.get("after") is not None:
                after = data["after"]
            else:
                at = data.get("at")
                after = records.start_after(stream, shard, data["position"], data.get("sequence_number"),
                                            at.replace(tzinfo=UTC) if at and at.tzinfo is None else at)
            rows, at_end = records.read(stream, shard, after, PAGE)
        except ServiceError as e:
            error = e.message
    ctx = {
        "stream": stream, "shard": shard, "form": form, "error": error, "at_end": at_end,
        "rows": [(r, *shown(bytes(r.data))) for r in rows],
        "next_after": rows[-1].id if rows else None,
    }
    template = "kinesis/shard_records.html#records" if request.htmx else "kinesis/shard_records.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response
