"""The restart coordinator: the one place that changes apps and drives the engine.

Changing an app or its output profiles restarts that app.  Changes to the same app are
serialised (a lock per app); different apps restart in parallel.  A change that alters
nothing restarts nothing.  If the engine cannot start the new config, the previous one is
started again and kept; if that fails too, the app is kept and marked failed.  When the
engine can change every altered field live, the app is updated without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import attrs

from omeapi.config import ApplicationConfig, VirtualHostConfig
from omeapi.engine import EngineError, EngineResult, MediaEngine
from omeapi.errors import ApiError
from omeapi.registry import AppEntry, Registry

__all__ = ["AppEvent", "RestartCoordinator", "orchestrator_error"]

log = logging.getLogger("omeapi")

_RESULT_STATUS = {
    EngineResult.FAILED: (500, "Failed to {op} the application: [{path}]"),
    EngineResult.EXISTS: (409, "Could not {op} the application: [{path}] already exists"),
    EngineResult.NOT_EXISTS: (404, "Could not {op} the application: [{path}] not exists"),
}


def orchestrator_error(op: str, vhost: str, app: str, exc: EngineError) -> ApiError:
    """OME's mapping of an orchestrator result to an HTTP error (``op``: create/delete)."""
    status, template = _RESULT_STATUS[exc.result]
    return ApiError(status, template.format(op=op, path=f"{vhost}/{app}"))


@attrs.frozen
class AppEvent:
    """What happened to an app: ``kind`` is ``restart``, ``hot_apply``, ``rollback`` or
    ``failed``; ``cause`` is the request that led to it."""

    vhost: str
    app: str
    kind: str
    cause: str
    sessions_dropped: int
    duration: float


Mutation = Callable[[ApplicationConfig], ApplicationConfig]


class RestartCoordinator:
    """Orders every change to vhosts and apps and applies it to registry and engine."""

    def __init__(
        self,
        registry: Registry,
        engine: MediaEngine,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.clock = clock
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._vhosts_lock = threading.Lock()
        self._subscribers: list[Callable[[AppEvent], None]] = []

    def subscribe(self, callback: Callable[[AppEvent], None]) -> None:
        """Call ``callback`` with every :class:`AppEvent`."""
        self._subscribers.append(callback)

    def _emit(self, event: AppEvent) -> None:
        log.info(
            "app %s/%s: %s (%s), %d sessions dropped, %.3f s",
            event.vhost,
            event.app,
            event.kind,
            event.cause,
            event.sessions_dropped,
            event.duration,
        )
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not undo a change
                log.exception("AppEvent subscriber failed")

    def app_lock(self, vhost: str, app: str) -> threading.Lock:
        """The lock that serialises changes to one app."""
        key = (vhost, app)
        lock = self._locks.get(key)
        if lock is None:
            with self._locks_guard:
                lock = self._locks.setdefault(key, threading.Lock())
        return lock

    # -- vhosts -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every vhost and app of the registry on the engine (at server start)."""
        for entry in self.registry.snapshot.vhosts.values():
            self.engine.create_virtual_host(entry.config)
            for app in entry.apps.values():
                self.engine.create_application(entry.name, app.config)

    def create_vhost(self, vhost: VirtualHostConfig) -> bool:
        """Create a vhost with its apps; False if the name exists.

        If the engine fails on the vhost or any of its apps, everything created is undone
        and :class:`EngineError` propagates.
        """
        with self._vhosts_lock:
            if self.registry.vhost(vhost.name) is not None:
                return False
            self.engine.create_virtual_host(vhost)
            created: list[str] = []
            try:
                for app in vhost.applications:
                    self.engine.create_application(vhost.name, app)
                    created.append(app.name)
            except EngineError:
                self._undo_vhost(vhost.name, created)
                raise
            self.registry.add_vhost(vhost, vhost.applications)
            return True

    def _undo_vhost(self, name: str, apps: Iterable[str]) -> None:
        for app in apps:
            try:
                self.engine.delete_application(name, app)
            except EngineError:
                log.warning("could not undo app %s/%s", name, app)
        try:
            self.engine.delete_virtual_host(name)
        except EngineError:
            log.warning("could not undo vhost %s", name)

    def delete_vhost(self, name: str) -> None:
        """Delete a vhost and its apps (engine first, then the registry)."""
        with self._vhosts_lock:
            entry = self.registry.vhost(name)
            if entry is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            for app in list(entry.apps):
                with self.app_lock(name, app):
                    try:
                        self.engine.delete_application(name, app)
                    except EngineError as exc:
                        if exc.result is not EngineResult.NOT_EXISTS:
                            raise
                    self.registry.remove_app(name, app)
            self.engine.delete_virtual_host(name)
            self.registry.remove_vhost(name)

    # -- apps ---------------------------------------------------------------------------

    def create_app(self, vhost: str, app: ApplicationConfig) -> AppEntry:
        """Create an app; raises ``ApiError`` with OME's orchestrator messages."""
        with self.app_lock(vhost, app.name):
            if self.registry.vhost(vhost) is None:
                raise orchestrator_error(
                    "create", vhost, app.name, EngineError(EngineResult.NOT_EXISTS)
                )
            if self.registry.app(vhost, app.name) is not None:
                raise orchestrator_error(
                    "create", vhost, app.name, EngineError(EngineResult.EXISTS)
                )
            try:
                self.engine.create_application(vhost, app)
            except EngineError as exc:
                raise orchestrator_error("create", vhost, app.name, exc) from None
            entry = AppEntry(app)
            self.registry.put_app(vhost, entry)
            return entry

    def delete_app(self, vhost: str, app: str) -> None:
        """Delete an app; raises ``ApiError`` with OME's orchestrator messages."""
        with self.app_lock(vhost, app):
            entry = self.registry.app(vhost, app)
            if entry is None:
                raise orchestrator_error("delete", vhost, app, EngineError(EngineResult.NOT_EXISTS))
            try:
                self.engine.delete_application(vhost, app)
            except EngineError as exc:
                # A failed app is not running: deleting it only forgets it.
                if not (entry.failed and exc.result is EngineResult.NOT_EXISTS):
                    raise orchestrator_error("delete", vhost, app, exc) from None
            self.registry.remove_app(vhost, app)

    def change_app(self, vhost: str, app: str, mutate: Mutation, cause: str) -> AppEntry:
        """Apply ``mutate`` to an app's config and restart (or hot-apply) it.

        ``mutate`` runs under the app's lock on the current config; it may raise (nothing
        is touched then).  Returns the entry now in the registry.
        """
        with self.app_lock(vhost, app):
            entry = self.registry.app(vhost, app)
            if entry is None:
                raise ApiError(404, f"Could not find the application: [{vhost}/{app}]")
            old = entry.config
            new = mutate(old)
            if new.to_json() == old.to_json() and not entry.failed:
                return entry  # nothing changed: nothing to restart
            started = self.clock()
            if not entry.failed and self._is_live_change(old, new):
                try:
                    self.engine.apply_live(vhost, old, new)
                except EngineError:
                    log.warning("hot apply of %s/%s failed; restarting instead", vhost, app)
                else:
                    return self._commit(vhost, new, "hot_apply", cause, 0, started)
            return self._restart(vhost, entry, new, cause, started)

    def _is_live_change(self, old: ApplicationConfig, new: ApplicationConfig) -> bool:
        live = self.engine.live_fields()
        if not live:
            return False
        before, after = old.to_json(), new.to_json()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        return bool(changed) and changed <= live

    def _restart(
        self, vhost: str, entry: AppEntry, new: ApplicationConfig, cause: str, started: float
    ) -> AppEntry:
        old = entry.config
        try:
            if entry.failed:
                self.engine.create_application(vhost, new)
                dropped = 0
            else:
                dropped = self.engine.restart_application(vhost, old, new).sessions_dropped
        except EngineError as exc:
            self._recover(vhost, entry, cause, started)
            raise orchestrator_error("create", vhost, old.name, exc) from None
        return self._commit(vhost, new, "restart", cause, dropped, started)

    def _recover(self, vhost: str, entry: AppEntry, cause: str, started: float) -> None:
        old = entry.config
        if entry.failed:
            return  # it was not running before the change either
        try:
            self.engine.create_application(vhost, old)
        except EngineError:
            log.error(
                "app %s/%s failed: neither the new nor the previous config starts", vhost, old.name
            )
            self.registry.put_app(vhost, AppEntry(old, dynamic=entry.dynamic, failed=True))
            self._emit(AppEvent(vhost, old.name, "failed", cause, 0, self.clock() - started))
            return
        self._emit(AppEvent(vhost, old.name, "rollback", cause, 0, self.clock() - started))

    def _commit(
        self,
        vhost: str,
        new: ApplicationConfig,
        kind: str,
        cause: str,
        dropped: int,
        started: float,
    ) -> AppEntry:
        entry = AppEntry(new)
        self.registry.put_app(vhost, entry)
        self._emit(AppEvent(vhost, new.name, kind, cause, dropped, self.clock() - started))
        return entry
