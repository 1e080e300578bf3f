"""The app lifecycle of the simulated engine: vhosts and apps start, stop and restart.

A restart drops exactly the app's sessions and starts it from scratch (its jobs, channels
and statistics with it).  Every call is listed in the world's ``calls``; each may be made
to fail with ``fail_next``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Set

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.protocol import RestartOutcome
from omeapi._errors import EngineError, EngineResult
from omeapi._simulated.counters import Counter
from omeapi._simulated.state import RunningApp, World

__all__ = ["Apps"]


class Apps:
    """The :class:`~omeapi.MediaEngine` lifecycle over a :class:`World`.

    ``live_fields`` are the top-level app keys it pretends to change without a restart;
    each app operation takes ``operation_delay`` seconds (slept with ``sleep``, outside the
    lock) so that restarts are observable in benchmarks.
    """

    def __init__(
        self,
        world: World,
        *,
        live_fields: Iterable[str] = (),
        operation_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._w = world
        self._live = frozenset(live_fields)
        self._delay = operation_delay
        self._sleep = sleep

    # -- test controls ------------------------------------------------------------------

    def application(self, vhost: str, app: str) -> ApplicationConfig | None:
        """The config an app is running with (None when it is not running)."""
        with self._w.lock:
            running = self._w.apps.get((vhost, app))
            return None if running is None else running.config

    def applications(self) -> dict[tuple[str, str], ApplicationConfig]:
        """Every running app and its config."""
        with self._w.lock:
            return {key: a.config for key, a in self._w.apps.items()}

    def virtual_hosts(self) -> list[str]:
        """Names of the running vhosts."""
        with self._w.lock:
            return list(self._w.vhosts)

    def generation(self, vhost: str, app: str) -> int:
        """How many times the app was restarted with a new config."""
        with self._w.lock:
            return self._w.running(vhost, app).generation

    def _record(self, operation: str, vhost: str, app: str = "") -> None:
        self._w.calls.append((operation, vhost, app))
        self._w.maybe_fail(operation)

    def _pause(self) -> None:
        if self._delay:
            self._sleep(self._delay)

    # -- the lifecycle ------------------------------------------------------------------

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        with self._w.lock:
            self._record("create_virtual_host", vhost.name)
            if vhost.name in self._w.vhosts:
                raise EngineError(EngineResult.EXISTS)
            self._w.vhosts[vhost.name] = vhost
            # Its statistics start now.
            self._w.vhost_counters[vhost.name] = Counter(self._w.clock())

    def delete_virtual_host(self, name: str) -> None:
        with self._w.lock:
            self._record("delete_virtual_host", name)
            if self._w.vhosts.pop(name, None) is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            for key in [k for k in self._w.apps if k[0] == name]:
                self._w.catch_up(*key)
                del self._w.apps[key]
                self._w.touch(*key)

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        self._pause()
        with self._w.lock:
            self._record("create_application", vhost, app.name)
            if vhost not in self._w.vhosts:
                raise EngineError(EngineResult.NOT_EXISTS)
            if (vhost, app.name) in self._w.apps:
                raise EngineError(EngineResult.EXISTS)
            self._w.apps[(vhost, app.name)] = RunningApp(app, self._w.clock())
            self._w.touch(vhost, app.name)

    def delete_application(self, vhost: str, app: str) -> int:
        self._pause()
        with self._w.lock:
            self._record("delete_application", vhost, app)
            self._w.catch_up(vhost, app)
            running = self._w.apps.pop((vhost, app), None)
            if running is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            self._w.touch(vhost, app)
            return running.drop_sessions()

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        self._pause()
        with self._w.lock:
            running = self._w.apps.get((vhost, old.name))
            self._w.calls.append(("restart_application", vhost, old.name))
            if running is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            self._w.catch_up(vhost, old.name)
            dropped = running.drop_sessions()
            self._w.touch(vhost, old.name)
            try:
                self._w.maybe_fail("restart_application")
            except EngineError:
                # The old app is gone and the new one did not start: stopped, as documented.
                del self._w.apps[(vhost, old.name)]
                raise
            running.config = new
            running.started = self._w.clock()
            running.generation += 1
            return RestartOutcome(dropped)

    def live_fields(self) -> Set[str]:
        return self._live

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        with self._w.lock:
            self._record("apply_live", vhost, old.name)
            self._w.catch_up(vhost, old.name)
            self._w.running(vhost, old.name).config = new
            self._w.touch(vhost, old.name)
