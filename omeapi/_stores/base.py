"""Where API-created resources are kept: the store interface and the in-memory store.

A store holds the API-created vhosts (with their apps and output profiles) in OME's JSON
form, a *change counter* (``version``) that every change increments, and the audit log.
The registry hands it one :class:`Change` per API change; :meth:`Store.apply` checks the
change's precondition and writes it, with its audit record, as **one transaction**, so a
store never holds half a change.  A store that other processes share (``shared``) is the
truth: every process compares :meth:`Store.version` with the version it last loaded and
reloads when it moved.

* :class:`MemoryStore` (this module): lives as long as the process, OME's own behaviour.
* :class:`~omeapi._stores.sqlite.SqliteStore`: a SQLite file in WAL mode, for one machine.
* :class:`~omeapi._stores.postgres.PostgresStore`: PostgreSQL, for several machines.

:func:`open_store` picks one from a location; :func:`store_for_config` from
``<Managers><API><Storage>``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from omeapi._errors import StoreConflict, StoreError

if TYPE_CHECKING:
    from omeapi._config import ServerConfig

__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_STORAGE_PATH",
    "AuditEntry",
    "AuditRecord",
    "Change",
    "MemoryStore",
    "Store",
    "StoreConflict",
    "StoreError",
    "StoreState",
    "StoredApp",
    "StoredVhost",
    "check_precondition",
    "node_name",
    "open_store",
    "sqlite_file",
    "store_for_config",
    "store_location",
]

Json = dict[str, Any]

#: OME's default ``<Storage><Path>`` (resolved against the config directory like a written one).
DEFAULT_STORAGE_PATH = "conf/api_data"
#: The SQLite file created inside a ``<Path>`` directory.
DB_FILE_NAME = "omeapi.sqlite3"
#: File name endings that make a ``<Path>`` the SQLite file itself rather than its directory.
_DB_SUFFIXES = (".sqlite3", ".sqlite", ".db")


@attrs.frozen
class StoredApp:
    """An app as stored: its JSON and the version of the change that last wrote it."""

    name: str
    config: Json = attrs.field(eq=False, repr=False)
    revision: int = 0


@attrs.frozen
class StoredVhost:
    """A vhost as stored: its own JSON (without apps), its apps in order, and the version
    of the change that created it (vhosts are never changed in place)."""

    name: str
    config: Json = attrs.field(eq=False, repr=False)
    apps: tuple[StoredApp, ...] = ()
    revision: int = 0


@attrs.frozen
class StoreState:
    """Everything stored at one version: vhosts in creation order."""

    version: int
    vhosts: tuple[StoredVhost, ...] = ()


@attrs.frozen
class AuditEntry:
    """What the audit log records with a change: when (POSIX time), who (client address),
    which request, and a summary of what changed (secrets already redacted)."""

    time: float
    client: str
    method: str
    path: str
    summary: Json


@attrs.frozen
class AuditRecord:
    """A stored audit entry: ``version`` is the change counter after the change, ``node``
    the process that made it (``host:pid``)."""

    id: int
    version: int
    time: float
    client: str
    method: str
    path: str
    summary: Json
    node: str = ""


@attrs.frozen
class Change:
    """One API change, applied by a store as one transaction.

    ``config`` is the vhost's JSON (``CREATE_VHOST``) or the app's (``CREATE_APP``,
    ``UPDATE_APP``); ``apps`` the apps created with a vhost.  Preconditions:
    ``CREATE_VHOST`` needs the vhost absent, ``DELETE_VHOST`` present; ``CREATE_APP`` needs
    the vhost present and the app absent, ``UPDATE_APP`` / ``DELETE_APP`` both present.
    """

    CREATE_VHOST = "create_vhost"
    DELETE_VHOST = "delete_vhost"
    CREATE_APP = "create_app"
    UPDATE_APP = "update_app"
    DELETE_APP = "delete_app"

    VHOST_EXISTS = "vhost_exists"
    VHOST_MISSING = "vhost_missing"
    APP_EXISTS = "app_exists"
    APP_MISSING = "app_missing"

    kind: str
    vhost: str
    app: str = ""
    config: Json | None = attrs.field(default=None, eq=False, repr=False)
    apps: tuple[tuple[str, Json], ...] = attrs.field(default=(), eq=False, repr=False)
    audit: AuditEntry | None = attrs.field(default=None, eq=False, repr=False)


def node_name() -> str:
    """``host:pid`` of this process, as audit records name it."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


@runtime_checkable
class Store(Protocol):
    """Persistence of API-created vhosts and apps (see the module docstring).

    A store whose :meth:`watch` pushes changes also sets ``notifies = True``, so that the
    follower polls it rarely (every 5 s rather than every 0.25 s).
    """

    #: True when other processes may change the store (then it is polled or listened to).
    shared: bool
    #: Where the store is, for messages (never with a password).
    location: str

    def version(self) -> int:
        """The change counter: how many changes the store holds.  Called on every request
        of a process that serves a shared store, so it must be cheap."""

    def load(self) -> StoreState:
        """Everything stored, read in one consistent snapshot."""

    def apply(self, change: Change) -> int:
        """Check ``change``'s precondition and write it with its audit record in one
        transaction; returns the new version.  Raises :class:`StoreConflict` when the
        precondition fails (nothing is written) and :class:`StoreError` when the store
        cannot be written (nothing is written either)."""

    def lock(self, name: str) -> AbstractContextManager[None]:
        """A lock named ``name`` held against every process using the store (released if
        the holder dies).  The caller serialises its own threads first."""

    def watch(self, on_change: Callable[[], None], stop: threading.Event) -> bool:
        """Call ``on_change`` whenever another process changes the store, until ``stop``
        is set.  Returns False at once when the store cannot push changes (poll it)."""

    def audit_log(self, since: float | None = None) -> list[AuditRecord]:
        """Audit records (oldest first), those at or after POSIX time ``since`` if given."""

    def close(self) -> None:
        """Release connections and files (the store is not used afterwards)."""


class _MemoryVhost:
    __slots__ = ("apps", "config", "revision")

    def __init__(self, config: Json, revision: int) -> None:
        self.config = config
        self.revision = revision
        self.apps: dict[str, tuple[Json, int]] = {}


class MemoryStore:
    """A store that lives as long as the process (OME's own behaviour).

    :meth:`apply` writes through the primitive methods (:meth:`put_vhost`,
    :meth:`delete_vhost`, :meth:`put_app`, :meth:`delete_app`), all under one lock, so a
    subclass can observe every change in commit order by overriding them.  The audit log
    keeps the last ``audit_limit`` records.
    """

    shared = False
    notifies = False
    location = "memory"

    def __init__(self, *, audit_limit: int = 10_000) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._vhosts: dict[str, _MemoryVhost] = {}
        self._version = 0
        self._audit: deque[AuditRecord] = deque(maxlen=audit_limit)
        self._names: dict[str, threading.Lock] = {}
        self._node = node_name()
        #: the version the change being applied will have (rows written get it as revision)
        self._writing = 0

    # -- the Store interface ----------------------------------------------------------

    def version(self) -> int:
        return self._version

    def load(self) -> StoreState:
        with self._lock:
            return StoreState(
                self._version,
                tuple(
                    StoredVhost(
                        name,
                        dict(v.config),
                        tuple(StoredApp(a, dict(c), r) for a, (c, r) in v.apps.items()),
                        v.revision,
                    )
                    for name, v in self._vhosts.items()
                ),
            )

    def apply(self, change: Change) -> int:
        with self._lock:
            check_precondition(change, self._has_vhost(change.vhost), self._has_app(change))
            version = self._version + 1
            self._writing = version
            try:
                self._write(change)
            finally:
                self._writing = 0
            self._version = version
            if change.audit is not None:
                audit = change.audit
                self._audit.append(
                    AuditRecord(
                        len(self._audit) + 1,
                        version,
                        audit.time,
                        audit.client,
                        audit.method,
                        audit.path,
                        audit.summary,
                        self._node,
                    )
                )
            self._changed.notify_all()
            return version

    def _write(self, change: Change) -> None:
        kind = change.kind
        if kind == Change.CREATE_VHOST:
            self.put_vhost(change.vhost, dict(change.config or {}))
            for name, app in change.apps:
                self.put_app(change.vhost, name, app)
        elif kind == Change.DELETE_VHOST:
            self.delete_vhost(change.vhost)
        elif kind in (Change.CREATE_APP, Change.UPDATE_APP):
            self.put_app(change.vhost, change.app, dict(change.config or {}))
        else:
            self.delete_app(change.vhost, change.app)

    def lock(self, name: str) -> AbstractContextManager[None]:
        # Serialises the users of this one store object (the Apis sharing it in a process).
        with self._lock:
            lock = self._names.setdefault(name, threading.Lock())
        return _locked(lock)

    def watch(self, on_change: Callable[[], None], stop: threading.Event) -> bool:
        return False

    def audit_log(self, since: float | None = None) -> list[AuditRecord]:
        with self._lock:
            return [r for r in self._audit if since is None or r.time >= since]

    def close(self) -> None:
        pass

    # -- primitives (called under the lock by apply) ------------------------------------

    def put_vhost(self, name: str, vhost: dict[str, Any]) -> None:
        """Store (or replace) a vhost's own JSON (without its apps)."""
        existing = self._vhosts.get(name)
        row = _MemoryVhost(vhost, self._revision())
        if existing is not None:
            row.apps = existing.apps
        self._vhosts[name] = row

    def delete_vhost(self, name: str) -> None:
        """Forget a vhost and its apps."""
        self._vhosts.pop(name, None)

    def put_app(self, vhost: str, name: str, app: dict[str, Any]) -> None:
        """Store (or replace, keeping its place) an app's JSON."""
        owner = self._vhosts.get(vhost)
        if owner is not None:
            owner.apps[name] = (app, self._revision())

    def delete_app(self, vhost: str, name: str) -> None:
        """Forget an app."""
        owner = self._vhosts.get(vhost)
        if owner is not None:
            owner.apps.pop(name, None)

    def _revision(self) -> int:
        return self._writing or self._version + 1

    def _has_vhost(self, name: str) -> bool:
        return name in self._vhosts

    def _has_app(self, change: Change) -> bool:
        owner = self._vhosts.get(change.vhost)
        return owner is not None and change.app in owner.apps


@contextlib.contextmanager
def _locked(lock: threading.Lock) -> Iterator[None]:
    with lock:
        yield


def check_precondition(change: Change, has_vhost: bool, has_app: bool) -> None:
    """Raise :class:`StoreConflict` unless ``change``'s precondition holds."""
    kind = change.kind
    where = change.vhost if not change.app else f"{change.vhost}/{change.app}"
    if kind == Change.CREATE_VHOST:
        if has_vhost:
            raise StoreConflict(Change.VHOST_EXISTS, f"{where} exists")
        return
    if kind not in (
        Change.DELETE_VHOST,
        Change.CREATE_APP,
        Change.UPDATE_APP,
        Change.DELETE_APP,
    ):
        raise ValueError(f"unknown change kind {kind!r}")
    if not has_vhost:
        raise StoreConflict(Change.VHOST_MISSING, f"{change.vhost} does not exist")
    if kind == Change.CREATE_APP and has_app:
        raise StoreConflict(Change.APP_EXISTS, f"{where} exists")
    if kind in (Change.UPDATE_APP, Change.DELETE_APP) and not has_app:
        raise StoreConflict(Change.APP_MISSING, f"{where} does not exist")


# -- choosing a store ------------------------------------------------------------------


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _is_postgres(location: str) -> bool:
    return location.startswith(_POSTGRES_SCHEMES)


def sqlite_file(path: str) -> str:
    """The SQLite file for a ``<Storage><Path>``: the path itself when it names a file
    (an existing one, or one ending in ``.sqlite3``/``.sqlite``/``.db``), else
    ``omeapi.sqlite3`` inside it (a directory, OME's meaning of ``<Path>``)."""
    if os.path.isfile(path) or path.endswith(_DB_SUFFIXES):
        return path
    return os.path.join(path, DB_FILE_NAME)


def store_location(config: ServerConfig, override: str | None = None) -> str | None:
    """Where ``config``'s store is (a PostgreSQL URL or a SQLite file), or None for the
    in-memory store.

    ``override`` (``--store``) wins: ``memory`` forces the in-memory store.  Otherwise
    ``<Managers><API><Storage>`` decides: absent or ``<Enabled>false`` is in-memory; an
    empty ``<Path>`` is OME's default ``conf/api_data``, resolved against the config
    directory as a written one is.
    """
    if override is not None:
        if override == "memory":
            return None
        return override if _is_postgres(override) else sqlite_file(os.path.abspath(override))
    manager = config.api_manager
    storage = manager.storage if manager is not None else None
    if storage is None or not storage.enabled:
        return None
    path = storage.path
    # ResolvePath put the config directory in front of a URL too ("<dir>/postgresql://…").
    for scheme in _POSTGRES_SCHEMES:
        start = path.find(scheme)
        if start >= 0:
            return path[start:]
    if not path:
        path = f"{(config.config_dir or os.getcwd()).rstrip('/')}/{DEFAULT_STORAGE_PATH}"
    return sqlite_file(path)


def open_store(location: str | None) -> Store:
    """The store at ``location`` (from :func:`store_location`): PostgreSQL for a
    ``postgresql://`` URL, SQLite for a file path, in-memory for None or ``memory``."""
    if location is None or location == "memory":
        return MemoryStore()
    if _is_postgres(location):
        from omeapi._stores.postgres import PostgresStore

        return PostgresStore(location)
    from omeapi._stores.sqlite import SqliteStore

    return SqliteStore(sqlite_file(location))


def store_for_config(config: ServerConfig, override: str | None = None) -> Store:
    """The store ``config`` asks for (see :func:`store_location`), opened."""
    return open_store(store_location(config, override))
