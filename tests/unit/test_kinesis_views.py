"""The console's stream pages: 404 to strangers, 403 to read-only members,
405 on wrong methods, the happy paths (create, put a record, reshard,
browse a shard by position with paging, delete); bad forms save nothing."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kinesis import records, streams
from kinesis.models import Record, Shard, Stream

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def stream(team):
    return streams.create(team, "clicks", 2)


def posts(stream):
    return [reverse(name, args=[stream.id]) for name in ("kin-stream-put", "kin-stream-reshard",
                                                          "kin-stream-retention", "kin-stream-delete")]


def shard_url(stream, shard_id="shardId-000000000000"):
    return reverse("kin-shard-records", args=[stream.id, shard_id])


def test_it_hides_streams_from_strangers(client, users, stream):
    client.force_login(users["outsider"])
    assert client.get(reverse("kin-stream-detail", args=[stream.id])).status_code == 404
    assert client.get(reverse("kin-stream-detail", args=[uuid.uuid4()])).status_code == 404
    assert client.get(shard_url(stream)).status_code == 404
    for url in posts(stream):
        assert client.post(url).status_code == 404, url
    assert "clicks" not in client.get(reverse("kin-stream-list")).content.decode()


def test_it_forbids_changes_to_read_only_members(client, users, stream, team):
    client.force_login(users["reader"])
    page = client.get(reverse("kin-stream-detail", args=[stream.id]))
    assert page.status_code == 200 and "Put a record" not in page.content.decode()
    assert client.get(shard_url(stream)).status_code == 200
    for url in posts(stream):
        answer = client.post(url, {"partition_key": "k", "data": "x", "target": "3", "hours": "48"})
        assert answer.status_code == 403, url
    assert client.post(reverse("kin-stream-list"), {"team": team.pk, "name": "x"}).status_code == 403
    assert Stream.objects.count() == 1 and Record.objects.count() == 0


def test_it_answers_405_to_wrong_methods(client, users, stream):
    client.force_login(users["member"])
    for url in posts(stream):
        assert client.get(url).status_code == 405, url
    assert client.post(reverse("kin-stream-detail", args=[stream.id])).status_code == 405
    assert client.post(shard_url(stream)).status_code == 405
    assert client.put(reverse("kin-stream-list")).status_code == 405


def test_it_sends_anonymous_users_to_log_in(client, stream):
    r = client.get(reverse("kin-stream-list"))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_the_nav_links_to_streams(client, users):
    client.force_login(users["member"])
    assert f'href="{reverse("kin-stream-list")}"' in client.get(reverse("fn-list")).content.decode()


def test_it_creates_streams_and_refuses_bad_ones(client, users, team):
    client.force_login(users["member"])
    r = client.post(reverse("kin-stream-list"), {"team": team.pk, "name": "orders", "mode": "PROVISIONED",
                                                 "shard_count": "3"})
    stream = Stream.objects.get(name="orders")
    assert r.status_code == 302 and r["Location"] == reverse("kin-stream-detail", args=[stream.id])
    assert Shard.objects.filter(stream=stream).count() == 3
    r = client.post(reverse("kin-stream-list"), {"team": team.pk, "name": "orders", "mode": "PROVISIONED",
                                                 "shard_count": "1"})
    assert "already exists" in r.content.decode()
    r = client.post(reverse("kin-stream-list"), {"team": team.pk, "name": "bad name", "mode": "PROVISIONED",
                                                 "shard_count": "1"})
    assert "letters, digits" in r.content.decode()
    client.post(reverse("kin-stream-list"), {"team": team.pk, "name": "od", "mode": "ON_DEMAND",
                                             "shard_count": "1"})
    assert Shard.objects.filter(stream__name="od").count() == 4
    listed = client.get(reverse("kin-stream-list")).content.decode()
    assert "orders" in listed and "od" in listed
    assert Stream.objects.count() == 2


def test_the_stream_page_shows_shards_and_their_records(client, users, stream):
    records.put(stream, [records.entry("a", b"1", "0"), records.entry("b", b"2", "0"),
                         records.entry("c", b"3", str(2**128 - 1))])
    client.force_login(users["member"])
    page = client.get(reverse("kin-stream-detail", args=[stream.id])).content.decode()
    assert "shardId-000000000000" in page and "shardId-000000000001" in page
    assert "170141183460469231731687303715884105727" in page  # the first shard's end
    assert stream.arn in page
    fragment = client.get(reverse("kin-stream-detail", args=[stream.id]), **HX).content.decode()
    assert "<html" not in fragment
    rows = {line.split("</code>")[0].rsplit(">", 1)[-1]: line for line in fragment.split('<tr id="')[1:]}
    assert "<td>2</td>" in rows["shardId-000000000000"] and "<td>1</td>" in rows["shardId-000000000001"]


def test_it_puts_a_record_from_the_form(client, users, stream):
    client.force_login(users["member"])
    url = reverse("kin-stream-put", args=[stream.id])
    r = client.post(url, {"partition_key": "user-1", "data": "héllo"})
    assert r.status_code == 302
    row = Record.objects.get()
    assert (row.partition_key, bytes(row.data)) == ("user-1", "héllo".encode())
    r = client.post(url, {"partition_key": "k", "data": "x", "explicit_hash_key": "-5"})
    assert "ExplicitHashKey" in r.content.decode()
    r = client.post(url, {"partition_key": "", "data": "x"})
    assert r.status_code == 200
    assert Record.objects.count() == 1


def test_it_reshards_from_the_form(client, users, stream):
    client.force_login(users["member"])
    url = reverse("kin-stream-reshard", args=[stream.id])
    assert client.post(url, {"target": "3"}).status_code == 302
    assert Shard.objects.filter(stream=stream, closed_at__isnull=True).count() == 3
    r = client.post(url, {"target": "9"})
    assert "must be between half and double" in r.content.decode()
    assert Shard.objects.filter(stream=stream).count() == 5
    page = client.get(reverse("kin-stream-detail", args=[stream.id])).content.decode()
    assert "closed" in page


def test_it_browses_a_shard_by_position_with_paging(client, users, stream):
    stored = records.put(stream, [records.entry("k", b"r%d" % n, "0") for n in range(30)])
    records.put(stream, [records.entry("k", b"\xff\x00", "0")])
    numbers = [row.id for _, row in stored]
    client.force_login(users["member"])
    first = client.get(shard_url(stream)).content.decode()
    assert "r0" in first and "r24" in first and "r25" not in first
    assert "Next page" in first
    following = client.get(shard_url(stream) + f"?after={numbers[24]}", **HX).content.decode()
    assert "<html" not in following and "r25" in following and "r24</code>" not in following
    assert "/wA=" in following  # not UTF-8: shown as base64
    at_seq = client.get(shard_url(stream), {"position": "AT_SEQUENCE_NUMBER",
                                            "sequence_number": f"{numbers[28]:056d}"}).content.decode()
    assert "r28" in at_seq and "r27" not in at_seq
    Record.objects.filter(id__in=numbers[:10]).update(arrival=timezone.now() - timedelta(hours=2))
    at_time = client.get(shard_url(stream), {"position": "AT_TIMESTAMP", "at": (
        timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")}).content.decode()
    assert "r10" in at_time and "r9<" not in at_time
    bad = client.get(shard_url(stream), {"position": "AT_SEQUENCE_NUMBER", "sequence_number": "abc"})
    assert "Give a sequence number" in bad.content.decode()
    assert client.get(shard_url(stream, "shardId-000000000042")).status_code == 404


def test_it_deletes_a_stream(client, users, stream):
    records.put(stream, [records.entry("k", b"x")])
    client.force_login(users["member"])
    r = client.post(reverse("kin-stream-delete", args=[stream.id]))
    assert r.status_code == 302 and r["Location"] == reverse("kin-stream-list")
    assert (Stream.objects.count(), Shard.objects.count(), Record.objects.count()) == (0, 0, 0)


def test_it_changes_the_retention_both_ways(client, users, stream):
    client.force_login(users["member"])
    url = reverse("kin-stream-retention", args=[stream.id])
    assert client.post(url, {"hours": "72"}).status_code == 302
    assert Stream.objects.get().retention_hours == 72
    assert client.post(url, {"hours": "30"}).status_code == 302
    assert Stream.objects.get().retention_hours == 30
    r = client.post(url, {"hours": "5"})
    assert "Minimum allowed retention period is 24 hours" in r.content.decode()
    assert Stream.objects.get().retention_hours == 30
