"""The PostgreSQL store: API nodes on several machines sharing one database (psycopg 3).

The same tables as the SQLite store (``omeapi_*``, so the database may hold other things)
and the same guarantees:

* One change, one transaction.  It starts by incrementing the change counter
  (``UPDATE omeapi_meta … RETURNING version``): that row lock serialises writers, and
  under READ COMMITTED every statement after it sees what earlier writers committed, so
  the precondition check and the write agree.
* The transaction ends with ``NOTIFY omeapi_changes`` (sent at commit), which every
  node's follower ``LISTEN``\\s to, so that its engine follows other nodes' changes.
* Requests check freshness with a *generation* (:class:`~omeapi._stores.base.Generation`):
  a counter mapped shared by the processes of the machine that use this database
  (:func:`~omeapi._stores.generation.machine_generation`).  A process bumps it after each
  change it commits, before answering, so the workers of one machine see each other's
  changes at their next request; each process's listener bumps it when another node's
  notification arrives.  While a process is not listening (its listener reconnecting, or
  not started) it has no generation and reads the counter on every request.  Changes
  themselves always start from the database's state, never from a notified one.
* Cross-process locks are session advisory locks (``pg_advisory_lock``), released by the
  server when the holder's connection ends, so a node that dies leaves none behind.
* Connections are per thread (and per process); one broken by a database restart is
  replaced on the next call.

The tables, the row mapping and the checked write are :mod:`omeapi._stores.sql`'s.

Install with ``pip install omeapi[postgres]`` (psycopg 3 with its binary libpq).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from omeapi._stores.base import AuditRetention, Change, StoreError, StoreState
from omeapi._stores.generation import machine_generation
from omeapi._stores.sql import (
    APPS_QUERY,
    POSTGRES,
    SCHEMA_VERSION,
    TOKENS_QUERY,
    VERSION_QUERY,
    VHOSTS_QUERY,
    Execute,
    SqlStore,
    schema,
    state_of,
)

try:
    import psycopg
    from psycopg import conninfo
except ImportError:  # pragma: no cover - depends on the installation
    psycopg = None  # type: ignore[assignment]

__all__ = ["CHANNEL", "SCHEMA_VERSION", "PostgresStore", "safe_location"]

log = logging.getLogger("omeapi")

T = TypeVar("T")

#: The ``NOTIFY`` channel; the payload is the new version.
CHANNEL = "omeapi_changes"

#: What names the database in every process that opens it: the cluster's system identifier,
#: the database and the schema (the tables are unqualified).
_IDENTITY_QUERY = (
    "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
    "current_database(), current_schema()"
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


class PostgresStore(SqlStore["psycopg.Connection[Any]"]):
    """A :class:`~omeapi.Store` in the PostgreSQL database at ``dsn``
    (``postgresql://user:password@host:port/db`` or a libpq connection string);
    ``audit_retention`` limits the audit log (see :class:`~omeapi._stores.base.AuditRetention`)."""

    shared = True
    notifies = True
    dialect = POSTGRES

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 10.0,
        audit_retention: AuditRetention | None = None,
    ) -> None:
        if psycopg is None:
            raise StoreError("the PostgreSQL store needs psycopg 3: pip install 'omeapi[postgres]'")
        self._driver_errors = psycopg.Error
        super().__init__(safe_location(dsn), audit_retention)
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._listening = False
        try:
            conn = self._conn()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in schema(POSTGRES):
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
        # The machine's generation of this database, trusted only while listening.
        self._use_generation(machine_generation(self._identity(conn)))

    def _identity(self, conn: psycopg.Connection[Any]) -> str:
        try:
            row = conn.execute(_IDENTITY_QUERY).fetchone()
        except psycopg.Error:  # pg_control_system() refused: the address names it then
            row = None
        return "postgresql " + ("/".join(map(str, row)) if row else self.location)

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=max(1, int(self.connect_timeout)),
            application_name="omeapi",
        )

    def _read(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        with self._errors():
            return self._conn().execute(query, params).fetchall()

    def _usable(self, conn: psycopg.Connection[Any]) -> bool:
        return not conn.closed

    def transaction(self, work: Callable[[Execute], T]) -> T:
        with self._errors():
            conn = self._conn()
            with conn.transaction():
                return work(conn.execute)

    # -- the Store interface ----------------------------------------------------------------

    def version(self) -> int:
        with self._errors():
            row = self._conn().execute(VERSION_QUERY).fetchone()
        return int(row[0]) if row else 0

    def load(self) -> StoreState:
        with self._errors():
            conn = self._conn()
            # REPEATABLE READ: the counter and the rows are of the same moment.
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = conn.execute(VERSION_QUERY).fetchone()
                vhosts = conn.execute(VHOSTS_QUERY).fetchall()
                apps = conn.execute(APPS_QUERY).fetchall()
                tokens = conn.execute(TOKENS_QUERY).fetchall()
        return state_of(int(row[0]) if row else 0, vhosts, apps, tokens)

    def apply(self, change: Change) -> int:
        version = self.transaction(lambda execute: self._apply(execute, change))
        # Committed: this machine's other workers look at the counter at their next request.
        self._bump()
        return version

    def generation(self) -> int | None:
        """The machine's generation of this database while this process listens to the
        other nodes' notifications, else None (see :class:`~omeapi._stores.base.Generation`)."""
        return self._read_generation() if self._listening else None

    def _apply(self, execute: Execute, change: Change) -> int:
        return self._apply_in(execute, self._count_change(execute), change)

    def _count_change(self, execute: Execute) -> int:
        row = execute("UPDATE omeapi_meta SET version = version + 1 RETURNING version").fetchone()
        assert row is not None
        version = int(row[0])
        # Delivered at commit (and not at all on a rollback): the other nodes' followers.
        execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(version)))
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
        calls ``on_change`` then, as a notification may have been missed).  Each
        notification bumps the machine's generation before ``on_change``, so requests see
        another node's change once it has arrived."""
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Changes may have been missed while not listening: look once more.
                    self._bump()
                    self._listening = True
                    on_change()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._bump()
                            on_change()
            except psycopg.Error as exc:
                log.warning("listening to %s failed (%s); retrying", self.location, exc)
                stop.wait(1.0)
            finally:
                self._listening = False
        return True

    def close(self) -> None:
        self._listening = False
        super().close()
