"""The runs page at 100,000 invocations: the first page and a page 99,000
rows deep cost the same, small, number of queries, and each page is one
read of the newest-first index (no sort of the whole set, no OFFSET, no
COUNT). Query counts and plans, never the time."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invocations.models import Invocation
from runs import query

ROWS = 100_000


@pytest.fixture
def many_runs(make_function):
    """100,000 invocations of two functions, a millisecond apart, in one
    bulk insert."""
    fns = [make_function("busy"), make_function("quiet")]
    start = timezone.now()
    statuses = ["succeeded", "succeeded", "succeeded", "failed"]
    Invocation.objects.bulk_create(
        (
            Invocation(
                request_id=uuid.uuid4(), function=fns[i % 2], created_at=start - timedelta(milliseconds=i),
                queued_at=start, started_at=start, status=statuses[i % 4], source="api",
                cold_start=i % 10 == 0, logs=f"line {i}\n",
            )
            for i in range(ROWS)
        ),
        batch_size=5000,
    )
    return fns


def runs_page_queries(client, params) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/runs/", params)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def the_page_query(sqls: list[str]) -> str:
    head = 'SELECT "invocations_invocation"."request_id"'
    [sql] = [s for s in sqls if s.startswith(head) and "LIMIT 51" in s]
    return sql


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def deep_cursor(filters=None, depth=99_000) -> str:
    """The cursor of the row `depth` rows down (an OFFSET here, in the
    test's setup, to know where to go; the page itself never uses one)."""
    row = Invocation.objects.order_by("-created_at", "-request_id").values_list(
        "created_at", "request_id")[depth]
    return query.Cursor(*row).encode()


FILTERS = [
    {},
    {"status": "failed"},
    {"start": "warm", "source": "api"},
    {"function": "busy"},
]


def test_a_deep_page_costs_what_the_first_does(users, many_runs):
    """One test for every filter: the 100,000 rows are made once."""
    assert Invocation.objects.count() == ROWS
    client = Client()
    client.force_login(users["member"])
    cursor = deep_cursor()
    for params in FILTERS:
        if params.get("function") == "busy":
            params = {"function": str(many_runs[0].id)}
        first = runs_page_queries(client, params)
        deep = runs_page_queries(client, {**params, "older": cursor})
        # Session, user, the function list, the page, writable teams, the
        # nav's teams (and, with a function chosen, its five kinds of
        # trigger names and its function URLs): the same few at any depth.
        assert len(first) == len(deep) == (12 if "function" in params else 6), (params, first, deep)
        for sql in (the_page_query(first), the_page_query(deep)):
            assert "OFFSET" not in sql and "COUNT(" not in sql
            found = plan(sql)
            # The newest-first index read in order (SCAN from the top on the
            # first page, SEARCH below the cursor on others), never a sort.
            assert re.search(r"(SCAN|SEARCH) invocations_invocation USING (COVERING )?INDEX "
                             r"inv_(fn_)?created_rid", found), (params, found)
            assert "TEMP B-TREE" not in found, (params, found)
        # And the deep page is a full one.
        response = client.get("/runs/", {**params, "older": cursor})
        assert response.content.decode().count('id="run-') == query.PAGE_SIZE, params

    # A log search reads one bounded window per page, at any depth.
    first = runs_page_queries(client, {"q": "LINE 9"})
    deep = runs_page_queries(client, {"q": "LINE 9", "older": cursor})
    assert len(first) == len(deep) == 7, (first, deep)  # + the window's end
    for sql in (the_page_query(first), the_page_query(deep)):
        assert "TEMP B-TREE" not in plan(sql)
