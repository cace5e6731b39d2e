"""The console's DynamoDB pages: the tables list (with a create form), a
table's page (key schema, secondary indexes, stream and time-to-live
settings, the mappings reading its stream, and its items: scanned or
queried a page at a time, with a "next page" that carries
LastEvaluatedKey), and an item's add / edit form in typed or plain JSON.

Thin: access goes through tables.access, tables through tables.schema and
tables.ttl, reads through tables.reads, and every item write through
tables.items (put_item / delete_item), the one write path the DynamoDB API
uses too, so indexes and stream records stay right and a mapped function
runs. A refused form re-renders with DynamoDB's words next to its field
and nothing stored.

Also the Triggers tab's "Map a DynamoDB stream" section (registered in
TablesConfig.ready()), saved through mappings.configure."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from awsapi.protocols import ServiceError
from functions import team_lists
from functions.access import can_write, get_function_for_user
from functions.models import Function
from mappings.models import EventSourceMapping
from tables import expressions, items, reads, schema, ttl, values, wire
from tables.access import get_table_for_user
from tables.expression_input import Expressions
from tables.forms import ItemForm, QueryForm, StreamMappingForm, StreamSettingForm, TableForm, TtlForm
from tables.models import Table
from triggers import tab

PAGE = 25
# Longest text shown of an item's other attributes in the list.
SHOWN_CHARS = 300


def table_url(table: Table, name: str = "tbl-detail") -> str:
    return reverse(name, args=[table.team.account_id, table.name])


def _plain_text(value: dict) -> str:
    """A typed value as the list shows it: S and N as their text, others as JSON."""
    kind = wire.type_of(value)
    if kind in ("S", "N"):
        return value[kind]
    return json.dumps(value, ensure_ascii=False)


# Tables ---------------------------------------------------------------------------


def _create_table(form: TableForm) -> Table | None:
    try:
        return schema.create_table(form.cleaned_data["team"], form.params())
    except ServiceError as e:
        on_name = e.code == "ResourceInUseException" or "tableName" in e.message
        form.add_error("name" if on_name else None, e.message)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def table_list(request: HttpRequest) -> HttpResponse:
    return team_lists.list_page(
        request, what="table", form_class=TableForm, create=_create_table, url=table_url,
        rows=lambda teams: (Table.objects.filter(team__in=teams).select_related("team")
                            .order_by("name", "team__name")),
        template="tables/list.html",
    )


def _indexes(table: Table) -> list[dict]:
    return [
        {
            "name": i.name, "kind": i.kind, "hash": i.key_names()[0], "range": i.key_names()[1],
            "projection": i.projection.get("ProjectionType"),
            "non_key": i.projection.get("NonKeyAttributes") or [],
        }
        for i in table.indexes.all()
    ]


def _mappings(table: Table) -> list[EventSourceMapping]:
    """The mappings reading any of the table's streams (the current one and
    older ones still kept)."""
    return list(EventSourceMapping.objects.filter(event_source_arn__startswith=f"{table.arn}/stream/")
                .select_related("function").order_by("created_at"))


def _browse(table: Table, form: QueryForm, start: dict | None) -> dict:
    """One page of the table's (or index's) items: Query when a partition
    key value was given, else Scan. {rows, next_start, error}."""
    out = {"rows": [], "next_start": None, "error": None, "query": False}
    if not form.is_valid():
        return out
    params = {**form.cleaned_data["params"], "Limit": PAGE}
    if start is not None:
        params["ExclusiveStartKey"] = start
    out["query"] = form.cleaned_data["query"]
    try:
        if out["query"]:
            page = reads.query(table, params, Expressions(params))
        else:
            page = reads.scan(table, params, Expressions(params))
    except ServiceError as e:
        out["error"] = e.message
        return out
    key_names = [n for n in table.key_names() if n]
    for shown in (wire.typed_in(i) for i in page.get("Items", [])):
        key = {n: shown[n] for n in key_names}
        rest = {n: v for n, v in shown.items() if n not in key_names}
        text = json.dumps(rest, ensure_ascii=False)
        out["rows"].append({
            "key_cells": [_plain_text(key[n]) for n in key_names],
            "rest": text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…",
            "key_json": json.dumps(key, ensure_ascii=False),
            "edit_url": table_url(table, "tbl-item-edit") + "?" + urlencode({"key": json.dumps(key)}),
        })
    if "LastEvaluatedKey" in page:
        out["next_start"] = json.dumps(wire.typed_in(page["LastEvaluatedKey"]), ensure_ascii=False)
    return out


def _start_key(request: HttpRequest) -> dict | None:
    text = request.GET.get("start")
    if not text:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def _render_table(request: HttpRequest, table: Table, status: int = 200, **forms) -> HttpResponse:
    query = {k: v for k, v in request.GET.items() if k in QueryForm.base_fields}
    form = QueryForm(query, table=table)
    browsed = _browse(table, form, _start_key(request))
    next_url = None
    if browsed["next_start"]:
        next_url = table_url(table) + "?" + urlencode({**query, "start": browsed["next_start"]})
    hash_name, range_name = table.key_names()
    types = {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}
    ctx = {
        "table": table, "hash_name": hash_name, "range_name": range_name,
        "hash_type": types.get(hash_name), "range_type": types.get(range_name),
        "key_names": [n for n in (hash_name, range_name) if n],
        # No ItemCount: counting a large table on every page would read all of it.
        "indexes": _indexes(table),
        "mappings": _mappings(table), "ttl": ttl.describe(table),
        "can_write": can_write(request.user, table.team),
        "query_form": form, "browsed": browsed, "next_url": next_url, "paged": "start" in request.GET,
        "stream_form": forms.get("stream_form") or StreamSettingForm(
            initial={"stream_view_type": "NEW_AND_OLD_IMAGES"}),
        "ttl_form": forms.get("ttl_form") or TtlForm(initial={"attribute": table.ttl_attribute}),
    }
    template = "tables/detail.html#items" if request.htmx and not forms else "tables/detail.html"
    response = render(request, template, ctx, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def table_detail(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    return _render_table(request, get_table_for_user(request.user, account_id, name))


@login_required
@require_POST
def table_delete(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    table = get_table_for_user(request.user, account_id, name, write=True)
    try:
        schema.delete_table(table)
    except ServiceError as e:
        messages.error(request, e.message)
        return redirect(table_url(table))
    messages.success(request, f"Deleted the table {table.name} and its items.")
    return redirect("tbl-list")


@login_required
@require_POST
def table_stream(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """Turn the table's stream on (with a view type: a new stream, a new
    ARN, as UpdateTable does) or off."""
    table = get_table_for_user(request.user, account_id, name, write=True)
    if request.POST.get("enabled") == "false":
        spec = {"StreamEnabled": False}
    else:
        form = StreamSettingForm(request.POST)
        if not form.is_valid():
            return _render_table(request, table, status=400, stream_form=form)
        spec = {"StreamEnabled": True, "StreamViewType": form.cleaned_data["stream_view_type"]}
    try:
        schema.update_table(table, {"StreamSpecification": spec})
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        state = "on" if spec["StreamEnabled"] else "off"
        messages.success(request, f"Turned the stream of {table.name} {state}.")
    return redirect(table_url(table))


@login_required
@require_POST
def table_ttl(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """UpdateTimeToLive: on with an attribute, or off."""
    table = get_table_for_user(request.user, account_id, name, write=True)
    if request.POST.get("enabled") == "false":
        spec = {"Enabled": False, "AttributeName": table.ttl_attribute}
    else:
        form = TtlForm(request.POST)
        if not form.is_valid():
            return _render_table(request, table, status=400, ttl_form=form)
        spec = {"Enabled": True, "AttributeName": form.cleaned_data["attribute"]}
    try:
        ttl.update(table, spec)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, f"Time to live is {'on' if spec['Enabled'] else 'off'} for {table.name}.")
    return redirect(table_url(table))


# Items -------------------------------------------------------------------------------


def _key_condition(table: Table, exists: bool):
    """attribute_exists / attribute_not_exists of the partition key: an add
    never replaces an item (an edit saves with items.Unchanged instead)."""
    function = "attribute_exists" if exists else "attribute_not_exists"
    return expressions.condition(f"{function}(#k)", {"#k": table.key_names()[0]}, {})


def _key_from(text: str | None, table: Table) -> dict:
    """The item key named in a URL or form (typed JSON), or 404."""
    try:
        key = json.loads(text or "")
    except json.JSONDecodeError:
        raise Http404("No such item.") from None
    if not isinstance(key, dict):
        raise Http404("No such item.")
    return key


def _same(a, b) -> bool:
    """Two key values equal as DynamoDB compares them (1 and 1.0 alike)."""
    try:
        return values.equal(a, b)
    except (TypeError, ValueError, KeyError):
        return a == b


def _item_page(request, table, form, key=None, status=200, loaded="") -> HttpResponse:
    return render(request, "tables/item_form.html", {
        "table": table, "form": form, "key": key, "key_json": json.dumps(key) if key else None,
        "key_names": [n for n in table.key_names() if n], "loaded": loaded,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def item_new(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    table = get_table_for_user(request.user, account_id, name, write=True)
    if request.method == "GET":
        example = {n: {t: "" if t != "N" else "0"} for n, t in (
            (d["AttributeName"], d["AttributeType"]) for d in table.attribute_definitions
        ) if n in table.key_names()}
        form = ItemForm(initial={"item": json.dumps(example, indent=2)})
        return _item_page(request, table, form)
    form = ItemForm(request.POST)
    if form.is_valid():
        try:
            items.put_item(table, form.cleaned_data["typed"], _key_condition(table, exists=False))
        except items.ConditionFailed:
            form.add_error("item", "An item with this key exists already: edit it instead.")
        except ServiceError as e:
            form.add_error("item", e.message)
        else:
            messages.success(request, f"Added the item to {table.name}.")
            return redirect(table_url(table))
    return _item_page(request, table, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def item_edit(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    """Replace an item (PutItem) with the JSON given; its key stays. The
    form carries the digest of the item it showed (`loaded`) and the save
    is conditional on it (items.Unchanged): a change made meanwhile is
    reported, not overwritten, and nothing is written."""
    writing = request.method == "POST"
    table = get_table_for_user(request.user, account_id, name, write=writing)
    key = _key_from(request.POST.get("key") if writing else request.GET.get("key"), table)
    try:
        current = reads.get_item(table, key)
    except ServiceError:
        current = None
    if current is None:
        raise Http404("No such item.")
    if not writing:
        if not can_write(request.user, table.team):
            raise PermissionDenied("Your role in this team is read-only.")
        form = ItemForm(initial={"item": json.dumps(current, indent=2, ensure_ascii=False)})
        return _item_page(request, table, form, key, loaded=items.digest(current))
    # The item as the form showed it: the save holds only if it is still so.
    loaded = request.POST.get("loaded", "")
    form = ItemForm(request.POST)
    if form.is_valid():
        new = form.cleaned_data["typed"]
        changed = [n for n in key if n in new and not _same(new[n], key[n])]
        if changed:
            form.add_error("item", f"The key attribute {changed[0]} can't change: add a new item instead.")
        else:
            try:
                items.put_item(table, new, items.Unchanged(loaded))
            except items.ConditionFailed as e:
                form.add_error(None, "This item was deleted meanwhile." if e.old is None else
                               "This item changed since you opened it; reload to see the current version.")
            except ServiceError as e:
                form.add_error("item", e.message)
            else:
                messages.success(request, f"Saved the item in {table.name}.")
                return redirect(table_url(table))
    return _item_page(request, table, form, key, status=400, loaded=loaded)


@login_required
@require_POST
def item_delete(request: HttpRequest, account_id: str, name: str) -> HttpResponse:
    table = get_table_for_user(request.user, account_id, name, write=True)
    key = _key_from(request.POST.get("key"), table)
    try:
        old = items.delete_item(table, key)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        if old is None:
            messages.error(request, "That item was not there (deleted meanwhile?).")
        else:
            messages.success(request, f"Deleted the item {', '.join(_plain_text(v) for v in key.values())}.")
    return redirect(table_url(table))


# The Triggers tab ------------------------------------------------------------------


def stream_section(fn: Function, request: HttpRequest) -> dict:
    form = StreamMappingForm(function=fn)
    return {"stream_mapping_form": form, "has_streams": len(form.fields["stream"].choices) > 1}


@login_required
@require_POST
def map_stream(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = StreamMappingForm(request.POST, function=fn)
    mapping = form.save()
    if mapping is None:
        return tab.render_tab(request, fn, refused=True, stream_mapping_form=form, open_form="stream")
    table_name = mapping.event_source_arn.split(":table/")[1].split("/")[0]
    return tab.added(request, fn, f"{fn.name} now reads the stream of {table_name}.")
