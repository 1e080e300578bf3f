"""An in-memory media server: the embedded default engine.

It keeps applications, streams and sessions (publishers and viewers per stream) so that the
whole API runs with no media server attached, and so that tests can see a restart drop
exactly one application's sessions.  Failures can be injected, and the clock is a
parameter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Set

import attrs

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.protocol import EngineError, EngineResult, RestartOutcome
from omeapi._simulated.runtime import SimulatedRuntime

__all__ = ["SimulatedEngine", "SimulatedStream"]


@attrs.define
class SimulatedStream:
    """A live input stream and its sessions."""

    name: str
    created: float
    publishers: int = 1
    viewers: int = 0

    @property
    def sessions(self) -> int:
        return self.publishers + self.viewers


@attrs.define
class _App:
    config: ApplicationConfig
    started: float
    streams: dict[str, SimulatedStream] = attrs.field(factory=dict)
    #: how many times this app was (re)started with a new config
    generation: int = 0

    def drop_sessions(self) -> int:
        dropped = sum(s.sessions for s in self.streams.values())
        self.streams.clear()
        return dropped


class SimulatedEngine(SimulatedRuntime):
    """The default :class:`~omeapi.MediaEngine`: everything in memory, thread-safe.

    The runtime operations (streams, push/record, channels, statistics) are
    :class:`~omeapi._simulated.runtime.SimulatedRuntime`'s; ``config_dir`` is where relative
    channel directories are resolved (the Server.xml's directory).

    ``live_fields`` are the top-level app keys it pretends to change without a restart
    (none by default).  :meth:`fail_next` makes the next calls of an operation fail.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        live_fields: Iterable[str] = (),
        operation_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        config_dir: str = "",
    ) -> None:
        self.clock = clock
        self._live = frozenset(live_fields)
        self._lock = threading.RLock()
        self._vhosts: dict[str, VirtualHostConfig] = {}
        self._apps: dict[tuple[str, str], _App] = {}
        self._failures: dict[str, int] = {}
        #: how long each app operation takes (to make restarts observable in benchmarks)
        self._delay = operation_delay
        self._sleep = sleep
        #: every call, in order: (operation, vhost, app)
        self.calls: list[tuple[str, str, str]] = []
        self._init_runtime(config_dir)

    # -- test controls ----------------------------------------------------------------

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` (a method name) fail."""
        with self._lock:
            self._failures[operation] = self._failures.get(operation, 0) + times

    def _maybe_fail(self, operation: str) -> None:
        left = self._failures.get(operation, 0)
        if left:
            self._failures[operation] = left - 1
            raise EngineError(EngineResult.FAILED, f"injected failure of {operation}")

    def publish(self, vhost: str, app: str, stream: str, *, viewers: int = 0) -> None:
        """Start a stream with one publisher (and ``viewers`` viewers) on a running app."""
        with self._lock:
            running = self._running(vhost, app)
            running.streams[stream] = SimulatedStream(stream, self.clock(), 1, viewers)

    def add_viewers(self, vhost: str, app: str, stream: str, count: int = 1) -> None:
        """Add viewers to a live stream."""
        with self._lock:
            self._running(vhost, app).streams[stream].viewers += count

    def sessions(self, vhost: str, app: str) -> int:
        """Sessions on an app (0 when it is not running)."""
        with self._lock:
            running = self._apps.get((vhost, app))
            return 0 if running is None else sum(s.sessions for s in running.streams.values())

    def streams(self, vhost: str, app: str) -> list[str]:
        """Names of the app's input streams, in creation order."""
        with self._lock:
            return list(self._running(vhost, app).streams)

    def application(self, vhost: str, app: str) -> ApplicationConfig | None:
        """The config an app is running with (None when it is not running)."""
        with self._lock:
            running = self._apps.get((vhost, app))
            return None if running is None else running.config

    def applications(self) -> dict[tuple[str, str], ApplicationConfig]:
        """Every running app and its config."""
        with self._lock:
            return {key: a.config for key, a in self._apps.items()}

    def virtual_hosts(self) -> list[str]:
        """Names of the running vhosts."""
        with self._lock:
            return list(self._vhosts)

    def generation(self, vhost: str, app: str) -> int:
        """How many times the app was restarted with a new config."""
        with self._lock:
            return self._running(vhost, app).generation

    def _running(self, vhost: str, app: str) -> _App:
        running = self._apps.get((vhost, app))
        if running is None:
            raise EngineError(EngineResult.NOT_EXISTS, f"{vhost}/{app} is not running")
        return running

    def _record(self, operation: str, vhost: str, app: str = "") -> None:
        self.calls.append((operation, vhost, app))
        self._maybe_fail(operation)

    # -- MediaEngine ------------------------------------------------------------------

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        with self._lock:
            self._record("create_virtual_host", vhost.name)
            if vhost.name in self._vhosts:
                raise EngineError(EngineResult.EXISTS)
            self._vhosts[vhost.name] = vhost
            self._runtime_vhost_created(vhost.name)

    def delete_virtual_host(self, name: str) -> None:
        with self._lock:
            self._record("delete_virtual_host", name)
            if self._vhosts.pop(name, None) is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            for key in [k for k in self._apps if k[0] == name]:
                del self._apps[key]

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        self._pause()
        with self._lock:
            self._record("create_application", vhost, app.name)
            if vhost not in self._vhosts:
                raise EngineError(EngineResult.NOT_EXISTS)
            if (vhost, app.name) in self._apps:
                raise EngineError(EngineResult.EXISTS)
            self._apps[(vhost, app.name)] = _App(app, self.clock())

    def delete_application(self, vhost: str, app: str) -> int:
        self._pause()
        with self._lock:
            self._record("delete_application", vhost, app)
            running = self._apps.pop((vhost, app), None)
            if running is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            return running.drop_sessions()

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        self._pause()
        with self._lock:
            running = self._apps.get((vhost, old.name))
            self.calls.append(("restart_application", vhost, old.name))
            if running is None:
                raise EngineError(EngineResult.NOT_EXISTS)
            dropped = running.drop_sessions()
            try:
                self._maybe_fail("restart_application")
            except EngineError:
                # The old app is gone and the new one did not start: stopped, as documented.
                del self._apps[(vhost, old.name)]
                raise
            running.config = new
            running.started = self.clock()
            running.generation += 1
            return RestartOutcome(dropped)

    def live_fields(self) -> Set[str]:
        return self._live

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        with self._lock:
            self._record("apply_live", vhost, old.name)
            self._running(vhost, old.name).config = new

    def _pause(self) -> None:
        if self._delay:
            self._sleep(self._delay)
