"""The restart coordinator: the one place that changes apps and drives the engine.

Changing an app or its output profiles restarts that app.  Changes to the same app are
serialised (a lock per app, held against every process sharing the store); different apps
restart in parallel.  A change that alters nothing restarts nothing.  If the engine cannot
start the new config, the previous one is started again and kept; if that fails too, the
app is kept and marked failed.  When the engine can change every altered field live, the
app is updated without a restart.

The coordinator also knows what its engine runs (``_running``), which can lag behind the
registry when another process changed the shared store: :meth:`reconcile` (called by the
:class:`~omeapi._state.follow.StoreFollower`) and every change (for the app it holds) first bring
the engine up to date, through the same restart path.

Lock order, outermost first: ``_reconcile_lock``, ``_vhosts_lock`` (+ the store's vhosts
lock), app locks (+ the store's app lock), ``_state``.  Only :meth:`delete_vhost` holds
more than one app lock, under ``_vhosts_lock``; ``_state`` is never held while waiting for
another lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import attrs

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.protocol import EngineError, EngineResult, MediaEngine
from omeapi._errors import ApiError
from omeapi._state import audit
from omeapi._state.registry import AppEntry, Registry, Snapshot
from omeapi._stores.base import AuditEntry, Change, Store, StoreConflict

__all__ = ["STORE_CAUSE", "AppEvent", "RestartCoordinator", "orchestrator_error"]

log = logging.getLogger("omeapi")

_RESULT_STATUS = {
    EngineResult.FAILED: (500, "Failed to {op} the application: [{path}]"),
    EngineResult.EXISTS: (409, "Could not {op} the application: [{path}] already exists"),
    EngineResult.NOT_EXISTS: (404, "Could not {op} the application: [{path}] not exists"),
}

#: The cause of events for changes another process made (through the shared store).
STORE_CAUSE = "store"

#: The store lock serialising vhost creation and deletion across processes.
_VHOSTS_LOCK = "vhosts"

Key = tuple[str, str]


def orchestrator_error(op: str, vhost: str, app: str, exc: EngineError) -> ApiError:
    """OME's mapping of an orchestrator result to an HTTP error (``op``: create/delete)."""
    status, template = _RESULT_STATUS[exc.result]
    return ApiError(status, template.format(op=op, path=f"{vhost}/{app}"))


@attrs.frozen
class AppEvent:
    """What happened to an app: ``kind`` is ``restart``, ``hot_apply``, ``rollback`` or
    ``failed``; ``cause`` is the request that led to it (``store`` for a change another
    process made)."""

    vhost: str
    app: str
    kind: str
    cause: str
    sessions_dropped: int
    duration: float


Mutation = Callable[[ApplicationConfig], ApplicationConfig]


def _same(a: ApplicationConfig | None, b: ApplicationConfig | None) -> bool:
    if a is b:
        return True
    return a is not None and b is not None and a.to_json() == b.to_json()


def _same_vhost(a: VirtualHostConfig, b: VirtualHostConfig) -> bool:
    return a is b or a.to_json() == b.to_json()


class RestartCoordinator:
    """Orders every change to vhosts and apps and applies it to registry and engine."""

    def __init__(
        self,
        registry: Registry,
        engine: MediaEngine,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.clock = clock
        #: the time written into audit records
        self.wall_clock = wall_clock
        self._locks: dict[Key, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._vhosts_lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        #: guards the engine bookkeeping below, and engine vhost calls (innermost lock)
        self._state = threading.Lock()
        #: what the engine runs: app config per (vhost, app), and the vhosts
        self._running: dict[Key, ApplicationConfig] = {}
        self._running_vhosts: dict[str, VirtualHostConfig] = {}
        #: configs from the store this engine could not start (not tried again)
        self._tried: dict[Key, ApplicationConfig] = {}
        self._reconciled: Snapshot | None = None
        self._subscribers: list[Callable[[AppEvent], None]] = []

    @property
    def store(self) -> Store:
        return self.registry.store

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
        """The lock that serialises this process's changes to one app."""
        key = (vhost, app)
        lock = self._locks.get(key)
        if lock is None:
            with self._locks_guard:
                lock = self._locks.setdefault(key, threading.Lock())
        return lock

    @contextlib.contextmanager
    def _app_guard(self, vhost: str, app: str) -> Iterator[None]:
        """The app's lock here and in every process sharing the store."""
        with self.app_lock(vhost, app), self.store.lock("app " + json.dumps([vhost, app])):
            yield

    def _audit(self, summary: dict[str, object]) -> AuditEntry:
        return audit.entry(summary, self.wall_clock)

    def _set_running(self, key: Key, config: ApplicationConfig | None) -> None:
        with self._state:
            if config is None:
                self._running.pop(key, None)
            else:
                self._running[key] = config
                self._tried.pop(key, None)

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every vhost and app of the registry on the engine (at server start).

        Server.xml's must start; a stored one that does not is logged and kept (marked
        failed), as a failed restart would leave it.
        """
        for entry in self.registry.snapshot.vhosts.values():
            try:
                self.engine.create_virtual_host(entry.config)
            except EngineError:
                if entry.read_only:
                    raise
                log.error("stored virtual host %s does not start", entry.name)
                continue
            with self._state:
                self._running_vhosts[entry.name] = entry.config
            for app in entry.apps.values():
                try:
                    self.engine.create_application(entry.name, app.config)
                except EngineError:
                    if entry.read_only:
                        raise
                    log.error("stored application %s/%s does not start", entry.name, app.name)
                    with self._state:
                        self._tried[(entry.name, app.name)] = app.config
                    self.registry.set_failed(entry.name, app.name, True)
                    continue
                self._set_running((entry.name, app.name), app.config)
        self._reconciled = self.registry.snapshot

    def adopt(self) -> None:
        """Take the registry's vhosts and apps as running already (the engine was started
        by someone else)."""
        with self._state:
            for entry in self.registry.snapshot.vhosts.values():
                self._running_vhosts[entry.name] = entry.config
                for app in entry.apps.values():
                    self._running[(entry.name, app.name)] = app.config
        self._reconciled = self.registry.snapshot

    # -- following other processes --------------------------------------------------------

    def reconcile(self) -> None:
        """Make the engine run what the registry shows: create, delete and restart the
        apps (and vhosts) another process changed.  Cheap when nothing changed."""
        with self._reconcile_lock:
            snapshot = self.registry.snapshot
            if snapshot is self._reconciled:
                return
            with self._vhosts_lock:
                # Vhosts deleted elsewhere, or deleted and created again differently.
                for name, running in list(self._running_vhosts.items()):
                    entry = self.registry.vhost(name)
                    if entry is None:
                        self._drop_vhost(name)
                    elif not _same_vhost(running, entry.config):
                        self._drop_vhost(name, restart=True)
                for entry in snapshot.vhosts.values():
                    self._ensure_vhost(entry.name, quiet=True)
            wanted = [(v, a) for v, entry in snapshot.vhosts.items() for a in entry.apps]
            with self._state:
                listed = set(wanted)
                stale = [key for key in {*self._running, *self._tried} if key not in listed]
            for key in [*wanted, *stale]:
                with self.app_lock(*key):
                    try:
                        self._converge(key)
                    except Exception:  # one app's trouble must not stop the others
                        log.exception("could not apply the stored config of %s/%s", *key)
            self._reconciled = snapshot

    def _ensure_vhost(self, name: str, *, quiet: bool = False) -> None:
        """Start the registry's vhost ``name`` on the engine if it is not running."""
        with self._state:
            if name in self._running_vhosts:
                return
            entry = self.registry.vhost(name)
            if entry is None:
                return
            try:
                self.engine.create_virtual_host(entry.config)
            except EngineError as exc:
                if exc.result is not EngineResult.EXISTS:
                    if quiet:
                        log.error("could not start the stored virtual host %s", name)
                        return
                    raise
            self._running_vhosts[name] = entry.config

    def _drop_vhost(self, name: str, *, restart: bool = False) -> None:
        """Stop a vhost the registry no longer has and whatever still runs in it, or with
        ``restart`` one it has with another config (its apps start again later); called
        with ``_vhosts_lock`` held."""
        with self._state:
            apps = [key for key in self._running if key[0] == name]
        for key in apps:
            with self.app_lock(*key):
                if not restart:
                    self._converge(key)
                    continue
                try:
                    self.engine.delete_application(*key)
                except EngineError as exc:
                    if exc.result is not EngineResult.NOT_EXISTS:
                        log.error("could not stop %s/%s", *key)
                self._set_running(key, None)
        with self._state:
            if name not in self._running_vhosts:
                return
            try:
                self.engine.delete_virtual_host(name)
            except EngineError as exc:
                if exc.result is not EngineResult.NOT_EXISTS:
                    log.error("could not stop the virtual host %s", name)
                    return
            del self._running_vhosts[name]

    def _converge(self, key: Key) -> None:
        """Make the engine run the registry's config of one app (its lock is held)."""
        vhost, name = key
        desired = self.registry.app(vhost, name)
        with self._state:
            running = self._running.get(key)
            tried = self._tried.get(key)
        if desired is None:
            if running is not None:
                try:
                    self.engine.delete_application(vhost, name)
                except EngineError as exc:
                    if exc.result is not EngineResult.NOT_EXISTS:
                        log.error("could not stop %s/%s (deleted elsewhere)", vhost, name)
                        return
                self._set_running(key, None)
            with self._state:
                self._tried.pop(key, None)
            return
        config = desired.config
        if _same(running, config) or tried is config:
            return
        started = self.clock()
        with self._state:
            self._tried[key] = config  # until it runs: a config that fails is not retried
        if running is None:
            try:
                self._ensure_vhost(vhost)
                self.engine.create_application(vhost, config)
            except EngineError:
                log.error("app %s/%s failed: the stored config does not start", vhost, name)
                self.registry.set_failed(vhost, name, True)
                return
            self._set_running(key, config)
            self.registry.set_failed(vhost, name, False)
            return
        try:
            kind, dropped = self._switch(vhost, name, running, config, STORE_CAUSE, started)
        except EngineError:
            return  # _switch restored the previous config (or marked the app failed)
        self.registry.set_failed(vhost, name, False)
        self._emit(AppEvent(vhost, name, kind, STORE_CAUSE, dropped, self.clock() - started))

    # -- vhosts ---------------------------------------------------------------------------

    def create_vhost(self, vhost: VirtualHostConfig) -> bool:
        """Create a vhost with its apps; False if the name exists (here or in the store).

        If the engine fails on the vhost or any of its apps, everything created is undone
        and :class:`EngineError` propagates.
        """
        with self._vhosts_lock, self.store.lock(_VHOSTS_LOCK):
            self.registry.refresh()
            if self.registry.vhost(vhost.name) is not None:
                return False
            self._drop_vhost(vhost.name)  # still running here after a delete elsewhere
            self.engine.create_virtual_host(vhost)
            created: list[str] = []
            try:
                for app in vhost.applications:
                    self.engine.create_application(vhost.name, app)
                    created.append(app.name)
            except EngineError:
                self._undo_vhost(vhost.name, created)
                raise
            summary = audit.vhost_summary(
                Change.CREATE_VHOST,
                vhost.name,
                vhost.to_json(),
                (a.name for a in vhost.applications),
            )
            try:
                added = self.registry.add_vhost(vhost, vhost.applications, self._audit(summary))
            except StoreConflict:
                added = False
            except BaseException:
                self._undo_vhost(vhost.name, created)
                raise
            if not added:
                self._undo_vhost(vhost.name, created)
                return False
            with self._state:
                self._running_vhosts[vhost.name] = vhost
                for app in vhost.applications:
                    self._running[(vhost.name, app.name)] = app
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
        """Delete a vhost and its apps (engine first, then the registry, in one change).

        If the engine fails part-way, the apps it already stopped are removed (each its
        own change) and :class:`EngineError` propagates.
        """
        with self._vhosts_lock, self.store.lock(_VHOSTS_LOCK):
            self.registry.refresh()
            entry = self.registry.vhost(name)
            if entry is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            with self._state:
                extra = [a for v, a in self._running if v == name and a not in entry.apps]
            apps = [*entry.apps, *extra]
            with contextlib.ExitStack() as held:
                # Every app lock, held until the registry no longer has the vhost: a
                # reconcile in between would start the stopped apps again, and a change
                # to one of them in another process would be lost.
                for app in sorted(apps):
                    held.enter_context(self._app_guard(name, app))
                stopped: list[str] = []
                try:
                    for app in apps:
                        try:
                            self.engine.delete_application(name, app)
                        except EngineError as exc:
                            if exc.result is not EngineResult.NOT_EXISTS:
                                raise
                        self._set_running((name, app), None)
                        stopped.append(app)
                    with self._state:
                        self.engine.delete_virtual_host(name)
                        self._running_vhosts.pop(name, None)
                except EngineError:
                    for app in stopped:
                        if app in entry.apps:
                            self.registry.remove_app(
                                name,
                                app,
                                self._audit(audit.app_change_summary(Change.DELETE_APP, name, app)),
                            )
                    raise
                with self._state:
                    for app in apps:
                        self._tried.pop((name, app), None)
                summary = audit.vhost_summary(Change.DELETE_VHOST, name, apps=entry.apps)
                # StoreConflict: deleted elsewhere meanwhile, so gone as asked.
                with contextlib.suppress(StoreConflict):
                    self.registry.remove_vhost(name, self._audit(summary))

    # -- apps ---------------------------------------------------------------------------

    def create_app(self, vhost: str, app: ApplicationConfig) -> AppEntry:
        """Create an app; raises ``ApiError`` with OME's orchestrator messages."""
        key = (vhost, app.name)
        with self._app_guard(*key):
            self.registry.refresh()
            if self.registry.vhost(vhost) is None:
                raise orchestrator_error(
                    "create", vhost, app.name, EngineError(EngineResult.NOT_EXISTS)
                )
            if self.registry.app(vhost, app.name) is not None:
                raise orchestrator_error(
                    "create", vhost, app.name, EngineError(EngineResult.EXISTS)
                )
            self._converge(key)  # still running here after a delete elsewhere
            try:
                self._ensure_vhost(vhost)
                self.engine.create_application(vhost, app)
            except EngineError as exc:
                raise orchestrator_error("create", vhost, app.name, exc) from None
            summary = audit.app_change_summary(
                Change.CREATE_APP, vhost, app.name, new=app.to_json()
            )
            try:
                entry = self.registry.put_app(vhost, AppEntry(app), self._audit(summary))
            except BaseException as exc:
                self._undo_app(vhost, app.name)
                if isinstance(exc, StoreConflict):
                    result = (
                        EngineResult.EXISTS
                        if exc.reason == Change.APP_EXISTS
                        else EngineResult.NOT_EXISTS
                    )
                    raise orchestrator_error(
                        "create", vhost, app.name, EngineError(result)
                    ) from None
                raise
            self._set_running(key, app)
            return entry

    def _undo_app(self, vhost: str, app: str) -> None:
        try:
            self.engine.delete_application(vhost, app)
        except EngineError:
            log.warning("could not undo app %s/%s", vhost, app)

    def delete_app(self, vhost: str, app: str) -> None:
        """Delete an app; raises ``ApiError`` with OME's orchestrator messages."""
        key = (vhost, app)
        with self._app_guard(*key):
            self.registry.refresh()
            entry = self.registry.app(vhost, app)
            if entry is None:
                raise orchestrator_error("delete", vhost, app, EngineError(EngineResult.NOT_EXISTS))
            with self._state:
                running = key in self._running
            try:
                self.engine.delete_application(vhost, app)
            except EngineError as exc:
                # A failed app is not running: deleting it only forgets it.
                stopped = entry.failed or not running
                if not (stopped and exc.result is EngineResult.NOT_EXISTS):
                    raise orchestrator_error("delete", vhost, app, exc) from None
            self._set_running(key, None)
            with self._state:
                self._tried.pop(key, None)
            summary = audit.app_change_summary(Change.DELETE_APP, vhost, app)
            # StoreConflict: its vhost was deleted elsewhere meanwhile, so gone as asked.
            with contextlib.suppress(StoreConflict):
                self.registry.remove_app(vhost, app, self._audit(summary))

    def change_app(self, vhost: str, app: str, mutate: Mutation, cause: str) -> AppEntry:
        """Apply ``mutate`` to an app's config and restart (or hot-apply) it.

        ``mutate`` runs under the app's lock on the current config; it may raise (nothing
        is touched then).  Returns the entry now in the registry.
        """
        key = (vhost, app)
        with self._app_guard(*key):
            self.registry.refresh()
            entry = self.registry.app(vhost, app)
            if entry is None:
                raise ApiError(404, f"Could not find the application: [{vhost}/{app}]")
            # The engine may still run a config older than the store's (changed elsewhere,
            # not yet followed): the restart below goes from what it runs, straight to new.
            old = entry.config
            new = mutate(old)
            if new.to_json() == old.to_json() and not entry.failed:
                return entry  # nothing changed: nothing to restart
            started = self.clock()
            with self._state:
                running = self._running.get(key)
            try:
                kind, dropped = self._switch(vhost, app, running, new, cause, started)
            except EngineError as exc:
                raise orchestrator_error("create", vhost, old.name, exc) from None
            summary = audit.app_change_summary(
                Change.UPDATE_APP, vhost, app, old.to_json(), new.to_json()
            )
            try:
                stored = self.registry.put_app(vhost, AppEntry(new), self._audit(summary))
            except StoreConflict:
                # The vhost was deleted elsewhere meanwhile: stop the app here too.
                self.registry.refresh()
                self._converge(key)
                raise ApiError(404, f"Could not find the application: [{vhost}/{app}]") from None
            except BaseException:
                self._put_back(vhost, app, new, running)
                raise
            self._emit(AppEvent(vhost, app, kind, cause, dropped, self.clock() - started))
            return stored

    def _put_back(
        self, vhost: str, app: str, new: ApplicationConfig, previous: ApplicationConfig | None
    ) -> None:
        """The store refused a change the engine already runs: run the stored one again."""
        try:
            if previous is None:
                self.engine.delete_application(vhost, app)
            else:
                self.engine.restart_application(vhost, new, previous)
        except EngineError:
            log.error("app %s/%s runs a config the store does not hold", vhost, app)
            return
        self._set_running((vhost, app), previous)

    def _switch(
        self,
        vhost: str,
        app: str,
        running: ApplicationConfig | None,
        new: ApplicationConfig,
        cause: str,
        started: float,
    ) -> tuple[str, int]:
        """Make the engine run ``new`` instead of ``running`` (None: not running); returns
        the event kind and the sessions dropped.  On failure the previous config is
        started again (or the app marked failed) and :class:`EngineError` propagates."""
        if running is not None and self._is_live_change(running, new):
            try:
                self.engine.apply_live(vhost, running, new)
            except EngineError:
                log.warning("hot apply of %s/%s failed; restarting instead", vhost, app)
            else:
                self._set_running((vhost, app), new)
                return "hot_apply", 0
        try:
            if running is None:
                self._ensure_vhost(vhost)
                self.engine.create_application(vhost, new)
                dropped = 0
            else:
                dropped = self.engine.restart_application(vhost, running, new).sessions_dropped
        except EngineError:
            self._recover(vhost, app, running, cause, started)
            raise
        self._set_running((vhost, app), new)
        return "restart", dropped

    def _is_live_change(self, old: ApplicationConfig, new: ApplicationConfig) -> bool:
        live = self.engine.live_fields()
        if not live:
            return False
        before, after = old.to_json(), new.to_json()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        return bool(changed) and changed <= live

    def _recover(
        self,
        vhost: str,
        app: str,
        previous: ApplicationConfig | None,
        cause: str,
        started: float,
    ) -> None:
        if previous is None:
            return  # it was not running before the change either
        try:
            self.engine.create_application(vhost, previous)
        except EngineError:
            log.error(
                "app %s/%s failed: neither the new nor the previous config starts", vhost, app
            )
            self._set_running((vhost, app), None)
            entry = self.registry.app(vhost, app)
            if entry is not None:
                with self._state:
                    self._tried[(vhost, app)] = entry.config
            self.registry.set_failed(vhost, app, True)
            self._emit(AppEvent(vhost, app, "failed", cause, 0, self.clock() - started))
            return
        self._set_running((vhost, app), previous)
        self._emit(AppEvent(vhost, app, "rollback", cause, 0, self.clock() - started))
