"""Following a shared store: changes made by other processes reach this one's engine.

A request that finds the store's change counter moved refreshes the registry itself (so
its answer is current) and pokes the follower; the follower's thread then brings the
engine up to date through the restart coordinator (creating, deleting and restarting the
affected apps).  Without requests, it notices changes on its own: PostgreSQL pushes them
(``LISTEN``/``NOTIFY``), a SQLite store is polled (one cheap counter read per interval).
"""

from __future__ import annotations

import logging
import threading
import time

from omeapi._state.registry import Registry
from omeapi._state.restart import RestartCoordinator
from omeapi._stores.base import StoreError

__all__ = ["StoreFollower"]

log = logging.getLogger("omeapi")


class StoreFollower:
    """Keeps a registry and its engine in step with a shared store (a daemon thread).

    ``interval`` is how often a store that cannot push is polled; a store that pushes is
    still checked every ``safety_interval`` seconds, in case a notification was lost
    while its connection was down (or the connection died unnoticed, with the generation
    it feeds no longer moving).  With ``reconcile`` False only the registry follows: the
    engine belongs to another process, which follows the store for it.
    """

    def __init__(
        self,
        registry: Registry,
        coordinator: RestartCoordinator,
        *,
        interval: float = 0.25,
        safety_interval: float = 1.0,
        reconcile: bool = True,
    ) -> None:
        self.registry = registry
        self.coordinator = coordinator
        self.reconcile = reconcile
        store = registry.store
        self._pushes = bool(getattr(store, "notifies", False))
        self.interval = safety_interval if self._pushes else interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._warned = 0.0

    def start(self) -> None:
        """Start following (idempotent)."""
        if self._threads:
            return
        self._threads.append(threading.Thread(target=self._run, name="omeapi-follow", daemon=True))
        if self._pushes:
            self._threads.append(
                threading.Thread(target=self._listen, name="omeapi-listen", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def poke(self) -> None:
        """Look at the store now (a request saw it change, or it pushed a change)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads and wait for them (at most ``timeout`` seconds each)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()

    def sync(self) -> None:
        """Refresh the registry from the store and make the engine run what it shows."""
        try:
            self.registry.refresh(check=True)
        except StoreError as exc:
            self._warn(exc)
            return
        if not self.reconcile:
            return
        try:
            self.coordinator.reconcile()
        except Exception:  # the thread must survive whatever an engine does
            log.exception("could not apply the store's changes to the engine")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.sync()

    def _listen(self) -> None:
        try:
            self.registry.store.watch(self.poke, self._stop)
        except Exception:
            log.exception("listening to the store failed; polling every %.1f s", self.interval)

    def _warn(self, exc: Exception) -> None:
        # Once per 30 s: a database that is down must not flood the log.
        now = time.monotonic()
        if now - self._warned >= 30.0:
            self._warned = now
            log.warning("the store %s cannot be read: %s", self.registry.store.location, exc)
