"""Django's SQLite backend, with the process's writers queued in memory
(settings: ENGINE "console.sqlite" for a SQLite file).

SQLite lets one connection write at a time. A connection that finds the
write lock taken does not wait to be woken: SQLite's busy handler sleeps
and tries again (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms...), so
under 8 concurrent writers a 1 ms transaction cost its waiters 10-30 ms
(bench/README.md). Here each thread of a process first takes one
process-wide `threading.Lock` for a write: from `BEGIN IMMEDIATE` (every
`transaction.atomic()`, `transaction_mode` IMMEDIATE) to its COMMIT or
ROLLBACK, and around each write statement run in autocommit mode (a
`save()` or `.update()` outside `atomic()`). Waiters are woken as soon as
the lock is released, and only one thread per process contends with the
other processes (the worker, beat) through SQLite's busy handler, which
still guards everything else.

Nothing about durability or isolation changes: the statements, the
transactions and SQLite's own locking are the same. The lock is taken
with a timeout (`LOCK_WAIT_S`); a thread that cannot have it in time goes
on to SQLite's own lock as before, so a stuck holder slows writers down
but never deadlocks them. In-memory databases (the unit tests) keep
SQLite's own locking alone."""

from __future__ import annotations

import os
import threading

from django.db.backends.sqlite3 import base

LOCK_WAIT_S = 5.0
_WRITE_LOCK = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork (Celery's pool) copies the lock as it was, possibly held by a
    # thread the child does not have.
    global _WRITE_LOCK
    _WRITE_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def _is_write(query: str) -> bool:
    return query.lstrip()[:6].upper() in _WRITES


class _QueuedWriteCursor(base.SQLiteCursorWrapper):
    """A write statement in autocommit mode (its own transaction) holds the
    process's write lock while it runs."""

    def execute(self, query, params=None):
        if self.connection.in_transaction or not _is_write(query):
            return super().execute(query, params)
        held = _WRITE_LOCK.acquire(timeout=LOCK_WAIT_S)
        try:
            return super().execute(query, params)
        finally:
            if held:
                _WRITE_LOCK.release()

    def executemany(self, query, param_list):
        if self.connection.in_transaction or not _is_write(query):
            return super().executemany(query, param_list)
        held = _WRITE_LOCK.acquire(timeout=LOCK_WAIT_S)
        try:
            return super().executemany(query, param_list)
        finally:
            if held:
                _WRITE_LOCK.release()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _queues_writes(self) -> bool:
        return not self.is_in_memory_db()

    def create_cursor(self, name=None):
        if not self._queues_writes():
            return super().create_cursor(name)
        return self.connection.cursor(factory=_QueuedWriteCursor)

    def _start_transaction_under_autocommit(self):
        if self._queues_writes() and not self._holds_write_lock:
            self._holds_write_lock = _WRITE_LOCK.acquire(timeout=LOCK_WAIT_S)
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _WRITE_LOCK.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            # A COMMIT that failed leaves the transaction to Django's
            # rollback; another writer meanwhile waits in SQLite's handler.
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()
