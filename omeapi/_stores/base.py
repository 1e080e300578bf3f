"""Where API-created resources are kept: the store interface and its values.

A store holds the API-created vhosts (with their apps and output profiles) in OME's JSON
form, a *change counter* (``version``) that every change increments, and the audit log.
The registry hands it one :class:`Change` per API change; :meth:`Store.apply` checks the
change's precondition and writes it, with its audit record, as **one transaction**, so a
store never holds half a change.  A store that other processes share (``shared``) is the
truth: every process compares :meth:`Store.version` with the version it last loaded and
reloads when it moved.

The stores themselves are below this module (arrows point here, never away):

* :class:`~omeapi._stores.memory.MemoryStore`: lives as long as the process, OME's own
  behaviour.
* :class:`~omeapi._stores.sqlite.SqliteStore`: a SQLite file in WAL mode, for one machine.
* :class:`~omeapi._stores.postgres.PostgresStore`: PostgreSQL, for several machines; what
  the two SQL stores share is :mod:`omeapi._stores.sql`.

:func:`~omeapi._stores.open.open_store` picks one from a location.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

from omeapi._access.tokens import StoredToken
from omeapi._errors import StoreConflict, StoreError

__all__ = [
    "AuditEntry",
    "AuditPruning",
    "AuditRecord",
    "AuditRetention",
    "Change",
    "EventLog",
    "EventRecord",
    "FailureCounter",
    "Generation",
    "Store",
    "StoreConflict",
    "StoreError",
    "StoreState",
    "StoredApp",
    "StoredToken",
    "StoredVhost",
    "TokenStore",
    "check_precondition",
    "node_name",
]

Json = dict[str, Any]

#: Seconds in a day, for :attr:`AuditRetention.days`.
DAY = 86400.0


@attrs.frozen
class AuditRetention:
    """How much of the audit log a store keeps: records younger than ``days`` days and/or
    the newest ``rows`` records (None: no limit of that kind; both None: keep everything).

    A store applies it on write, cheaply: with the first change it writes and then every
    ``every`` changes (so the log may briefly hold up to ``every`` records more).
    """

    days: float | None = None
    rows: int | None = None
    every: int = 100

    def __attrs_post_init__(self) -> None:
        if self.days is not None and not self.days > 0:
            raise ValueError(f"audit retention days must be positive: {self.days}")
        if self.rows is not None and self.rows < 1:
            raise ValueError(f"audit retention rows must be at least 1: {self.rows}")
        if self.every < 1:
            raise ValueError(f"audit retention interval must be at least 1: {self.every}")

    @property
    def keeps_everything(self) -> bool:
        return self.days is None and self.rows is None

    def horizon(self, now: float) -> float | None:
        """The POSIX time before which records go (None: no age limit)."""
        return None if self.days is None else now - self.days * DAY

    def due(self, writes: int) -> bool:
        """Whether the ``writes``-th change (counting from 1) written by one store object
        prunes the log."""
        return not self.keeps_everything and (writes - 1) % self.every == 0


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
    """Everything stored at one version: vhosts in creation order, and the scoped
    tokens."""

    version: int
    vhosts: tuple[StoredVhost, ...] = ()
    tokens: tuple[StoredToken, ...] = ()


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


@runtime_checkable
class Generation(Protocol):
    """A store with a cheaper freshness check than :meth:`Store.version` (kept out of
    :class:`Store` so that an embedder's own store without it still is a store).

    :meth:`generation` is a number that changes, after the commit, whenever a change may
    have been committed (by any process that can change the store unseen).  A reader that
    read generation ``g`` *before* reading the store has seen every change until ``g``
    moves again, so while it stays the same no database read is needed.  A store shared
    across machines may move it only once another machine's change has been notified:
    reads then lag such a change for as long as that takes, which is why the base of a
    change is always read from the store itself (``Registry.refresh(check=True)``).
    """

    def generation(self) -> int | None:
        """The current generation, or None when there is none to trust right now (then
        read :meth:`Store.version`).  Called on every request: a memory read, no I/O."""


class FailureCounter(Protocol):
    """Failure counts that several processes share (a store's, see
    :meth:`~omeapi._state.brake.FailureBrake.for_store`).  A client's window starts with its
    first failure and lasts ``window`` seconds; each call is one atomic update of the shared
    count."""

    #: the counter's time base, the same in every process (POSIX seconds)
    clock: Callable[[], float]

    def count_failure(self, client: str, window: float) -> tuple[float, int]:
        """Count one failure of ``client`` now: its window's start and the failures in it,
        this one included.  May raise :class:`~omeapi.StoreError`."""

    def forget(self, client: str) -> None:
        """Forget ``client``'s failures.  May raise :class:`~omeapi.StoreError`."""


#: How many events a store keeps for subscribers that resume (``Last-Event-ID``).
EVENT_WINDOW = 1000


@attrs.frozen
class EventRecord:
    """One event of the feed (an omeapi extension): ``id`` grows with every event,
    ``kind`` such as ``config.changed`` or ``stream.started``, the vhost it concerns
    (empty: the whole server) and its data (JSON)."""

    id: int
    time: float
    kind: str
    vhost: str
    data: Json = attrs.field(eq=False)


@runtime_checkable
class EventLog(Protocol):
    """A store that keeps the event feed's recent events (every store of this package
    does): config changes are appended in the change's own transaction, runtime events by
    the process that owns the engine.  Only the last :data:`EVENT_WINDOW` are kept."""

    def append_event(self, kind: str, vhost: str, data: Json, when: float) -> int:
        """Append an event; its id."""

    def events_after(self, after: int, limit: int = 500) -> list[EventRecord]:
        """The events with an id above ``after``, oldest first, at most ``limit``."""

    def last_event_id(self) -> int:
        """The newest event's id (0: none yet)."""


def config_event(audit: AuditEntry, version: int) -> tuple[str, str, Json]:
    """The event a config change's audit entry makes: kind, vhost, data."""
    summary = audit.summary
    vhost = str(summary.get("vhost", "")) if isinstance(summary, dict) else ""
    data = {
        "version": version,
        "method": audit.method,
        "path": audit.path,
        "change": summary,
    }
    return "config.changed", vhost, data


@runtime_checkable
class TokenStore(Protocol):
    """A store that keeps scoped access tokens (every store of this package does).  A
    token change moves the change counter (and the generation), like any change, so every
    process sees it at its next request.  Kept out of :class:`Store` so that an
    embedder's own store without it still is a store (then only the admin token works)."""

    def add_token(self, token: StoredToken) -> int:
        """Store ``token``; returns the new version.  Raises :class:`StoreConflict`
        when a token of that id or name exists."""

    def revoke_token(self, id_or_name: str) -> StoredToken | None:
        """Delete the token with that id or name; the token deleted, or None."""


@runtime_checkable
class AuditPruning(Protocol):
    """A store that can prune its audit log (every store of this package can).  Kept out of
    :class:`Store` so that an embedder's own store without it still is a store."""

    def prune_audit(self, retention: AuditRetention, now: float | None = None) -> int:
        """Delete the audit records ``retention`` does not keep (``now``: POSIX time, the
        current time if None); returns how many went."""


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
