"""The SQLite store: API-created resources in one file, shared by the processes of a machine.

* WAL mode, ``synchronous=FULL``: readers never wait for the writer, and a change is on
  disk when its transaction commits.  A process killed at any moment leaves a file that
  opens with every committed change and no part of an uncommitted one (SQLite's journal).
* One change, one ``BEGIN IMMEDIATE`` transaction: the write lock is taken first, so the
  precondition check and the write see the same state, across processes.
* The change counter is one row (``omeapi_meta.version``); reading it is the per-request
  check, a few microseconds.
* Cross-process locks are ``flock`` locks on small files beside the database
  (``<db>.locks/``): the kernel releases them when the holder dies, so a killed process
  never leaves a lock behind.  The file is never deleted (that would race with a waiter).
* Connections are per thread (and per process: one made before a fork is not used after).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

from omeapi._stores.base import (
    AuditRecord,
    Change,
    StoredApp,
    StoredVhost,
    StoreError,
    StoreState,
    check_precondition,
    node_name,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

#: The layout version written in ``omeapi_meta.schema``.
SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS omeapi_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema INTEGER NOT NULL,
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO omeapi_meta (id, schema, version) VALUES (1, {SCHEMA_VERSION}, 0);
CREATE TABLE IF NOT EXISTS omeapi_vhosts (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS omeapi_apps (
    vhost TEXT NOT NULL REFERENCES omeapi_vhosts (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (vhost, name)
);
CREATE TABLE IF NOT EXISTS omeapi_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    time REAL NOT NULL,
    client TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    summary TEXT NOT NULL,
    node TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS omeapi_audit_time ON omeapi_audit (time);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqliteStore:
    """A :class:`~omeapi.Store` in the SQLite file ``path`` (created with its
    directory if missing).  ``timeout`` is how long a writer waits for another one."""

    shared = True
    notifies = False

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path = os.path.abspath(path)
        self.location = self.path
        self.timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        self._node = node_name()
        self._lock_dir = self.path + ".locks"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            os.makedirs(self._lock_dir, mode=0o700, exist_ok=True)
            # The configs may hold secrets (signed policy keys): readable by the owner only.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self._create_schema()
        except (OSError, sqlite3.Error) as exc:
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

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            conn = self._connect()
            local.conn, local.pid = conn, os.getpid()
            with self._guard:
                self._connections.append(conn)
        return conn

    def _create_schema(self) -> None:
        conn = self._conn()
        # WAL is a property of the file: the first opener switches it, the others see it.
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: WAL mode is not available (journal mode {mode})")
        with self._write(conn):
            # Statement by statement: executescript() would commit the transaction first.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
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

    def close(self) -> None:
        """Close every connection this object opened (in this process)."""
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- the Store interface ----------------------------------------------------------------

    def version(self) -> int:
        local = self._local
        try:
            # The per-request check: a kept cursor saves a few microseconds per request.
            cursor: sqlite3.Cursor | None = getattr(local, "cursor", None)
            if cursor is None or local.conn is None or local.pid != os.getpid():
                cursor = local.cursor = self._conn().cursor()
            row = cursor.execute("SELECT version FROM omeapi_meta").fetchone()
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"{self.path}: {exc}") from exc
        return int(row[0])

    def load(self) -> StoreState:
        conn = self._conn()
        try:
            # One read transaction: the counter and the rows are of the same moment.
            conn.execute("BEGIN")
            try:
                version = int(conn.execute("SELECT version FROM omeapi_meta").fetchone()[0])
                vhosts = conn.execute(
                    "SELECT name, revision, config FROM omeapi_vhosts ORDER BY position, name"
                ).fetchall()
                apps = conn.execute(
                    "SELECT vhost, name, revision, config FROM omeapi_apps ORDER BY position, name"
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"{self.path}: {exc}") from exc
        return _state(version, vhosts, apps)

    def apply(self, change: Change) -> int:
        conn = self._conn()
        try:
            with self._write(conn):
                return self._apply(conn, change)
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"{self.path}: {exc}") from exc

    def _apply(self, conn: sqlite3.Connection, change: Change) -> int:
        conn.execute("UPDATE omeapi_meta SET version = version + 1")
        version = int(conn.execute("SELECT version FROM omeapi_meta").fetchone()[0])
        _checked_write(conn.execute, change, version, "?", self._node)
        return version

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

    def audit_log(self, since: float | None = None) -> list[AuditRecord]:
        query = "SELECT id, version, time, client, method, path, summary, node FROM omeapi_audit"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE time >= ?"
            params = (since,)
        try:
            rows = self._conn().execute(query + " ORDER BY id", params).fetchall()
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"{self.path}: {exc}") from exc
        return [_audit_record(row) for row in rows]

    def _forget(self) -> None:
        # After an error the connection may be unusable (a locked or vanished file): the
        # next call of this thread opens a new one.
        conn = getattr(self._local, "conn", None)
        self._local.conn = self._local.cursor = None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            with self._guard, contextlib.suppress(ValueError):
                self._connections.remove(conn)


# -- shared with the PostgreSQL store ---------------------------------------------------------


def _checked_write(
    execute: Callable[..., Any], change: Change, version: int, mark: str, node: str
) -> None:
    """Check ``change`` against the stored rows, then write it and its audit record; the
    caller holds the write transaction and has already moved the counter to ``version``."""

    def exists(sql: str, args: tuple[str, ...]) -> bool:
        return execute(sql.replace("?", mark), args).fetchone() is not None

    has_vhost = exists("SELECT 1 FROM omeapi_vhosts WHERE name = ?", (change.vhost,))
    has_app = bool(change.app) and exists(
        "SELECT 1 FROM omeapi_apps WHERE vhost = ? AND name = ?", (change.vhost, change.app)
    )
    # A conflict raises here: the transaction rolls back, the counter with it.
    check_precondition(change, has_vhost, has_app)
    _write_change(execute, change, version, mark)
    audit = change.audit
    if audit is not None:
        execute(
            "INSERT INTO omeapi_audit (version, time, client, method, path, summary, node) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)".replace("?", mark),
            (
                version,
                audit.time,
                audit.client,
                audit.method,
                audit.path,
                _dumps(audit.summary),
                node,
            ),
        )


def _write_change(
    execute: Callable[..., Any], change: Change, version: int, mark: str = "%s"
) -> None:
    """The row writes of ``change`` (its precondition already checked); ``mark`` is the
    driver's parameter placeholder."""

    def sql(text: str) -> str:
        return text.replace("?", mark)

    kind = change.kind
    if kind == Change.CREATE_VHOST:
        execute(
            sql("INSERT INTO omeapi_vhosts (name, position, revision, config) VALUES (?, ?, ?, ?)"),
            (change.vhost, version, version, _dumps(change.config or {})),
        )
        for position, (name, app) in enumerate(change.apps):
            execute(
                sql(
                    "INSERT INTO omeapi_apps (vhost, name, position, revision, config) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                (change.vhost, name, position, version, _dumps(app)),
            )
    elif kind == Change.DELETE_VHOST:
        execute(sql("DELETE FROM omeapi_apps WHERE vhost = ?"), (change.vhost,))
        execute(sql("DELETE FROM omeapi_vhosts WHERE name = ?"), (change.vhost,))
    elif kind == Change.CREATE_APP:
        # After every app of the vhost (positions of apps created with it are 0, 1, ...).
        execute(
            sql(
                "INSERT INTO omeapi_apps (vhost, name, position, revision, config) "
                "SELECT ?, ?, COALESCE(MAX(position), -1) + 1, ?, ? "
                "FROM omeapi_apps WHERE vhost = ?"
            ),
            (change.vhost, change.app, version, _dumps(change.config or {}), change.vhost),
        )
    elif kind == Change.UPDATE_APP:
        execute(
            sql("UPDATE omeapi_apps SET revision = ?, config = ? WHERE vhost = ? AND name = ?"),
            (version, _dumps(change.config or {}), change.vhost, change.app),
        )
    else:
        execute(
            sql("DELETE FROM omeapi_apps WHERE vhost = ? AND name = ?"),
            (change.vhost, change.app),
        )


def _state(version: int, vhosts: list[Any], apps: list[Any]) -> StoreState:
    by_vhost: dict[str, list[StoredApp]] = {}
    for vhost, name, revision, config in apps:
        by_vhost.setdefault(vhost, []).append(StoredApp(name, json.loads(config), int(revision)))
    return StoreState(
        version,
        tuple(
            StoredVhost(name, json.loads(config), tuple(by_vhost.get(name, ())), int(revision))
            for name, revision, config in vhosts
        ),
    )


def _audit_record(row: Any) -> AuditRecord:
    id_, version, when, client, method, path, summary, node = row
    try:
        parsed = json.loads(summary)
    except ValueError:
        parsed = {"text": summary}
    return AuditRecord(
        int(id_), int(version), float(when), client, method, path, parsed, node or ""
    )
