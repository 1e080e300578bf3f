"""The SQLite store: API-created resources in one file, shared by the processes of a machine.

* WAL mode, ``synchronous=FULL``: readers never wait for the writer, and a change is on
  disk when its transaction commits.  A process killed at any moment leaves a file that
  opens with every committed change and no part of an uncommitted one (SQLite's journal).
* One change, one ``BEGIN IMMEDIATE`` transaction: the write lock is taken first, so the
  precondition check and the write see the same state, across processes.
* The change counter is one row (``omeapi_meta.version``).  Beside the database, an
  8-byte *generation* file (``<db>.generation``) is mapped into every process and bumped
  after every committed change (under a lock of that file): the per-request check is one memory
  read of it, and the counter is read only when it moved (docs/deployment.md, "Workers").
* Cross-process locks are ``flock`` locks on small files beside the database
  (``<db>.locks/``): the kernel releases them when the holder dies, so a killed process
  never leaves a lock behind.  The file is never deleted (that would race with a waiter).
* Connections are per thread (and per process: one made before a fork is not used after).

The tables, the row mapping and the checked write are :mod:`omeapi._stores.sql`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from omeapi._stores.base import AuditRetention, Change, StoreError, StoreState
from omeapi._stores.generation import GenerationFile
from omeapi._stores.sql import (
    APPS_QUERY,
    SCHEMA_VERSION,
    SQLITE,
    TOKENS_QUERY,
    VERSION_QUERY,
    VHOSTS_QUERY,
    Execute,
    SqlStore,
    schema,
    state_of,
)

__all__ = ["GENERATION_SUFFIX", "SCHEMA_VERSION", "SqliteStore"]

T = TypeVar("T")

#: The generation file is the database's path with this appended.
GENERATION_SUFFIX = ".generation"


class SqliteStore(SqlStore[sqlite3.Connection]):
    """A :class:`~omeapi.Store` in the SQLite file ``path`` (created with its
    directory if missing).  ``timeout`` is how long a writer waits for another one;
    ``audit_retention`` limits the audit log (see :class:`~omeapi._stores.base.AuditRetention`)."""

    shared = True
    notifies = False
    dialect = SQLITE
    _driver_errors = sqlite3.Error

    def __init__(
        self,
        path: str,
        *,
        timeout: float = 30.0,
        audit_retention: AuditRetention | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        super().__init__(self.path, audit_retention)
        self.timeout = timeout
        self._lock_dir = self.path + ".locks"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            os.makedirs(self._lock_dir, mode=0o700, exist_ok=True)
            # The configs may hold secrets (signed policy keys): readable by the owner only.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self._create_schema()
            self._use_generation(GenerationFile(self.path + GENERATION_SUFFIX))
        except (OSError, ValueError, sqlite3.Error) as exc:
            self.close()
            raise StoreError(f"{self.path}: {exc}") from exc

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE.
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _create_schema(self) -> None:
        conn = self._conn()
        # WAL is a property of the file: the first opener switches it, the others see it.
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: WAL mode is not available (journal mode {mode})")
        with self._write(conn):
            # Statement by statement: executescript() would commit the transaction first.
            for statement in schema(SQLITE):
                conn.execute(statement)
            found = conn.execute("SELECT schema FROM omeapi_meta").fetchone()[0]
        if found != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by another omeapi (store layout {found}, "
                f"this one reads {SCHEMA_VERSION})"
            )

    @contextlib.contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One write transaction, the write lock taken at once."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def transaction(self, work: Callable[[Execute], T]) -> T:
        with self._errors():
            conn = self._conn()
            with self._write(conn):
                return work(conn.execute)

    # -- the Store interface ----------------------------------------------------------------

    def version(self) -> int:
        local = self._local
        with self._errors():
            # The per-request check: a kept cursor saves a few microseconds per request.
            cursor: sqlite3.Cursor | None = getattr(local, "cursor", None)
            if cursor is None or local.conn is None or local.pid != os.getpid():
                cursor = local.cursor = self._conn().cursor()
            row = cursor.execute(VERSION_QUERY).fetchone()
        return int(row[0])

    def load(self) -> StoreState:
        with self._errors():
            conn = self._conn()
            # One read transaction: the counter and the rows are of the same moment.
            conn.execute("BEGIN")
            try:
                version = int(conn.execute(VERSION_QUERY).fetchone()[0])
                vhosts = conn.execute(VHOSTS_QUERY).fetchall()
                apps = conn.execute(APPS_QUERY).fetchall()
                tokens = conn.execute(TOKENS_QUERY).fetchall()
            finally:
                conn.execute("COMMIT")
        return state_of(version, vhosts, apps, tokens)

    def apply(self, change: Change) -> int:
        version = self.transaction(lambda execute: self._apply(execute, change))
        # After the commit: a process that sees the new generation finds the change in the
        # database.  (Killed in between, the followers' periodic counter read finds it.)
        self._bump()
        return version

    #: The generation file's counter (see :class:`~omeapi._stores.base.Generation`), read
    #: with no call in between: it runs on every request.
    generation = SqlStore._read_generation

    def _apply(self, execute: Execute, change: Change) -> int:
        return self._apply_in(execute, self._count_change(execute), change)

    def _count_change(self, execute: Execute) -> int:
        execute("UPDATE omeapi_meta SET version = version + 1")
        return int(execute(VERSION_QUERY).fetchone()[0])

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._flock(name)

    @contextlib.contextmanager
    def _flock(self, name: str) -> Iterator[None]:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        path = os.path.join(self._lock_dir, digest + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"{path}: {exc}") from exc
        try:
            # A blocking flock: released by close() below, or by the kernel if we die.
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def watch(self, on_change: Callable[[], None], stop: threading.Event) -> bool:
        return False  # SQLite cannot push: the follower polls version()

    def _read(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        with self._errors():
            return self._conn().execute(query, params).fetchall()
