"""The PostgreSQL store: API nodes on several machines sharing one database (psycopg 3).

The same tables as the SQLite store (``omeapi_*``, so the database may hold other things)
and the same guarantees:

* One change, one transaction.  It starts by incrementing the change counter
  (``UPDATE omeapi_meta … RETURNING version``): that row lock serialises writers, and
  under READ COMMITTED every statement after it sees what earlier writers committed, so
  the precondition check and the write agree.
* The transaction ends with ``NOTIFY omeapi_changes`` (sent at commit), which every
  node's follower ``LISTEN``\\s to; requests still read the counter (one round trip), so a
  change answered by one node is visible on the next request to any node.
* Cross-process locks are session advisory locks (``pg_advisory_lock``), released by the
  server when the holder's connection ends, so a node that dies leaves none behind.
* Connections are per thread (and per process); one broken by a database restart is
  replaced on the next call.

Install with ``pip install omeapi[postgres]`` (psycopg 3 with its binary libpq).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from omeapi._stores.base import (
    AuditRecord,
    Change,
    StoreError,
    StoreState,
    node_name,
)
from omeapi._stores.sqlite import _audit_record, _checked_write, _state

try:
    import psycopg
    from psycopg import conninfo
except ImportError:  # pragma: no cover - depends on the installation
    psycopg = None  # type: ignore[assignment]

__all__ = ["CHANNEL", "SCHEMA_VERSION", "PostgresStore", "safe_location"]

log = logging.getLogger("omeapi")

SCHEMA_VERSION = 1
#: The ``NOTIFY`` channel; the payload is the new version.
CHANNEL = "omeapi_changes"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS omeapi_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        schema INTEGER NOT NULL,
        version BIGINT NOT NULL
    )""",
    f"""INSERT INTO omeapi_meta (id, schema, version) VALUES (1, {SCHEMA_VERSION}, 0)
        ON CONFLICT (id) DO NOTHING""",
    """CREATE TABLE IF NOT EXISTS omeapi_vhosts (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        config TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS omeapi_apps (
        vhost TEXT NOT NULL REFERENCES omeapi_vhosts (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        position BIGINT NOT NULL,
        revision BIGINT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (vhost, name)
    )""",
    """CREATE TABLE IF NOT EXISTS omeapi_audit (
        id BIGSERIAL PRIMARY KEY,
        version BIGINT NOT NULL,
        time DOUBLE PRECISION NOT NULL,
        client TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        summary TEXT NOT NULL,
        node TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS omeapi_audit_time ON omeapi_audit (time)",
)

#: Advisory lock key serialising schema creation (nodes starting together).
_SCHEMA_LOCK = 0x6F6D_6561_7069  # "omeapi"


def _key(name: str) -> int:
    """A lock name as a signed 64-bit advisory lock key (a collision only serialises two
    unrelated locks, never breaks one)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def safe_location(dsn: str) -> str:
    """``dsn`` without its password, for messages and logs."""
    if psycopg is None:
        return dsn.split("@")[-1]
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    host, port = str(params.get("host", "")), str(params.get("port", ""))
    user, db = str(params.get("user", "")), str(params.get("dbname", ""))
    return f"postgresql://{user + '@' if user else ''}{host}{':' + port if port else ''}/{db}"


class PostgresStore:
    """A :class:`~omeapi.Store` in the PostgreSQL database at ``dsn``
    (``postgresql://user:password@host:port/db`` or a libpq connection string)."""

    shared = True
    notifies = True

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        if psycopg is None:
            raise StoreError("the PostgreSQL store needs psycopg 3: pip install 'omeapi[postgres]'")
        self.dsn = dsn
        self.location = safe_location(dsn)
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._connections: list[psycopg.Connection[Any]] = []
        self._guard = threading.Lock()
        self._closed = False
        self._node = node_name()
        try:
            conn = self._conn()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in _SCHEMA:
                    conn.execute(statement)
                row = conn.execute("SELECT schema FROM omeapi_meta").fetchone()
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"{self.location}: {exc}") from exc
        found = row[0] if row else None
        if found != SCHEMA_VERSION:
            self.close()
            raise StoreError(
                f"{self.location}: written by another omeapi (store layout {found}, "
                f"this one reads {SCHEMA_VERSION})"
            )

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=max(1, int(self.connect_timeout)),
            application_name="omeapi",
        )

    def _conn(self) -> psycopg.Connection[Any]:
        local = self._local
        conn: psycopg.Connection[Any] | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid() or conn.closed:
            if self._closed:
                raise StoreError(f"{self.location}: the store is closed")
            conn = self._connect()
            local.conn, local.pid = conn, os.getpid()
            with self._guard:
                self._connections.append(conn)
        return conn

    def _forget(self) -> None:
        # A broken connection (database restarted, network cut) is replaced next time.
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
            with self._guard, contextlib.suppress(ValueError):
                self._connections.remove(conn)

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            self._forget()
            raise StoreError(f"{self.location}: {exc}") from exc

    # -- the Store interface ----------------------------------------------------------------

    def version(self) -> int:
        with self._errors():
            row = self._conn().execute("SELECT version FROM omeapi_meta").fetchone()
        return int(row[0]) if row else 0

    def load(self) -> StoreState:
        with self._errors():
            conn = self._conn()
            # REPEATABLE READ: the counter and the rows are of the same moment.
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = conn.execute("SELECT version FROM omeapi_meta").fetchone()
                vhosts = conn.execute(
                    "SELECT name, revision, config FROM omeapi_vhosts ORDER BY position, name"
                ).fetchall()
                apps = conn.execute(
                    "SELECT vhost, name, revision, config FROM omeapi_apps ORDER BY position, name"
                ).fetchall()
        return _state(int(row[0]) if row else 0, vhosts, apps)

    def apply(self, change: Change) -> int:
        with self._errors():
            conn = self._conn()
            with conn.transaction():
                return self._apply(conn, change)

    def _apply(self, conn: psycopg.Connection[Any], change: Change) -> int:
        row = conn.execute(
            "UPDATE omeapi_meta SET version = version + 1 RETURNING version"
        ).fetchone()
        assert row is not None
        version = int(row[0])
        _checked_write(conn.execute, change, version, "%s", self._node)
        return version

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._advisory(name)

    @contextlib.contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        key = _key(name)
        with self._errors():
            conn = self._conn()
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            # The connection may have been replaced meanwhile (then the server already
            # released the lock with the old session).
            if getattr(self._local, "conn", None) is conn and not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def watch(self, on_change: Callable[[], None], stop: threading.Event) -> bool:
        """``LISTEN`` on its own connection until ``stop``; reconnects after errors (and
        calls ``on_change`` then, as a notification may have been missed)."""
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    on_change()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            on_change()
            except psycopg.Error as exc:
                log.warning("listening to %s failed (%s); retrying", self.location, exc)
                stop.wait(1.0)
        return True

    def audit_log(self, since: float | None = None) -> list[AuditRecord]:
        query = "SELECT id, version, time, client, method, path, summary, node FROM omeapi_audit"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE time >= %s"
            params = (since,)
        with self._errors():
            rows = self._conn().execute(query + " ORDER BY id", params).fetchall()
        return [_audit_record(row) for row in rows]
