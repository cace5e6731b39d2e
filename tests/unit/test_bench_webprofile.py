"""bench/webprofile.py's tally of py-spy's raw stacks into areas."""

from bench.webprofile import OTHER, area_of, frame_file, tally

SIGV4 = "sigv4 (awsapi/sigv4, botocore.auth)"
DB = "database: statements run, commits (django/db/backends, sqlite3)"
ORM = "database: ORM, queries built, rows to objects (django/db)"
SERVICE = "service code (buckets, messaging, tables, kinesis, functions)"


def test_a_frame_names_its_file():
    assert frame_file("verify (awsapi/sigv4.py:88)") == "awsapi/sigv4.py"
    frozen = "<frozen importlib._bootstrap>"
    assert frame_file(f"_find_and_load ({frozen}:1176)") == frozen
    assert frame_file("thread (2050)") == ""
    assert area_of("/srv/venv/lib/python3.11/site-packages/django/db/models/query.py") == ORM
    assert area_of("django/db/backends/sqlite3/base.py") == DB
    assert area_of("functools.py") is None


def test_a_stack_counts_for_its_innermost_frame_with_an_area():
    raw = [
        # the stdlib's hmac under sigv4 counts for sigv4
        "thread (1);run (uvicorn/server.py:1);verify (awsapi/sigv4.py:9);new (hmac.py:3) 5",
        # the ORM called from the service code counts for the database
        "thread (1);send (messaging/sqs_api.py:40);execute (django/db/backends/sqlite3/base.py:7) 3",
        "thread (2);send (messaging/sqs_api.py:41) 2",
        "thread (3);<module> (<string>:1) 1",
        "",
    ]
    assert tally(raw) == {SIGV4: 5, DB: 3, SERVICE: 2, OTHER: 1}
