"""bench/streams.py's check of a stream mapping's deliveries, and
bench/aws.py's DynamoDB item comparison."""

from bench.aws import bench_item, same_item
from bench.streams import check_ordering, seq_key

A, B = "shardId-000000000000", "shardId-000000000001"
PUT = [("r0", A, "10"), ("r1", B, "11"), ("r2", A, "12"), ("r3", A, "100"), ("r4", B, "13")]


def seen(*records):
    return [(shard, seq, tag) for tag, shard, seq in records]


def test_it_counts_nothing_wrong_when_every_record_came_once_in_order():
    batches = [(1.0, seen(PUT[0], PUT[2])), (1.5, seen(PUT[1], PUT[4])), (2.0, seen(PUT[3]))]
    out = check_ordering(PUT, batches)
    assert out == {"records": 5, "processed": 5, "lost": 0, "duplicates": 0, "out_of_order": 0,
                   "wrong_shard": 0, "unknown": 0, "put_out_of_order": 0, "shards": {A: 3, B: 2}}


def test_it_orders_batches_by_their_start_and_sequence_numbers_as_numbers():
    # "100" after "12" is in order (as numbers), and the batches arrive unsorted.
    batches = [(2.0, seen(PUT[3])), (1.0, seen(PUT[0], PUT[2])), (0.5, seen(PUT[1], PUT[4]))]
    assert check_ordering(PUT, batches)["out_of_order"] == 0
    assert seq_key("100") > seq_key("12")


def test_it_counts_lost_out_of_order_duplicated_and_misplaced_records():
    batches = [
        (1.0, seen(PUT[2], PUT[0])),           # r0 after r2 in shard A: out of order
        (2.0, seen(PUT[0])),                   # r0 again: a duplicate, not another order break
        (3.0, [(A, "13", "r4")]),              # r4 under shard A: wrong shard
        (4.0, [(A, "99", "r9"), (A, "12", "zz")]),  # never put / another tag
    ]
    out = check_ordering(PUT, batches)
    assert out["lost"] == 2  # r1, r3
    assert out["processed"] == 3
    assert out["out_of_order"] == 1
    assert out["duplicates"] == 1
    assert out["wrong_shard"] == 1
    assert out["unknown"] == 2


def test_the_same_sequence_number_in_two_shards_names_two_records():
    put = [("r0", A, "1"), ("r1", B, "1"), ("r2", B, "2")]
    out = check_ordering(put, [(1.0, seen(put[1], put[2])), (1.1, seen(put[0]))])
    assert (out["processed"], out["lost"], out["out_of_order"], out["unknown"]) == (3, 0, 0, 0)


def test_it_counts_a_put_answered_with_a_lower_sequence_number():
    put = [("r0", A, "10"), ("r1", A, "9"), ("r2", B, "1")]
    assert check_ordering(put, [])["put_out_of_order"] == 1
    assert check_ordering(put, [])["lost"] == 3


def test_items_compare_sets_as_sets_and_everything_else_exactly():
    item = bench_item("w1", 7)
    assert same_item(item, bench_item("w1", 7))
    reordered = {**item, "tags": {"SS": ["red", "blue", "green"]}}
    assert same_item(reordered, item)
    assert not same_item({**item, "n": {"N": "8"}}, item)
    assert not same_item({**item, "blob": {"B": b"other"}}, item)
    assert not same_item({**item, "tags": {"SS": ["blue", "green"]}}, item)
    assert not same_item({k: v for k, v in item.items() if k != "none"}, item)
    nested = {**item, "meta": {"M": {**item["meta"]["M"], "list": {"L": [{"S": "x"}, {"N": "1"}]}}}}
    assert not same_item(nested, item)
    assert not same_item(None, item)
    assert not same_item({**item, "amount": {"S": "12345.678"}}, item)
