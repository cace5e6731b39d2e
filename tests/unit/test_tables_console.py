"""The console's table pages: the list and its create form, a table's page
(key schema, indexes, stream, time to live, items scanned and queried a
page at a time), items added, edited and deleted as typed or plain JSON
through tables.items (so stream records follow), and the Triggers tab's
form mapping a table's stream to a function. 404 to strangers, 403 to
read-only members, 405 on wrong methods; a refused form stores nothing."""

import json
import re

import pytest
from django.urls import reverse

from mappings.models import EventSourceMapping
from tables import schema
from tables.models import Item, StreamRecord, Table

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def table(team):
    return schema.create_table(team, {
        "TableName": "orders",
        "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                      {"AttributeName": "placed", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "customer", "AttributeType": "S"},
                                 {"AttributeName": "placed", "AttributeType": "N"},
                                 {"AttributeName": "status", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{
            "IndexName": "by-status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                          {"AttributeName": "placed", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["total"]},
        }],
        "LocalSecondaryIndexes": [{
            "IndexName": "by-customer-status",
            "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                          {"AttributeName": "status", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    })


def url(name, table, query=""):
    return reverse(name, args=[table.team.account_id, table.name]) + query


def add(client, table, item, plain=False):
    data = {"item": json.dumps(item)}
    if plain:
        data["plain"] = "on"
    return client.post(url("tbl-item-new", table), data)


def edit(client, table, key, item, loaded=None):
    """Save the edit form as a browser does: with the `loaded` digest the
    form carried when it was opened (opened now unless given)."""
    if loaded is None:
        loaded = opened(client, table, key)
    return client.post(url("tbl-item-edit", table), {"key": key, "item": item, "loaded": loaded})


def opened(client, table, key) -> str:
    """The edit form's hidden `loaded` value, as the page gives it."""
    page = client.get(url("tbl-item-edit", table, "?key=" + key)).content.decode()
    return re.search(r'name="loaded" value="([0-9a-f]+)"', page).group(1)


def order(customer, placed, **more):
    return {"customer": {"S": customer}, "placed": {"N": str(placed)}, **more}


def stored(table):
    return sorted((json.loads(d) for d in Item.objects.filter(table=table).values_list("data", flat=True)),
                  key=lambda i: (i["customer"]["S"], float(i["placed"]["N"])))


def events(table):
    return list(StreamRecord.objects.filter(table=table).order_by("id").values_list("event_name", flat=True))


def writes(table):
    return [url(n, table) for n in ("tbl-delete", "tbl-stream", "tbl-ttl", "tbl-item-new",
                                    "tbl-item-edit", "tbl-item-delete")]


# Access ------------------------------------------------------------------------------


def test_it_sends_strangers_to_the_login_page(client, table):
    assert client.get(reverse("tbl-list")).status_code == 302
    assert client.get(url("tbl-detail", table)).status_code == 302


def test_it_hides_tables_from_outsiders(client, users, table):
    client.force_login(users["outsider"])
    assert "orders" not in client.get(reverse("tbl-list")).content.decode()
    assert client.get(url("tbl-detail", table)).status_code == 404
    for target in writes(table):
        assert client.post(target, {"key": "{}"}).status_code == 404, target
    assert Table.objects.count() == 1


def test_it_forbids_changes_to_read_only_members(client, users, team, table):
    client.force_login(users["reader"])
    page = client.get(url("tbl-detail", table)).content.decode()
    assert "orders" in page and "Add item" not in page and "Turn stream off" not in page
    key = json.dumps({"customer": {"S": "ann"}, "placed": {"N": "1"}})
    for target in writes(table):
        assert client.post(target, {"key": key, "item": "{}", "enabled": "false"}).status_code == 403, target
    assert client.get(url("tbl-item-new", table)).status_code == 403
    response = client.post(reverse("tbl-list"), {"team": team.pk, "name": "nope", "partition_key": "id",
                                                 "partition_type": "S", "sort_type": "S"})
    assert response.status_code == 403
    assert "Create a table" not in client.get(reverse("tbl-list")).content.decode()
    table.refresh_from_db()
    assert Table.objects.count() == 1 and table.stream_view_type == "NEW_AND_OLD_IMAGES"


def test_it_answers_405_to_wrong_methods(client, users, table, make_function):
    client.force_login(users["member"])
    for name in ("tbl-delete", "tbl-stream", "tbl-ttl", "tbl-item-delete"):
        assert client.get(url(name, table)).status_code == 405, name
    assert client.post(url("tbl-detail", table)).status_code == 405
    assert client.put(reverse("tbl-list")).status_code == 405
    fn = make_function("reader")
    assert client.get(reverse("tbl-fn-map-stream", args=[fn.id])).status_code == 405


def test_it_puts_tables_in_the_navigation(client, users):
    client.force_login(users["member"])
    assert reverse("tbl-list").encode() in client.get(reverse("fn-list")).content


# Tables --------------------------------------------------------------------------------


def test_it_creates_a_table_with_a_sort_key_and_a_stream(client, users, team):
    client.force_login(users["member"])
    response = client.post(reverse("tbl-list"), {
        "team": team.pk, "name": "events", "partition_key": "id", "partition_type": "S",
        "sort_key": "at", "sort_type": "N", "stream_view_type": "NEW_IMAGE",
    })
    table = Table.objects.get(name="events")
    assert response.status_code == 302 and response.url == url("tbl-detail", table)
    assert table.key_names() == ("id", "at")
    assert table.billing_mode == "PAY_PER_REQUEST" and table.stream_view_type == "NEW_IMAGE"
    page = client.get(response.url).content.decode()
    assert "Created the table events." in page and table.stream_arn in page


def test_it_refuses_a_bad_or_taken_name_next_to_the_field(client, users, team, table):
    client.force_login(users["member"])
    base = {"team": team.pk, "partition_key": "id", "partition_type": "S", "sort_type": "S"}
    page = client.post(reverse("tbl-list"), {**base, "name": "a b"})
    assert page.status_code == 200
    assert "satisfy regular expression pattern" in page.content.decode()
    page = client.post(reverse("tbl-list"), {**base, "name": "orders"})
    assert "Table already exists: orders" in page.content.decode()
    same = client.post(reverse("tbl-list"), {**base, "name": "twin", "sort_key": "id"})
    assert "same name" in same.content.decode()
    assert list(Table.objects.values_list("name", flat=True)) == ["orders"]


def test_the_table_page_shows_keys_indexes_stream_and_ttl(client, users, table):
    client.force_login(users["reader"])
    page = client.get(url("tbl-detail", table)).content.decode()
    for text in ("customer", "placed", "Partition (HASH)", "Sort (RANGE)", "by-status", "Global",
                 "by-customer-status", "Local", "INCLUDE", "KEYS_ONLY", "NEW_AND_OLD_IMAGES",
                 table.stream_arn, "Time to live"):
        assert text in page, text


def test_it_turns_the_stream_off_and_on_with_a_new_arn(client, users, table):
    client.force_login(users["member"])
    first = table.stream_arn
    client.post(url("tbl-stream", table), {"enabled": "false"})
    table.refresh_from_db()
    assert table.stream_view_type == ""
    page = client.post(url("tbl-stream", table), {"enabled": "true", "stream_view_type": "WHATEVER"})
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
    table.refresh_from_db()
    assert table.stream_view_type == ""
    client.post(url("tbl-stream", table), {"enabled": "true", "stream_view_type": "KEYS_ONLY"})
    table.refresh_from_db()
    assert table.stream_view_type == "KEYS_ONLY" and table.stream_arn != first


def test_it_sets_time_to_live(client, users, table):
    client.force_login(users["member"])
    client.post(url("tbl-ttl", table), {"enabled": "true", "attribute": "expires"})
    table.refresh_from_db()
    assert table.ttl_enabled and table.ttl_attribute == "expires"
    assert "attribute <code>expires</code>" in client.get(url("tbl-detail", table)).content.decode()
    client.post(url("tbl-ttl", table), {"enabled": "false"})
    table.refresh_from_db()
    assert not table.ttl_enabled


def test_it_deletes_a_table(client, users, table):
    client.force_login(users["member"])
    response = client.post(url("tbl-delete", table))
    assert response.status_code == 302 and response.url == reverse("tbl-list")
    assert not Table.objects.exists()


# Items ---------------------------------------------------------------------------------


def test_it_adds_an_item_in_typed_json_with_its_stream_record(client, users, table):
    client.force_login(users["member"])
    response = add(client, table, order("ann", 1, total={"N": "9.990"}, status={"S": "new"}))
    assert response.status_code == 302
    assert stored(table) == [order("ann", 1, total={"N": "9.99"}, status={"S": "new"})]
    record = StreamRecord.objects.get(table=table)
    assert record.event_name == "INSERT" and json.loads(record.new_image)["total"] == {"N": "9.99"}
    # The global index holds it: a query on the index finds it.
    page = client.get(url("tbl-detail", table, "?index=by-status&pk=new")).content.decode()
    assert "ann" in page and "9.99" in page


def test_it_converts_plain_json_when_asked(client, users, table):
    client.force_login(users["member"])
    item = {"customer": "bob", "placed": 2, "paid": True, "note": None, "lines": [1.5, "x"], "m": {"a": "b"}}
    assert add(client, table, item, plain=True).status_code == 302
    assert stored(table) == [order(
        "bob", 2, paid={"BOOL": True}, note={"NULL": True}, lines={"L": [{"N": "1.5"}, {"S": "x"}]},
        m={"M": {"a": {"S": "b"}}},
    )]


TYPED, PLAIN = False, True


@pytest.mark.parametrize("plain, text, message", [
    (TYPED, '{"customer": {"S": "ann"}', "Not valid JSON"),
    (TYPED, '["x"]', "An item is a JSON object"),
    (TYPED, '{"customer": "ann", "placed": {"N": "1"}}', "is not a typed value"),
    (TYPED, '{"customer": {"S": "ann"}, "placed": {"N": "one"}}', "numeric value"),
    (TYPED, '{"customer": {"S": "ann"}}', "Missing the key placed in the item"),
    (TYPED, '{"customer": {"N": "1"}, "placed": {"N": "1"}}', "Type mismatch for key customer"),
    (TYPED, '{"customer": {"S": "ann"}, "placed": {"N": "1"}, "status": {"N": "3"}}', "Type mismatch"),
    (TYPED, '{"customer": {"S": "ann"}, "placed": {"N": "1"}, "x": NaN}', "NaN is not a JSON number"),
    (TYPED, '{"customer": {"S": "ann"}, "placed": {"N": "1"}, "x": {"N": "1E+200"}}', "Number overflow"),
    (PLAIN, '{"customer": "ann", "placed": 1, "x": 1.234567890123456789012345678901234567890}',
     "more than 38 significant digits"),
    (PLAIN, '{"customer": "ann", "placed": 1, "x": 1e999}', "outside DynamoDB's range"),
    (PLAIN, '{"customer": "ann"}', "Missing the key placed in the item"),
    # Found by test_fuzz_api_streams.py: a lone surrogate reached the key's encoding (a 500).
    (PLAIN, '{"customer": "\\ud800", "placed": 1}', "The text at customer is not valid Unicode"),
    (TYPED, '{"customer": {"S": "a"}, "placed": {"N": "1"}, "\\udfff": {"S": "x"}}',
     "The text at \\udfff is not valid Unicode"),
])
def test_it_refuses_bad_json_or_a_bad_item_next_to_the_field(client, users, table, plain, text, message):
    client.force_login(users["member"])
    page = client.post(url("tbl-item-new", table), {"item": text, **({"plain": "on"} if plain else {})})
    assert page.status_code == 400
    body = page.content.decode()
    assert message in body.replace("&#x27;", "'"), body[body.find('class="error"'):][:300]
    assert 'has-error' in body
    assert not Item.objects.exists() and not StreamRecord.objects.exists()


def test_adding_never_replaces_an_item(client, users, table):
    client.force_login(users["member"])
    add(client, table, order("ann", 1, v={"S": "first"}))
    page = add(client, table, order("ann", 1, v={"S": "second"}))
    assert "exists already" in page.content.decode()
    assert stored(table) == [order("ann", 1, v={"S": "first"})]
    assert StreamRecord.objects.count() == 1


def test_it_edits_an_item_keeping_its_key(client, users, table):
    client.force_login(users["member"])
    add(client, table, order("ann", 1, v={"S": "first"}))
    key = json.dumps(order("ann", 1))
    form = client.get(url("tbl-item-edit", table, "?key=" + key))
    assert form.status_code == 200 and "first" in form.content.decode()
    page = edit(client, table, key, json.dumps(order("ann", 2)))
    assert "The key attribute placed can&#x27;t change" in page.content.decode()
    # The same number written otherwise is the same key.
    same_key = {"customer": {"S": "ann"}, "placed": {"N": "1.00"}, "v": {"S": "second"}}
    response = edit(client, table, key, json.dumps(same_key))
    assert response.status_code == 302
    assert stored(table) == [order("ann", 1, v={"S": "second"})]
    assert events(table) == ["INSERT", "MODIFY"]


def test_an_edit_never_overwrites_a_change_made_after_the_form_opened(client, users, table, ddb):
    """Optimistic concurrency: the form carries the item as it showed it;
    if the stored item differs when saved, nothing is written and the form
    says so; reloading gives the current item and a save that works."""
    client.force_login(users["member"])
    add(client, table, order("ann", 1, v={"S": "first"}))
    key = json.dumps(order("ann", 1))
    loaded = opened(client, table, key)
    ddb.update_item(
        TableName="orders", Key=order("ann", 1), UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "by the API"}},
    )
    page = edit(client, table, key, json.dumps(order("ann", 1, v={"S": "from the form"})), loaded)
    assert page.status_code == 400
    assert ("This item changed since you opened it; reload to see the current version."
            in page.content.decode())
    assert stored(table) == [order("ann", 1, v={"S": "by the API"})]
    assert events(table) == ["INSERT", "MODIFY"]
    # The page re-rendered with the stale digest: saving it again still refuses.
    assert f'value="{loaded}"' in page.content.decode()
    assert edit(client, table, key, json.dumps(order("ann", 1)), loaded).status_code == 400
    # A form without the digest (or a forged one) writes nothing either.
    assert edit(client, table, key, json.dumps(order("ann", 1)), "").status_code == 400
    assert stored(table) == [order("ann", 1, v={"S": "by the API"})]
    # Reloaded: the current version is shown and its save goes through.
    assert "by the API" in client.get(url("tbl-item-edit", table, "?key=" + key)).content.decode()
    assert edit(client, table, key, json.dumps(order("ann", 1, v={"S": "from the form"}))).status_code == 302
    assert stored(table) == [order("ann", 1, v={"S": "from the form"})]


def test_editing_a_missing_item_is_404(client, users, table):
    client.force_login(users["member"])
    key = json.dumps(order("nobody", 1))
    assert client.get(url("tbl-item-edit", table, "?key=" + key)).status_code == 404
    assert client.get(url("tbl-item-edit", table, "?key=notjson")).status_code == 404
    assert client.get(url("tbl-item-edit", table, '?key={"x": {"S": "y"}}')).status_code == 404


def test_it_deletes_an_item_with_a_remove_record(client, users, table):
    client.force_login(users["member"])
    add(client, table, order("ann", 1))
    response = client.post(url("tbl-item-delete", table), {"key": json.dumps(order("ann", 1))})
    assert response.status_code == 302 and not Item.objects.exists()
    assert events(table) == ["INSERT", "REMOVE"]


def test_boto3_reads_what_the_console_wrote_and_its_stream(client, users, table, ddb, ddbs):
    """The console and the API share one store and one stream: an item added,
    edited and deleted in the console is what GetItem and GetRecords see."""
    client.force_login(users["member"])
    add(client, table, {"customer": "ann", "placed": 7, "total": 12.5, "tags": ["a"]}, plain=True)
    got = ddb.get_item(TableName="orders", Key=order("ann", 7))["Item"]
    assert got == order("ann", 7, total={"N": "12.5"}, tags={"L": [{"S": "a"}]})
    key = json.dumps(order("ann", 7))
    edited = json.dumps(order("ann", 7, total={"N": "13"}))
    assert edit(client, table, key, edited).status_code == 302
    assert client.post(url("tbl-item-delete", table), {"key": key}).status_code == 302
    assert "Item" not in ddb.get_item(TableName="orders", Key=order("ann", 7))
    shard = ddbs.describe_stream(StreamArn=table.stream_arn)["StreamDescription"]["Shards"][0]
    iterator = ddbs.get_shard_iterator(StreamArn=table.stream_arn, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    found = ddbs.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in found] == ["INSERT", "MODIFY", "REMOVE"]
    assert found[1]["dynamodb"]["OldImage"]["total"] == {"N": "12.5"}
    assert found[1]["dynamodb"]["NewImage"]["total"] == {"N": "13"}
    assert found[2]["dynamodb"]["Keys"] == order("ann", 7)


# Browse and query ------------------------------------------------------------------------


@pytest.fixture
def many(client, users, table):
    client.force_login(users["member"])
    for n in range(30):
        status = {"S": "odd" if n % 2 else "even"}
        assert add(client, table, order("ann", n, status=status)).status_code == 302
    assert add(client, table, order("bob", 1)).status_code == 302
    return table


def placed_shown(page: str) -> list[int]:
    """The sort key cells of the items list, in order."""
    body = page.split('class="list items-list"', 1)[1].split("</table>", 1)[0]
    cells = [row.split("<td><code>")[2].split("</code>")[0] for row in body.split("<tr>")[2:]]
    return [int(c) for c in cells]


def test_it_scans_a_page_at_a_time(client, many):
    first = client.get(url("tbl-detail", many), **HX).content.decode()
    assert "<html" not in first  # the partial
    assert first.count("Edit</a>") == 25 and "Next page" in first
    next_url = first.split('class="next-page" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = client.get(next_url, **HX).content.decode()
    assert second.count("Edit</a>") == 6 and "Next page" not in second


def test_it_queries_by_key_with_a_sort_condition_and_order(client, many):
    query = "?pk=ann&sk_op=BETWEEN&sk=3&sk2=6&order=backward"
    page = client.get(url("tbl-detail", many, query)).content.decode()
    assert placed_shown(page) == [6, 5, 4, 3]
    page = client.get(url("tbl-detail", many, "?pk=ann&sk_op=%3E%3D&sk=10")).content.decode()
    assert placed_shown(page)[:3] == [10, 11, 12] and "Next page" not in page  # 20 items
    page = client.get(url("tbl-detail", many, "?pk=bob")).content.decode()
    assert placed_shown(page) == [1]


def test_it_queries_an_index_with_paging(client, many):
    page = client.get(url("tbl-detail", many, "?index=by-status&pk=odd")).content.decode()
    assert placed_shown(page) == list(range(1, 30, 2))
    page = client.get(url("tbl-detail", many, "?index=by-customer-status&pk=ann&sk_op=begins_with&sk=ev"))
    assert placed_shown(page.content.decode()) == list(range(0, 30, 2))


def test_a_bad_query_says_what_is_wrong_next_to_the_field(client, many):
    page = client.get(url("tbl-detail", many, "?pk=ann&sk_op=%3E&sk=ten")).content.decode()
    assert "numeric value" in page and "items-list" not in page
    page = client.get(url("tbl-detail", many, "?sk_op=%3E&sk=1")).content.decode()
    assert "Give the partition key value" in page
    page = client.get(url("tbl-detail", many, "?pk=ann&sk_op=BETWEEN&sk=9&sk2=1")).content.decode()
    assert "BETWEEN operator requires upper bound" in page
    assert client.get(url("tbl-detail", many, "?index=nope")).status_code == 200


# The Triggers tab -----------------------------------------------------------------------


def test_the_triggers_tab_maps_a_table_stream_to_a_function(client, users, table, make_function):
    fn = make_function("reader")
    client.force_login(users["member"])
    tab = client.get(reverse("trg-tab", args=[fn.id]), **HX).content.decode()
    assert "Read a DynamoDB stream" in tab and table.stream_arn in tab
    target = reverse("tbl-fn-map-stream", args=[fn.id])
    refused = client.post(target, {"stream": "", "batch_size": "100", "starting_position": "LATEST"}, **HX)
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    refused = client.post(target, {"stream": table.stream_arn, "batch_size": "20000",
                                   "starting_position": "LATEST"}, **HX)
    assert "BatchSize must be between 1 and 10000" in refused.content.decode()
    assert not EventSourceMapping.objects.exists()
    done = client.post(target, {"stream": table.stream_arn, "batch_size": "5",
                                "starting_position": "TRIM_HORIZON"}, **HX)
    body = done.content.decode()
    assert "reader now reads the stream of orders." in body and "DynamoDB stream" in body
    mapping = EventSourceMapping.objects.get()
    assert (mapping.kind, mapping.event_source_arn, mapping.batch_size, mapping.starting_position) == (
        "dynamodb", table.stream_arn, 5, "TRIM_HORIZON")
    again = client.post(target, {"stream": table.stream_arn, "batch_size": "5",
                                 "starting_position": "LATEST"}, **HX)
    assert "already exists" in again.content.decode() and EventSourceMapping.objects.count() == 1
    # The table's page names the function reading its stream.
    assert "reader</a> · Enabled" in client.get(url("tbl-detail", table)).content.decode()


def test_a_read_only_member_cannot_map_a_stream(client, users, table, make_function):
    fn = make_function("reader")
    client.force_login(users["reader"])
    response = client.post(reverse("tbl-fn-map-stream", args=[fn.id]),
                           {"stream": table.stream_arn, "batch_size": "5", "starting_position": "LATEST"})
    assert response.status_code == 403 and not EventSourceMapping.objects.exists()
