"""console.sqlite: the process's writers queue on one in-memory lock around
SQLite's write lock, and always let go of it (commit, rollback, close)."""

import threading

import pytest
from django.db import DatabaseError

from console.sqlite import base


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    with django_db_blocker.unblock():  # files of these tests, not the test database
        yield


def _wrapper(path):
    settings = {
        "ENGINE": "console.sqlite", "NAME": str(path), "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE", "timeout": 30,
        },
        "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None, "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "TEST": {},
    }
    return base.DatabaseWrapper(settings, alias="queued-writes-test")


def _held() -> bool:
    if base._WRITE_LOCK.acquire(blocking=False):
        base._WRITE_LOCK.release()
        return False
    return True


def test_it_releases_the_lock_after_commit_rollback_and_close(tmp_path):
    db = _wrapper(tmp_path / "db.sqlite3")
    with db.cursor() as c:
        c.execute("CREATE TABLE t (n INTEGER)")
    with _atomic(db):
        with db.cursor() as c:
            c.execute("INSERT INTO t VALUES (1)")
        assert _held()
    assert not _held()
    with pytest.raises(ZeroDivisionError), _atomic(db):
        with db.cursor() as c:
            c.execute("INSERT INTO t VALUES (2)")
        raise ZeroDivisionError
    assert not _held()
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    assert _held()
    db.close()
    assert not _held()
    db.connect()
    with db.cursor() as c:
        c.execute("SELECT n FROM t")
        assert c.fetchall() == [(1,)]
    db.close()


def test_a_failed_begin_lets_go_of_the_lock(tmp_path, monkeypatch):
    db = _wrapper(tmp_path / "db.sqlite3")
    db.ensure_connection()

    def refuse(self):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(base.base.DatabaseWrapper, "_start_transaction_under_autocommit", refuse)
    with pytest.raises(DatabaseError):
        db._start_transaction_under_autocommit()
    assert not _held()
    db.close()


def test_concurrent_writers_all_land(tmp_path):
    path = tmp_path / "db.sqlite3"
    setup = _wrapper(path)
    with setup.cursor() as c:
        c.execute("CREATE TABLE t (n INTEGER)")
    setup.close()
    errors = []

    def writer(i):
        db = _wrapper(path)
        try:
            for j in range(40):
                with _atomic(db), db.cursor() as c:
                    c.execute("INSERT INTO t VALUES (%s)", [i * 100 + j])
                with db.cursor() as c:  # autocommit: a transaction of its own
                    c.execute("UPDATE t SET n = n WHERE n = %s", [i * 100 + j])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = _wrapper(path)
    with check.cursor() as c:
        c.execute("SELECT COUNT(*), COUNT(DISTINCT n) FROM t")
        assert c.fetchone() == (320, 320)
    check.close()
    assert not _held()


class _atomic:
    """transaction.atomic() for a wrapper that is not in django.db.connections."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        return self.db

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                self.db.commit()
            else:
                self.db.rollback()
        finally:
            self.db.set_autocommit(True)
        return False
