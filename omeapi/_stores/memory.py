"""The in-memory store: API-created resources live as long as the process (OME's own
behaviour)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

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
    StoreState,
    check_precondition,
    config_event,
    node_name,
)

__all__ = ["MemoryStore"]

Json = dict[str, Any]


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
    keeps the last ``audit_limit`` records, and no more than ``audit_retention`` allows
    (applied on write, see :class:`~omeapi._stores.base.AuditRetention`).
    """

    shared = False
    notifies = False
    location = "memory"

    def __init__(
        self,
        *,
        audit_limit: int = 10_000,
        audit_retention: AuditRetention | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._vhosts: dict[str, _MemoryVhost] = {}
        self._version = 0
        self._audit: deque[AuditRecord] = deque(maxlen=audit_limit)
        self._audit_ids = 0
        self.audit_retention = audit_retention
        self._clock = clock
        #: changes written by this object (the retention applies every so many)
        self._writes = 0
        self._names: dict[str, threading.Lock] = {}
        self._node = node_name()
        #: the version the change being applied will have (rows written get it as revision)
        self._writing = 0
        self._tokens: dict[str, StoredToken] = {}
        self._events: deque[EventRecord] = deque(maxlen=EVENT_WINDOW)
        self._event_ids = 0

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
                tuple(self._tokens.values()),
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
                self._audit_ids += 1
                self._audit.append(
                    AuditRecord(
                        self._audit_ids,
                        version,
                        audit.time,
                        audit.client,
                        audit.method,
                        audit.path,
                        audit.summary,
                        self._node,
                    )
                )
                self._append_event(*config_event(audit, version), audit.time)
            self._writes += 1
            retention = self.audit_retention
            if retention is not None and retention.due(self._writes):
                self.prune_audit(retention)
            self._changed.notify_all()
            return version

    def append_event(self, kind: str, vhost: str, data: Json, when: float) -> int:
        with self._lock:
            return self._append_event(kind, vhost, data, when)

    def _append_event(self, kind: str, vhost: str, data: Json, when: float) -> int:
        self._event_ids += 1
        self._events.append(EventRecord(self._event_ids, when, kind, vhost, data))
        return self._event_ids

    def events_after(self, after: int, limit: int = 500) -> list[EventRecord]:
        with self._lock:
            if not self._events or self._events[-1].id <= after:
                return []
            return [e for e in self._events if e.id > after][:limit]

    def last_event_id(self) -> int:
        return self._event_ids

    def add_token(self, token: StoredToken) -> int:
        with self._lock:
            if any(t.id == token.id or t.name == token.name for t in self._tokens.values()):
                raise StoreConflict("token_exists", f"token {token.name} exists")
            self._tokens[token.id] = token
            return self._moved()

    def revoke_token(self, id_or_name: str) -> StoredToken | None:
        with self._lock:
            for token in self._tokens.values():
                if id_or_name in (token.id, token.name):
                    del self._tokens[token.id]
                    self._moved()
                    return token
            return None

    def _moved(self) -> int:
        self._version += 1
        self._changed.notify_all()
        return self._version

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

    def prune_audit(self, retention: AuditRetention, now: float | None = None) -> int:
        with self._lock:
            horizon = retention.horizon(self._clock() if now is None else now)
            before = len(self._audit)
            if horizon is not None:
                # Records are in write order, and their times are the requests': nearly
                # ordered, so every one is looked at rather than stopping at the first kept.
                kept = [r for r in self._audit if r.time >= horizon]
                if len(kept) != before:
                    self._audit = deque(kept, maxlen=self._audit.maxlen)
            if retention.rows is not None:
                while len(self._audit) > retention.rows:
                    self._audit.popleft()
            return before - len(self._audit)

    def close(self) -> None:
        """Nothing to release: the store lives as long as the process."""

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
