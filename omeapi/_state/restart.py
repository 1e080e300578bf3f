"""The restart coordinator: the one place that changes apps and drives the engine.

Changing an app or its output profiles restarts that app.  Changes to the same app are
serialised (a lock per app, held against every process sharing the store); different apps
restart in parallel.  A change that alters nothing restarts nothing.  If the engine cannot
start the new config, the previous one is started again and kept (or found still running:
an engine may keep it through the failed restart); if that fails too, the app is kept and
marked failed.  When the engine can change every altered field live, the
app is updated without a restart.  Which step to take, and where each engine outcome
leads, is the table in :mod:`omeapi._state.lifecycle`; this module performs the steps.

The coordinator is the one owner of each app's lifecycle state (``_apps``: absent,
running a config, or failed), because only it knows what its engine runs: the registry
holds the configs the store holds (the same in every process), this state is per process
and can lag behind the registry when another process changed the shared store.
:meth:`reconcile` (called by the :class:`~omeapi._state.follow.StoreFollower`) and every
change (for the app it holds) first bring the engine up to date, through the same plan.

It speaks the domain, never HTTP: failures are :class:`~omeapi._errors.EngineError`,
:class:`~omeapi._errors.AppOperationError` and :class:`~omeapi._errors.AppNotFound`,
which the controllers answer (see ``omeapi/_controllers/outcomes.py``).

Lock order, outermost first: ``_reconcile_lock``, ``_vhosts_lock`` (+ the store's vhosts
lock), app locks (+ the store's app lock), ``_state``.  Only :meth:`delete_vhost` holds
more than one app lock, under ``_vhosts_lock``; ``_state`` is never held while waiting for
another lock.  An app's lifecycle state is written only under its app lock (and
``_state``, so that listing the table sees whole entries).  The caller's mutation of a
change runs outside every lock: it is computed from the registry's entry and committed
only if the entry is still the same under the lock (else computed again).
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
from omeapi._errors import AppNotFound, AppOperationError
from omeapi._state import audit
from omeapi._state.lifecycle import (
    ABSENT,
    AppState,
    Outcome,
    Phase,
    Plan,
    Step,
    after,
    plan,
    running,
    same,
)
from omeapi._state.registry import AppEntry, Registry, Snapshot
from omeapi._stores.base import AuditEntry, Change, Store, StoreConflict

__all__ = ["STORE_CAUSE", "AppEvent", "RestartCoordinator"]

log = logging.getLogger("omeapi")

#: The cause of events for changes another process made (through the shared store).
STORE_CAUSE = "store"

#: The store lock serialising vhost creation and deletion across processes.
_VHOSTS_LOCK = "vhosts"

#: Optimistic attempts of a change before its mutation is computed under the app's lock
#: (each retry means another change to the same app was committed meanwhile).
_ATTEMPTS = 4

Key = tuple[str, str]


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


@attrs.frozen
class _Done:
    """How a plan ended: the state reached, the last step and its outcome, the sessions
    dropped and the engine error of the step that failed (None: the plan succeeded)."""

    state: AppState
    step: Step
    outcome: Outcome
    dropped: int = 0
    error: EngineError | None = None


#: The outcome of an engine step that raised, by the error's result.
_OUTCOMES = {
    EngineResult.FAILED: Outcome.FAILED,
    EngineResult.NOT_EXISTS: Outcome.MISSING,
    EngineResult.EXISTS: Outcome.PRESENT,
}


def _same_vhost(a: VirtualHostConfig, b: VirtualHostConfig) -> bool:
    return a is b or a.json_bytes == b.json_bytes


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
        #: per-app locks and their store lock names; ``setdefault`` on a dict is atomic,
        #: so no guard lock is needed
        self._locks: dict[Key, tuple[threading.Lock, str]] = {}
        self._vhosts_lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        #: guards the tables below, and engine vhost calls (innermost lock)
        self._state = threading.Lock()
        #: each app's lifecycle state (an app missing here is ABSENT)
        self._apps: dict[Key, AppState] = {}
        #: the keys of ``_apps`` by vhost, in the same order (a vhost's apps without a walk
        #: over every app: creating vhost after vhost stays linear)
        self._by_vhost: dict[str, dict[str, None]] = {}
        #: the vhosts the engine runs
        self._running_vhosts: dict[str, VirtualHostConfig] = {}
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

    # -- lifecycle state ----------------------------------------------------------------

    def state(self, vhost: str, app: str) -> AppState:
        """The app's lifecycle state in this process."""
        return self._apps.get((vhost, app), ABSENT)

    def failed(self, vhost: str, app: str) -> bool:
        """Whether the app is kept but not running: neither its new nor its previous
        config started (the mark the API's view of the app carries)."""
        return self.state(vhost, app).phase is Phase.FAILED

    def _set(self, key: Key, state: AppState) -> None:
        with self._state:
            if state.phase is Phase.ABSENT:
                self._forget(key)
            else:
                self._keep(key, state)

    def _keep(self, key: Key, state: AppState) -> None:
        # Called with ``_state`` held (or before any other thread sees the coordinator).
        self._apps[key] = state
        self._by_vhost.setdefault(key[0], {})[key[1]] = None

    def _forget(self, key: Key) -> None:
        # Called with ``_state`` held.
        if self._apps.pop(key, None) is not None:
            apps = self._by_vhost.get(key[0])
            if apps is not None:
                apps.pop(key[1], None)
                if not apps:
                    del self._by_vhost[key[0]]

    def _known(self) -> list[Key]:
        with self._state:
            return list(self._apps)

    def _known_in(self, vhost: str) -> list[Key]:
        """The keys of ``vhost``'s apps this process knows, in the order of :meth:`_known`."""
        with self._state:
            return [(vhost, app) for app in self._by_vhost.get(vhost, ())]

    def app_lock(self, vhost: str, app: str) -> threading.Lock:
        """The lock that serialises this process's changes to one app."""
        return self._app_locks(vhost, app)[0]

    def _app_locks(self, vhost: str, app: str) -> tuple[threading.Lock, str]:
        key = (vhost, app)
        locks = self._locks.get(key)
        if locks is None:
            name = "app " + json.dumps([vhost, app])
            locks = self._locks.setdefault(key, (threading.Lock(), name))
        return locks

    @contextlib.contextmanager
    def _app_guard(self, vhost: str, app: str) -> Iterator[None]:
        """The app's lock here and in every process sharing the store."""
        lock, name = self._app_locks(vhost, app)
        with lock, self.store.lock(name):
            yield

    def _audit(self, summary: dict[str, object]) -> AuditEntry:
        return audit.entry(summary, self.wall_clock)

    # -- performing a plan ----------------------------------------------------------------

    def _perform(self, key: Key, step: Step, todo: Plan) -> int:
        """One engine step; returns the sessions it dropped.  Raises EngineError."""
        vhost, app = key
        if step is Step.CREATE:
            assert todo.new is not None
            self._ensure_vhost(vhost)
            self.engine.create_application(vhost, todo.new)
        elif step is Step.HOT_APPLY:
            assert todo.previous is not None and todo.new is not None
            self.engine.apply_live(vhost, todo.previous, todo.new)
        elif step is Step.RESTART:
            assert todo.previous is not None and todo.new is not None
            return self.engine.restart_application(vhost, todo.previous, todo.new).sessions_dropped
        elif step is Step.ROLLBACK:
            assert todo.previous is not None
            self.engine.create_application(vhost, todo.previous)
        elif step is Step.DELETE or step is Step.FORGET:
            self.engine.delete_application(vhost, app)
        return 0

    def _execute(self, key: Key, current: AppState, todo: Plan) -> _Done:
        """Perform ``todo`` from ``current`` following the lifecycle table, recording each
        state reached; the error kept is that of the step the plan was for (a failed hot
        apply or rollback only leads to the next step)."""
        state, step, outcome = current, todo.step, Outcome.OK
        dropped, error = 0, None
        while True:
            if step is Step.NOTHING:
                return _Done(state, step, outcome)
            try:
                dropped = self._perform(key, step, todo)
                outcome = Outcome.OK
            except EngineError as exc:
                outcome = _OUTCOMES[exc.result]
                missing = outcome is Outcome.MISSING
                if step is Step.HOT_APPLY:
                    log.warning("hot apply of %s/%s failed; restarting instead", *key)
                elif step is not Step.ROLLBACK and not (missing and step is Step.FORGET):
                    error = exc
            state, following = after(state, todo, step, outcome)
            self._set(key, state)
            if following is None:
                return _Done(state, step, outcome, dropped, error)
            step = following

    def _report(self, key: Key, done: _Done, cause: str, started: float) -> None:
        """The events of a plan that failed (a rollback, or the app marked failed)."""
        if done.step is not Step.ROLLBACK:
            return
        if done.outcome is Outcome.OK:
            kind = "rollback"
        elif done.outcome is Outcome.PRESENT:
            kind = "rollback"
            log.warning(
                "app %s/%s: the new config did not start and the engine kept the previous "
                "one running",
                *key,
            )
        else:
            kind = "failed"
            log.error("app %s/%s failed: neither the new nor the previous config starts", *key)
        self._emit(AppEvent(*key, kind, cause, 0, self.clock() - started))

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every vhost and app of the registry on the engine (at server start).

        Server.xml's must start; a stored one that does not is logged and kept (marked
        failed), as a failed restart would leave it.  An engine that already runs a vhost
        or app (it outlived the process that started it: an engine of its own process)
        is taken as running the registry's config.
        """
        for entry in self.registry.snapshot.vhosts.values():
            try:
                self.engine.create_virtual_host(entry.config)
            except EngineError as exc:
                if exc.result is not EngineResult.EXISTS:
                    if entry.read_only:
                        raise
                    log.error("stored virtual host %s does not start", entry.name)
                    continue
            with self._state:
                self._running_vhosts[entry.name] = entry.config
            for app in entry.apps.values():
                key = (entry.name, app.name)
                done = self._execute(key, ABSENT, plan(ABSENT, app.config))
                if done.error is None:
                    continue
                if done.error.result is EngineResult.EXISTS:
                    self._set(key, running(app.config))
                elif entry.read_only:
                    raise done.error
                else:
                    log.error("stored application %s/%s does not start", *key)
        self._reconciled = self.registry.snapshot

    def resume(self) -> None:
        """Start everything again on an engine that was replaced by one that runs nothing
        (its process restarted), forgetting what the old one ran."""
        with self._reconcile_lock, self._vhosts_lock:
            with self._state:
                self._apps.clear()
                self._by_vhost.clear()
                self._running_vhosts.clear()
            try:
                self.start()
            except EngineError as exc:
                log.error("the restarted engine does not start Server.xml's config: %s", exc)

    def adopt(self) -> None:
        """Take the registry's vhosts and apps as running already (the engine was started
        by someone else)."""
        with self._state:
            for entry in self.registry.snapshot.vhosts.values():
                self._running_vhosts[entry.name] = entry.config
                for app in entry.apps.values():
                    self._keep((entry.name, app.name), running(app.config))
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
                for name, config in list(self._running_vhosts.items()):
                    entry = self.registry.vhost(name)
                    if entry is None:
                        self._drop_vhost(name)
                    elif not _same_vhost(config, entry.config):
                        self._drop_vhost(name, restart=True)
                for entry in snapshot.vhosts.values():
                    self._ensure_vhost(entry.name, quiet=True)
            wanted = [(v, a) for v, entry in snapshot.vhosts.items() for a in entry.apps]
            listed = set(wanted)
            stale = [key for key in self._known() if key not in listed]
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
        for key in self._known_in(name):
            with self.app_lock(*key):
                if not restart:
                    self._converge(key)
                    continue
                current = self.state(*key)
                if current.phase is not Phase.RUNNING:
                    continue
                done = self._execute(key, current, plan(current, None))
                if done.error is not None:
                    if done.error.result is not EngineResult.NOT_EXISTS:
                        log.error("could not stop %s/%s", *key)
                    self._set(key, ABSENT)  # its vhost goes: it cannot keep running
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
        current = self.state(vhost, name)
        todo = plan(current, None if desired is None else desired.config, self.engine.live_fields())
        if todo.step is Step.NOTHING:
            return
        started = self.clock()
        done = self._execute(key, current, todo)
        if done.error is not None:
            if todo.step is Step.CREATE:
                log.error("app %s/%s failed: the stored config does not start", vhost, name)
            elif todo.step in (Step.DELETE, Step.FORGET):
                if done.error.result is not EngineResult.NOT_EXISTS:
                    log.error("could not stop %s/%s (deleted elsewhere)", vhost, name)
            else:
                self._report(key, done, STORE_CAUSE, started)
            return
        if todo.step in (Step.RESTART, Step.HOT_APPLY):
            kind = "hot_apply" if done.step is Step.HOT_APPLY else "restart"
            self._emit(
                AppEvent(vhost, name, kind, STORE_CAUSE, done.dropped, self.clock() - started)
            )

    # -- vhosts ---------------------------------------------------------------------------

    def create_vhost(self, vhost: VirtualHostConfig) -> bool:
        """Create a vhost with its apps; False if the name exists (here or in the store).

        If the engine fails on the vhost or any of its apps, everything created is undone
        and :class:`EngineError` propagates.
        """
        with self._vhosts_lock, self.store.lock(_VHOSTS_LOCK):
            self.registry.refresh(check=True)
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
                vhost.json_value,
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
                    self._keep((vhost.name, app.name), running(app))
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
            self.registry.refresh(check=True)
            entry = self.registry.vhost(name)
            if entry is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            extra = [a for v, a in self._known() if v == name and a not in entry.apps]
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
                        self._set((name, app), ABSENT)
                        stopped.append(app)
                    with self._state:
                        if name in self._running_vhosts:
                            # NOT_EXISTS propagates: this engine ran the vhost and lost it,
                            # and OME answers 404 for a vhost its engine does not know.
                            self.engine.delete_virtual_host(name)
                            del self._running_vhosts[name]
                        # Otherwise this process never started it (made by another
                        # worker, not yet followed here): nothing of it runs to stop.
                except EngineError:
                    for app in stopped:
                        if app in entry.apps:
                            # StoreConflict: deleted elsewhere since the refresh above.
                            with contextlib.suppress(StoreConflict):
                                self.registry.remove_app(
                                    name,
                                    app,
                                    self._audit(
                                        audit.app_change_summary(Change.DELETE_APP, name, app)
                                    ),
                                )
                    raise
                summary = audit.vhost_summary(Change.DELETE_VHOST, name, apps=entry.apps)
                # StoreConflict: deleted elsewhere meanwhile, so gone as asked.
                with contextlib.suppress(StoreConflict):
                    self.registry.remove_vhost(name, self._audit(summary))

    # -- apps ---------------------------------------------------------------------------

    def create_app(self, vhost: str, app: ApplicationConfig) -> AppEntry:
        """Create an app; raises :class:`~omeapi._errors.AppOperationError` (``create``)."""
        key = (vhost, app.name)
        with self._app_guard(*key):
            self.registry.refresh(check=True)
            if self.registry.vhost(vhost) is None:
                raise AppOperationError("create", vhost, app.name, EngineResult.NOT_EXISTS)
            if self.registry.app(vhost, app.name) is not None:
                raise AppOperationError("create", vhost, app.name, EngineResult.EXISTS)
            self._converge(key)  # still running here after a delete elsewhere
            try:
                self._ensure_vhost(vhost)
                self.engine.create_application(vhost, app)
            except EngineError as exc:
                raise AppOperationError("create", vhost, app.name, exc.result) from None
            summary = audit.app_change_summary(
                Change.CREATE_APP, vhost, app.name, new=app.json_value
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
                    raise AppOperationError("create", vhost, app.name, result) from None
                raise
            self._set(key, running(app))
            return entry

    def _undo_app(self, vhost: str, app: str) -> None:
        try:
            self.engine.delete_application(vhost, app)
        except EngineError:
            log.warning("could not undo app %s/%s", vhost, app)

    def delete_app(self, vhost: str, app: str) -> None:
        """Delete an app; raises :class:`~omeapi._errors.AppOperationError` (``delete``)."""
        key = (vhost, app)
        with self._app_guard(*key):
            self.registry.refresh(check=True)
            if self.registry.app(vhost, app) is None:
                raise AppOperationError("delete", vhost, app, EngineResult.NOT_EXISTS)
            current = self.state(vhost, app)
            # Not running here (failed, or created elsewhere and not followed yet): the
            # engine may still hold it, so it is asked, and "not exists" is success.
            todo = plan(current, None)
            done = self._execute(
                key, current, todo if todo.step is not Step.NOTHING else Plan(Step.FORGET)
            )
            if done.error is not None:
                raise AppOperationError("delete", vhost, app, done.error.result)
            summary = audit.app_change_summary(Change.DELETE_APP, vhost, app)
            # StoreConflict: its vhost was deleted elsewhere meanwhile, so gone as asked.
            with contextlib.suppress(StoreConflict):
                self.registry.remove_app(vhost, app, self._audit(summary))

    def change_app(self, vhost: str, app: str, mutate: Mutation, cause: str) -> AppEntry:
        """Apply ``mutate`` to an app's config and restart (or hot-apply) it.

        ``mutate`` runs outside every lock, on the registry's config, and may run more
        than once (when another change to the app is committed meanwhile); it may raise
        (nothing is touched then).  Returns the entry now in the registry.  Raises
        :class:`~omeapi._errors.AppNotFound` and, when the engine cannot start the new
        config, :class:`~omeapi._errors.AppOperationError` (``create``).
        """
        key = (vhost, app)
        seen = self.registry.app(vhost, app)
        for _ in range(_ATTEMPTS):
            new = None if seen is None else mutate(seen.config)
            with self._app_guard(*key):
                self.registry.refresh(check=True)
                entry = self.registry.app(vhost, app)
                if entry is None:
                    raise AppNotFound(vhost, app)
                if entry is seen and new is not None:
                    return self._commit(key, entry, new, cause)
            seen = entry  # changed meanwhile: computed again from what is there now
        with self._app_guard(*key):  # the last resort, so that every change ends
            self.registry.refresh(check=True)
            entry = self.registry.app(vhost, app)
            if entry is None:
                raise AppNotFound(vhost, app)
            return self._commit(key, entry, mutate(entry.config), cause)

    def _commit(self, key: Key, entry: AppEntry, new: ApplicationConfig, cause: str) -> AppEntry:
        """Make the engine run ``new`` for ``entry`` and store it (the app's lock is held)."""
        vhost, app = key
        old = entry.config
        current = self.state(vhost, app)
        if same(new, old) and current.phase is not Phase.FAILED:
            return entry  # nothing changed: nothing to restart
        # The engine may run a config older than the store's (changed elsewhere, not yet
        # followed): the plan goes from what it runs, straight to ``new``.
        todo = plan(current, new, self.engine.live_fields(), retry=True, kept=old)
        started = self.clock()
        done = self._execute(key, current, todo)
        if done.error is not None:
            self._report(key, done, cause, started)
            raise AppOperationError("create", vhost, old.name, done.error.result)
        summary = audit.app_change_summary(
            Change.UPDATE_APP, vhost, app, old.json_value, new.json_value
        )
        try:
            stored = self.registry.put_app(vhost, AppEntry(new), self._audit(summary))
        except StoreConflict:
            # The vhost was deleted elsewhere meanwhile: stop the app here too.
            self.registry.refresh(check=True)
            self._converge(key)
            raise AppNotFound(vhost, app) from None
        except BaseException:
            self._put_back(key, current, done.state)
            raise
        if done.step is not Step.NOTHING:  # else the engine runs ``new`` already
            kind = "hot_apply" if done.step is Step.HOT_APPLY else "restart"
            self._emit(AppEvent(vhost, app, kind, cause, done.dropped, self.clock() - started))
        return stored

    def _put_back(self, key: Key, previous: AppState, now: AppState) -> None:
        """The store refused a change the engine already runs: run the stored one again."""
        back = previous if previous.phase is Phase.RUNNING else ABSENT
        todo = plan(now, back.config)
        done = self._execute(key, now, todo)
        if done.error is not None:
            log.error("app %s/%s runs a config the store does not hold", *key)
