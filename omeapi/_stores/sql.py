"""What the SQLite and PostgreSQL stores share: the tables, the row mapping, the checked
write, audit retention and the shared failed-login counter.

Both stores keep the same ``omeapi_*`` tables (so a database may hold other things); the
few differences of SQL dialect are a :class:`Dialect`.  :class:`SqlStore` holds what the
two stores do alike (per-thread connections, the audit log, pruning it, the failure
counter); each store adds how it connects, its transactions and its locks.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

from omeapi._stores.base import (
    EVENT_WINDOW,
    AuditRecord,
    AuditRetention,
    Change,
    EventRecord,
    StoreConflict,
    StoredApp,
    StoredToken,
    StoredVhost,
    StoreError,
    StoreState,
    check_precondition,
    config_event,
    node_name,
)
from omeapi._stores.generation import GenerationFile

__all__ = [
    "POSTGRES",
    "SCHEMA_VERSION",
    "SQLITE",
    "TOKENS_QUERY",
    "Dialect",
    "Execute",
    "SqlFailureCounter",
    "SqlStore",
    "audit_record",
    "checked_write",
    "schema",
    "state_of",
]

#: The layout version written in ``omeapi_meta.schema`` (tables added later, such as
#: ``omeapi_brake``, are created by ``IF NOT EXISTS`` and need no new version).
SCHEMA_VERSION = 1

#: A driver's ``execute(sql, params)``, returning a cursor.
Execute = Callable[..., Any]

T = TypeVar("T")


class _Connection(Protocol):
    def close(self) -> None: ...


Conn = TypeVar("Conn", bound=_Connection)


@attrs.frozen
class Dialect:
    """How one database spells what the tables need."""

    #: the parameter placeholder
    mark: str
    #: an integer that can count every change
    bigint: str
    #: the audit table's auto-incrementing key column
    serial_key: str
    #: a float
    double: str
    #: ``INSERT`` of the meta row that does nothing if it is there: (before, after) the values
    insert_once: tuple[str, str]

    def sql(self, text: str) -> str:
        """``text`` (written with ``?`` placeholders) with this dialect's placeholder."""
        return text if self.mark == "?" else text.replace("?", self.mark)


SQLITE = Dialect(
    mark="?",
    bigint="INTEGER",
    serial_key="INTEGER PRIMARY KEY AUTOINCREMENT",
    double="REAL",
    insert_once=("INSERT OR IGNORE INTO", ""),
)
POSTGRES = Dialect(
    mark="%s",
    bigint="BIGINT",
    serial_key="BIGSERIAL PRIMARY KEY",
    double="DOUBLE PRECISION",
    insert_once=("INSERT INTO", " ON CONFLICT (id) DO NOTHING"),
)


def schema(d: Dialect) -> tuple[str, ...]:
    """The statements that create the tables (each a no-op when its table exists)."""
    before, after = d.insert_once
    return (
        f"""CREATE TABLE IF NOT EXISTS omeapi_meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            schema INTEGER NOT NULL,
            version {d.bigint} NOT NULL
        )""",
        f"{before} omeapi_meta (id, schema, version) VALUES (1, {SCHEMA_VERSION}, 0){after}",
        f"""CREATE TABLE IF NOT EXISTS omeapi_vhosts (
            name TEXT PRIMARY KEY,
            position {d.bigint} NOT NULL,
            revision {d.bigint} NOT NULL,
            config TEXT NOT NULL
        )""",
        f"""CREATE TABLE IF NOT EXISTS omeapi_apps (
            vhost TEXT NOT NULL REFERENCES omeapi_vhosts (name) ON DELETE CASCADE,
            name TEXT NOT NULL,
            position {d.bigint} NOT NULL,
            revision {d.bigint} NOT NULL,
            config TEXT NOT NULL,
            PRIMARY KEY (vhost, name)
        )""",
        f"""CREATE TABLE IF NOT EXISTS omeapi_audit (
            id {d.serial_key},
            version {d.bigint} NOT NULL,
            time {d.double} NOT NULL,
            client TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            summary TEXT NOT NULL,
            node TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS omeapi_audit_time ON omeapi_audit (time)",
        # The failed-login brake's counts, shared by every process of the store: one row per
        # client address, its current window's start and failures in it.
        f"""CREATE TABLE IF NOT EXISTS omeapi_brake (
            client TEXT PRIMARY KEY,
            since {d.double} NOT NULL,
            failures INTEGER NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS omeapi_brake_since ON omeapi_brake (since)",
        # The event feed's recent events (the last EVENT_WINDOW).
        f"""CREATE TABLE IF NOT EXISTS omeapi_events (
            id {d.serial_key},
            time {d.double} NOT NULL,
            kind TEXT NOT NULL,
            vhost TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        # Scoped access tokens: only their SHA-256 is kept.
        f"""CREATE TABLE IF NOT EXISTS omeapi_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            digest TEXT NOT NULL UNIQUE,
            read_only INTEGER NOT NULL,
            vhosts TEXT NOT NULL,
            created {d.double} NOT NULL
        )""",
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- reading ----------------------------------------------------------------------------------

VERSION_QUERY = "SELECT version FROM omeapi_meta"
VHOSTS_QUERY = "SELECT name, revision, config FROM omeapi_vhosts ORDER BY position, name"
APPS_QUERY = "SELECT vhost, name, revision, config FROM omeapi_apps ORDER BY position, name"
TOKENS_QUERY = (
    "SELECT id, name, digest, read_only, vhosts, created FROM omeapi_tokens ORDER BY created, id"
)
_AUDIT_QUERY = "SELECT id, version, time, client, method, path, summary, node FROM omeapi_audit"


def state_of(
    version: int, vhosts: Sequence[Any], apps: Sequence[Any], tokens: Sequence[Any] = ()
) -> StoreState:
    """The stored state from the rows of :data:`VHOSTS_QUERY`, :data:`APPS_QUERY` and
    :data:`TOKENS_QUERY`."""
    by_vhost: dict[str, list[StoredApp]] = {}
    for vhost, name, revision, config in apps:
        by_vhost.setdefault(vhost, []).append(StoredApp(name, json.loads(config), int(revision)))
    return StoreState(
        version,
        tuple(
            StoredVhost(name, json.loads(config), tuple(by_vhost.get(name, ())), int(revision))
            for name, revision, config in vhosts
        ),
        tuple(
            StoredToken(id_, name, digest, bool(read_only), tuple(json.loads(hosts)), float(when))
            for id_, name, digest, read_only, hosts, when in tokens
        ),
    )


def audit_record(row: Any) -> AuditRecord:
    """An audit record from a row of the audit table."""
    id_, version, when, client, method, path, summary, node = row
    try:
        parsed = json.loads(summary)
    except ValueError:
        parsed = {"text": summary}
    return AuditRecord(
        int(id_), int(version), float(when), client, method, path, parsed, node or ""
    )


# -- writing ----------------------------------------------------------------------------------


def checked_write(execute: Execute, d: Dialect, change: Change, version: int, node: str) -> None:
    """Check ``change`` against the stored rows, then write it and its audit record; the
    caller holds the write transaction and has already moved the counter to ``version``."""

    def exists(sql: str, args: tuple[str, ...]) -> bool:
        return execute(d.sql(sql), args).fetchone() is not None

    has_vhost = exists("SELECT 1 FROM omeapi_vhosts WHERE name = ?", (change.vhost,))
    has_app = bool(change.app) and exists(
        "SELECT 1 FROM omeapi_apps WHERE vhost = ? AND name = ?", (change.vhost, change.app)
    )
    # A conflict raises here: the transaction rolls back, the counter with it.
    check_precondition(change, has_vhost, has_app)
    _write_change(execute, d, change, version)
    audit = change.audit
    if audit is not None:
        execute(
            d.sql(
                "INSERT INTO omeapi_audit (version, time, client, method, path, summary, node) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
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
        insert_event(execute, d, *config_event(audit, version), audit.time)


_EVENTS_QUERY = "SELECT id, time, kind, vhost, data FROM omeapi_events"


def insert_event(
    execute: Execute, d: Dialect, kind: str, vhost: str, data: Any, when: float
) -> None:
    """Append an event in the caller's transaction; now and then the events beyond the
    window go."""
    execute(
        d.sql("INSERT INTO omeapi_events (time, kind, vhost, data) VALUES (?, ?, ?, ?)"),
        (when, kind, vhost, _dumps(data)),
    )
    # A range of the key: cheap, and the table never holds much more than the window.
    execute(
        d.sql("DELETE FROM omeapi_events WHERE id <= (SELECT MAX(id) FROM omeapi_events) - ?"),
        (EVENT_WINDOW,),
    )


def _write_change(execute: Execute, d: Dialect, change: Change, version: int) -> None:
    """The row writes of ``change`` (its precondition already checked)."""
    kind = change.kind
    if kind == Change.CREATE_VHOST:
        execute(
            d.sql(
                "INSERT INTO omeapi_vhosts (name, position, revision, config) VALUES (?, ?, ?, ?)"
            ),
            (change.vhost, version, version, _dumps(change.config or {})),
        )
        for position, (name, app) in enumerate(change.apps):
            execute(
                d.sql(
                    "INSERT INTO omeapi_apps (vhost, name, position, revision, config) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                (change.vhost, name, position, version, _dumps(app)),
            )
    elif kind == Change.DELETE_VHOST:
        execute(d.sql("DELETE FROM omeapi_apps WHERE vhost = ?"), (change.vhost,))
        execute(d.sql("DELETE FROM omeapi_vhosts WHERE name = ?"), (change.vhost,))
    elif kind == Change.CREATE_APP:
        # After every app of the vhost (positions of apps created with it are 0, 1, ...).
        execute(
            d.sql(
                "INSERT INTO omeapi_apps (vhost, name, position, revision, config) "
                "SELECT ?, ?, COALESCE(MAX(position), -1) + 1, ?, ? "
                "FROM omeapi_apps WHERE vhost = ?"
            ),
            (change.vhost, change.app, version, _dumps(change.config or {}), change.vhost),
        )
    elif kind == Change.UPDATE_APP:
        execute(
            d.sql("UPDATE omeapi_apps SET revision = ?, config = ? WHERE vhost = ? AND name = ?"),
            (version, _dumps(change.config or {}), change.vhost, change.app),
        )
    else:
        execute(
            d.sql("DELETE FROM omeapi_apps WHERE vhost = ? AND name = ?"),
            (change.vhost, change.app),
        )


def prune(execute: Execute, d: Dialect, retention: AuditRetention, now: float) -> int:
    """Delete the audit rows ``retention`` does not keep; returns how many went."""
    pruned = 0
    horizon = retention.horizon(now)
    if horizon is not None:
        pruned += max(
            0, execute(d.sql("DELETE FROM omeapi_audit WHERE time < ?"), (horizon,)).rowcount
        )
    if retention.rows is not None:
        # Everything up to the newest record that is not kept (none: nothing to delete).
        cursor = execute(
            d.sql(
                "DELETE FROM omeapi_audit WHERE id <= "
                "(SELECT id FROM omeapi_audit ORDER BY id DESC LIMIT 1 OFFSET ?)"
            ),
            (retention.rows,),
        )
        pruned += max(0, cursor.rowcount)
    return pruned


# -- the shared failure counter ----------------------------------------------------------------

#: One failure of ``client``: a new window when its last one is over, else one more in it.
_COUNT_FAILURE = """
INSERT INTO omeapi_brake (client, since, failures) VALUES (?, ?, 1)
ON CONFLICT (client) DO UPDATE SET
    failures = CASE WHEN omeapi_brake.since <= ? THEN 1 ELSE omeapi_brake.failures + 1 END,
    since = CASE WHEN omeapi_brake.since <= ? THEN excluded.since ELSE omeapi_brake.since END
RETURNING since, failures
"""

#: Expired rows are deleted with every this many failures counted by one process.
_EXPIRE_EVERY = 100


class SqlFailureCounter:
    """The failed-login counts of every process using a SQL store (the brake's shared
    backend, see :class:`~omeapi._state.brake.FailureBrake`).

    A client's window starts at its first failure and lasts ``window`` seconds; every
    failure is one upsert in a write transaction, so concurrent processes count each one
    exactly once.  Times are POSIX (``clock``): the same in every process.
    """

    def __init__(self, store: SqlStore[Any], *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.clock = clock
        self._counted = 0

    def count_failure(self, client: str, window: float) -> tuple[float, int]:
        """Count a failure of ``client`` now: returns its window's start and the failures
        in the window, this one included."""
        now = self.clock()
        horizon = now - window
        d = self._store.dialect
        self._counted += 1
        expire = self._counted % _EXPIRE_EVERY == 1

        def count(execute: Execute) -> tuple[float, int]:
            if expire:
                execute(d.sql("DELETE FROM omeapi_brake WHERE since <= ?"), (horizon,))
            row = execute(d.sql(_COUNT_FAILURE), (client, now, horizon, horizon)).fetchone()
            return float(row[0]), int(row[1])

        return self._store.transaction(count)

    def forget(self, client: str) -> None:
        """Forget ``client``'s failures (it logged in)."""
        d = self._store.dialect
        self._store.transaction(
            lambda execute: execute(d.sql("DELETE FROM omeapi_brake WHERE client = ?"), (client,))
        )


class SqlStore(abc.ABC, Generic[Conn]):
    """What the SQL stores share; a store provides :meth:`_connect`, :meth:`transaction`,
    :meth:`_read` and its own error mapping (``_driver_errors``)."""

    dialect: Dialect
    #: the driver's exception base class
    _driver_errors: type[Exception] | tuple[type[Exception], ...] = ()

    def __init__(self, location: str, audit_retention: AuditRetention | None) -> None:
        self.location = location
        self.audit_retention = audit_retention
        self._local = threading.local()
        self._connections: list[Conn] = []
        self._guard = threading.Lock()
        self._closed = False
        self._node = node_name()
        #: changes this object wrote (the retention applies every so many)
        self._writes = 0
        #: the generation file the store bumps after each commit (see _use_generation)
        self._generation: GenerationFile | None = None
        #: its mapped word, read directly by generation(): the hot path skips a call
        self._word = memoryview(b"")

    # -- the generation -----------------------------------------------------------------

    def _use_generation(self, generation: GenerationFile | None) -> None:
        self._generation = generation
        self._word = memoryview(b"") if generation is None else generation.word

    def _bump(self) -> None:
        """After a commit: whoever sees the new generation finds the change in the store."""
        generation = self._generation
        if generation is not None:
            generation.bump()

    def _read_generation(self) -> int | None:
        try:
            value: int = self._word[0]
        except (IndexError, ValueError):  # closed
            return None
        return value

    # -- connections --------------------------------------------------------------------

    @abc.abstractmethod
    def _connect(self) -> Conn:
        """A new connection of this thread's."""

    def _usable(self, conn: Conn) -> bool:
        """Whether a thread's connection can still be used (not closed under it)."""
        return True

    def _conn(self) -> Conn:
        local = self._local
        conn: Conn | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid() or not self._usable(conn):
            if self._closed:
                raise StoreError(f"{self.location}: the store is closed")
            conn = self._connect()
            local.conn, local.pid = conn, os.getpid()
            with self._guard:
                self._connections.append(conn)
        return conn

    def _forget(self) -> None:
        # After an error the connection may be unusable (a locked or vanished file, a
        # database restart): the next call of this thread opens a new one.
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        self._local.cursor = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
            with self._guard, contextlib.suppress(ValueError):
                self._connections.remove(conn)

    def close(self) -> None:
        """Close every connection this object opened (in this process), and its
        generation file."""
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()
        generation = self._generation
        self._use_generation(None)
        if generation is not None:
            with contextlib.suppress(BufferError, ValueError):
                generation.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors as :class:`StoreError` (the connection is replaced next time)."""
        try:
            yield
        except self._driver_errors as exc:
            self._forget()
            raise StoreError(f"{self.location}: {exc}") from exc

    @abc.abstractmethod
    def transaction(self, work: Callable[[Execute], T]) -> T:
        """Run ``work(execute)`` in one write transaction (committed if it returns)."""

    @abc.abstractmethod
    def _read(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows ``query`` selects."""

    # -- shared parts of the Store interface ---------------------------------------------

    def _apply_in(self, execute: Execute, version: int, change: Change) -> int:
        """The body of :meth:`apply` after the counter moved to ``version``."""
        checked_write(execute, self.dialect, change, version, self._node)
        self._writes += 1
        retention = self.audit_retention
        if retention is not None and retention.due(self._writes):
            prune(execute, self.dialect, retention, time.time())
        return version

    @abc.abstractmethod
    def _count_change(self, execute: Execute) -> int:
        """Move the change counter in the caller's transaction; the new version (and
        whatever tells other nodes about it)."""

    def add_token(self, token: StoredToken) -> int:
        d = self.dialect

        def work(execute: Execute) -> int:
            found = execute(
                d.sql("SELECT 1 FROM omeapi_tokens WHERE id = ? OR name = ?"),
                (token.id, token.name),
            ).fetchone()
            if found is not None:
                raise StoreConflict("token_exists", f"token {token.name} exists")
            version = self._count_change(execute)
            execute(
                d.sql(
                    "INSERT INTO omeapi_tokens (id, name, digest, read_only, vhosts, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    token.id,
                    token.name,
                    token.digest,
                    int(token.read_only),
                    _dumps(list(token.vhosts)),
                    token.created,
                ),
            )
            return version

        version = self.transaction(work)
        self._bump()
        return version

    def revoke_token(self, id_or_name: str) -> StoredToken | None:
        d = self.dialect

        def work(execute: Execute) -> StoredToken | None:
            rows = execute(
                d.sql(TOKENS_QUERY.replace(" ORDER BY", " WHERE id = ? OR name = ? ORDER BY")),
                (id_or_name, id_or_name),
            ).fetchall()
            if not rows:
                return None
            token = state_of(0, [], [], rows[:1]).tokens[0]
            self._count_change(execute)
            execute(d.sql("DELETE FROM omeapi_tokens WHERE id = ?"), (token.id,))
            return token

        token = self.transaction(work)
        if token is not None:
            self._bump()
        return token

    def append_event(self, kind: str, vhost: str, data: Any, when: float) -> int:
        d = self.dialect

        def work(execute: Execute) -> int:
            insert_event(execute, d, kind, vhost, data, when)
            row = execute("SELECT MAX(id) FROM omeapi_events").fetchone()
            return int(row[0])

        return self.transaction(work)

    def events_after(self, after: int, limit: int = 500) -> list[EventRecord]:
        rows = self._read(
            _EVENTS_QUERY + self.dialect.sql(" WHERE id > ? ORDER BY id LIMIT ?"), (after, limit)
        )
        return [EventRecord(int(i), float(t), k, v, json.loads(data)) for i, t, k, v, data in rows]

    def last_event_id(self) -> int:
        rows = self._read("SELECT MAX(id) FROM omeapi_events", ())
        return int(rows[0][0] or 0) if rows else 0

    def audit_log(self, since: float | None = None) -> list[AuditRecord]:
        query, params = _AUDIT_QUERY, tuple[float, ...]()
        if since is not None:
            query, params = query + self.dialect.sql(" WHERE time >= ?"), (since,)
        return [audit_record(row) for row in self._read(query + " ORDER BY id", params)]

    def prune_audit(self, retention: AuditRetention, now: float | None = None) -> int:
        when = time.time() if now is None else now
        return self.transaction(lambda execute: prune(execute, self.dialect, retention, when))

    def brake_backend(self, *, clock: Callable[[], float] = time.time) -> SqlFailureCounter:
        """A failure counter shared by every process using this store (for
        :meth:`~omeapi._state.brake.FailureBrake.for_store`)."""
        return SqlFailureCounter(self, clock=clock)
