"""What the simulated engine knows, in one place: :class:`World`.

The engine owns one :class:`World`; each part of the simulation (apps, streams, jobs,
channels, statistics, the clock) is handed it and works on it under its lock.  The running
apps and their :class:`SimulatedStream` sessions are the one source of truth for which
streams exist; a :class:`Live` per stream keeps what OME would know about it beside them.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import overload
from urllib.parse import urlsplit

import attrs

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.channels import Multiplex, Schedule
from omeapi._engine.values import (
    HlsDump,
    OutputStream,
    PushRequest,
    RecordRequest,
    StreamEvent,
    SubtitleCue,
    Track,
)
from omeapi._errors import EngineError, EngineResult
from omeapi._simulated.counters import Counter
from omeapi._simulated.media import build_outputs, input_tracks

__all__ = [
    "AppState",
    "CallLog",
    "Live",
    "Push",
    "Record",
    "RunningApp",
    "SimulatedSession",
    "SimulatedStream",
    "World",
    "failed",
    "missing",
]


@attrs.define
class SimulatedSession:
    """One session of a stream: a publisher (``bytes_in`` is the stream's input) or a
    viewer (``bytes_out`` is counted by the clock as the stream's viewer bytes flow)."""

    id: str
    protocol: str
    remote_address: str
    since: float
    publisher: bool
    bytes_out: int = 0


@attrs.define
class SimulatedStream:
    """A live input stream and its sessions: ``publishers`` and ``viewers`` are the
    counts; :attr:`session_list` names them (kept in step by :meth:`World.sessions_of`)."""

    name: str
    created: float
    publishers: int = 1
    viewers: int = 0
    session_list: list[SimulatedSession] = attrs.field(factory=list)

    @property
    def sessions(self) -> int:
        return self.publishers + self.viewers


@attrs.define
class RunningApp:
    """A running app: the config it runs with, since when, and its live streams."""

    config: ApplicationConfig
    started: float
    streams: dict[str, SimulatedStream] = attrs.field(factory=dict)
    #: how many times this app was (re)started with a new config
    generation: int = 0

    def drop_sessions(self) -> int:
        dropped = sum(s.sessions for s in self.streams.values())
        self.streams.clear()
        return dropped


@attrs.define
class Live:
    """What the simulation knows about one input stream beside its sessions."""

    stream: SimulatedStream
    source_type: str
    tracks: tuple[Track, ...]
    source_url: str = ""
    counter: Counter | None = None
    schedule: Schedule | None = None
    multiplex: Multiplex | None = None
    dumps: dict[tuple[str, str], HlsDump] = attrs.field(factory=dict)
    events: list[StreamEvent] = attrs.field(factory=list)
    subtitles: list[SubtitleCue] = attrs.field(factory=list)
    concluded: bool = False
    #: whether the stream's speech-to-text encoders are paused (``:disableStt``)
    stt_paused: bool = False
    #: a relay stream (pulled with ``properties.relay``): no output profiles apply
    relay: bool = False
    #: viewer bytes already counted, and up to when
    viewer_bytes_until: float = 0.0
    outputs: tuple[OutputStream, ...] = ()
    outputs_config: ApplicationConfig | None = None


@attrs.define
class Push:
    """A push job and its sessions' counts."""

    request: PushRequest
    created: float
    state: str = "ready"
    since: float = 0.0
    start_time: float = 0.0
    finish_time: float = 0.0
    sequence: int = 0
    sent_bytes: int = 0
    earlier_bytes: int = 0
    earlier_time: int = 0
    rate: int = 0


@attrs.define
class Record:
    """A record job, its file paths and its sessions' times."""

    request: RecordRequest
    created: float
    file_path: str
    info_path: str
    state: str = "ready"
    since: float = 0.0
    start_time: float = 0.0
    finish_time: float = 0.0
    rate: int = 0
    earlier_time: int = 0


@attrs.define
class AppState:
    """Per running app: its identity (a restart is a new app), jobs and counter."""

    owner: RunningApp
    generation: int
    counter: Counter
    pushes: dict[str, Push] = attrs.field(factory=dict)
    records: dict[str, Record] = attrs.field(factory=dict)
    channels_loaded: bool = False


def failed(detail: str) -> EngineError:
    """``FAILED`` with ``detail`` (the reason OME shows)."""
    return EngineError(EngineResult.FAILED, detail)


def missing(detail: str = "") -> EngineError:
    """``NOT_EXISTS``."""
    return EngineError(EngineResult.NOT_EXISTS, detail)


Call = tuple[str, str, str]


class CallLog(Sequence[Call]):
    """The engine's calls as a list that forgets all but the last :attr:`keep`.

    Indexes count every call ever made, so ``log[len(log_before):]`` still gives the
    calls since a mark; a long-running server keeps a bounded number.
    """

    keep = 10_000

    def __init__(self) -> None:
        self._recent: collections.deque[Call] = collections.deque(maxlen=self.keep)
        self._count = 0

    def append(self, call: Call) -> None:
        self._recent.append(call)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Call]:
        """The calls still kept, oldest first."""
        return iter(list(self._recent))

    @overload
    def __getitem__(self, index: int) -> Call: ...
    @overload
    def __getitem__(self, index: slice) -> list[Call]: ...
    def __getitem__(self, index: int | slice) -> Call | list[Call]:
        forgotten = self._count - len(self._recent)
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if start < forgotten and start < stop:
                raise IndexError(f"calls before #{forgotten} are forgotten")
            return list(self._recent)[start - forgotten : stop - forgotten : step]
        if index < 0:
            index += self._count
        if not forgotten <= index < self._count:
            raise IndexError(index)
        return self._recent[index - forgotten]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, CallLog)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class World:
    """The simulation's state and the lookups every part uses (callers hold :attr:`lock`).

    ``clock`` is the engine's time; ``config_dir`` is where relative channel directories are
    resolved.  :attr:`on_app_start` is called (under the lock) the first time a part looks
    at an app after it started, with ``(vhost, app, running)``: the channels part loads the
    app's channel files then.
    """

    def __init__(self, clock: Callable[[], float] = time.time, config_dir: str = "") -> None:
        self.clock = clock
        self.config_dir = config_dir
        self.lock = threading.RLock()
        self.vhosts: dict[str, VirtualHostConfig] = {}
        self.apps: dict[tuple[str, str], RunningApp] = {}
        #: the lifecycle calls, in order: (operation, vhost, app)
        self.calls = CallLog()
        self.failures: dict[str, int] = {}
        now = clock()
        self.server = Counter(now)
        self.vhost_counters: dict[str, Counter] = {}
        self.app_states: dict[tuple[str, str], AppState] = {}
        self.lives: dict[tuple[str, str, str], Live] = {}
        self.ports = itertools.count(40000)
        #: session ids, unique in the engine's lifetime
        self.session_ids = itertools.count(1)
        # What the clock needs to advance only what a call asks about (see
        # :mod:`~omeapi._simulated.clock`):
        #: apps changed since the last tick (started, restarted, stopped, sessions or jobs)
        self.dirty: dict[tuple[str, str], None] = {}
        #: per vhost, its apps with streams or jobs (every other app is idle: nothing flows)
        self.busy: dict[str, dict[str, None]] = {}
        #: what each app adds to its vhost's and the server's rates and connections, with
        #: the vhost counter it was added to
        self.added: dict[tuple[str, str], tuple[Counter, int, int, dict[str, int]]] = {}
        #: when an app's jobs next change state by themselves: a heap, and each app's earliest
        self.due: list[tuple[float, str, str]] = []
        self.next_due: dict[tuple[str, str], float] = {}
        #: the names of each app's :attr:`lives` (to drop the ended ones app by app)
        self.app_lives: dict[tuple[str, str], set[str]] = {}
        self.on_app_start: Callable[[str, str, RunningApp], None] = lambda vhost, app, r: None
        #: when the clock last ticked, and its catch-up (called under the lock before an
        #: app's sessions or config change: see ``Clock.catch_up``)
        self.last_tick = now
        self.catch_up: Callable[[str, str], None] = lambda vhost, app: None

    def touch(self, vhost: str, app: str) -> None:
        """Have the next tick advance the app, whatever it asks about (it changed)."""
        self.dirty[(vhost, app)] = None

    # -- injected failures ----------------------------------------------------------------

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` (a method name) fail."""
        with self.lock:
            self.failures[operation] = self.failures.get(operation, 0) + times

    def maybe_fail(self, operation: str) -> None:
        """Raise the injected failure of ``operation`` if one is due."""
        left = self.failures.get(operation, 0)
        if left:
            self.failures[operation] = left - 1
            raise EngineError(EngineResult.FAILED, f"injected failure of {operation}")

    # -- lookups ----------------------------------------------------------------------------

    def running(self, vhost: str, app: str) -> RunningApp:
        """A running app, or ``NOT_EXISTS``."""
        running = self.apps.get((vhost, app))
        if running is None:
            raise EngineError(EngineResult.NOT_EXISTS, f"{vhost}/{app} is not running")
        return running

    def app_state(self, vhost: str, app: str) -> AppState | None:
        """A running app's jobs and counter (new after a restart), or None."""
        running = self.apps.get((vhost, app))
        if running is None:
            self.app_states.pop((vhost, app), None)
            return None
        state = self.app_states.get((vhost, app))
        if state is None or state.owner is not running or state.generation != running.generation:
            # A new app, or the old one restarted: OME starts it from scratch.
            state = AppState(running, running.generation, Counter(running.started))
            self.app_states[(vhost, app)] = state
        if not state.channels_loaded:
            state.channels_loaded = True
            self.on_app_start(vhost, app, running)
        return state

    def live_for(self, vhost: str, app: str, stream: SimulatedStream) -> Live:
        """What is known about ``stream`` (made for a stream ``publish()`` started)."""
        key = (vhost, app, stream.name)
        live = self.lives.get(key)
        if live is None or live.stream is not stream:
            # Published through ``publish()``: an RTMP push from a local encoder.
            live = Live(
                stream,
                "Rtmp",
                input_tracks("Rtmp"),
                f"TCP://127.0.0.1:{next(self.ports)}",
            )
            self.lives[key] = live
            self.app_lives.setdefault((vhost, app), set()).add(stream.name)
        return live

    def streams(self, vhost: str, app: str) -> Iterator[tuple[str, Live]]:
        """The app's input streams in creation order (none when it is not running)."""
        running = self.apps.get((vhost, app))
        if running is None:
            return
        for name, stream in list(running.streams.items()):
            yield name, self.live_for(vhost, app, stream)

    def stream_live(self, vhost: str, app: str, stream: str) -> Live:
        """A live input stream, or ``NOT_EXISTS``."""
        running = self.apps.get((vhost, app))
        found = None if running is None else running.streams.get(stream)
        if found is None:
            raise missing(f"{vhost}/{app}/{stream} is not live")
        return self.live_for(vhost, app, found)

    def new_stream(
        self,
        vhost: str,
        app: str,
        name: str,
        source_type: str,
        *,
        publishers: int = 1,
        tracks: tuple[Track, ...] | None = None,
        source_url: str = "",
        schedule: Schedule | None = None,
        multiplex: Multiplex | None = None,
        relay: bool = False,
    ) -> Live:
        """Start an input stream on a running app (``relay``: published as it comes)."""
        stream = SimulatedStream(name, self.clock(), publishers=publishers)
        self.apps[(vhost, app)].streams[name] = stream
        self.touch(vhost, app)
        live = Live(
            stream,
            source_type,
            tracks or input_tracks(source_type),
            source_url,
            schedule=schedule,
            multiplex=multiplex,
            relay=relay,
        )
        self.lives[(vhost, app, name)] = live
        self.app_lives.setdefault((vhost, app), set()).add(name)
        return live

    def sessions_of(self, live: Live) -> list[SimulatedSession]:
        """The stream's sessions, brought in step with its counts first: a publisher or
        viewer counted but not yet named gets a session that starts now (the newest are
        the first to go when a count went down)."""
        stream = live.stream
        sessions = stream.session_list
        for publisher, wanted in ((True, stream.publishers), (False, stream.viewers)):
            mine = [s for s in sessions if s.publisher is publisher]
            for gone in mine[wanted:]:
                sessions.remove(gone)
            for _ in range(wanted - len(mine)):
                number = next(self.session_ids)
                if publisher:
                    protocol = live.source_type.lower().removesuffix("pull")
                    remote = urlsplit(live.source_url).netloc or f"127.0.0.1:{next(self.ports)}"
                else:
                    protocol = "llhls"
                    remote = f"198.51.100.{1 + number % 254}:{50000 + number % 10000}"
                sessions.append(
                    SimulatedSession(str(number), protocol, remote, self.clock(), publisher)
                )
        return sessions

    def running_config(self, vhost: str, app: str) -> ApplicationConfig:
        """The config a running app runs with, or ``NOT_EXISTS``."""
        running = self.apps.get((vhost, app))
        if running is None:
            raise missing(f"{vhost}/{app} is not running")
        return running.config

    def outputs(self, vhost: str, app: str, name: str, live: Live) -> tuple[OutputStream, ...]:
        """The output streams the app's profiles make of input stream ``name``."""
        config = self.running_config(vhost, app)
        if live.relay:
            return ()
        # Outputs depend only on the (immutable) config and the tracks: built once per config.
        if live.outputs_config is not config:
            live.outputs = build_outputs(config, name, live.tracks)
            live.outputs_config = config
        return live.outputs

    def output_stream(self, vhost: str, app: str, output: str) -> tuple[Live, OutputStream] | None:
        """The input stream that has an output called ``output``, and that output."""
        for name, live in self.streams(vhost, app):
            for out in self.outputs(vhost, app, name, live):
                if out.name == output:
                    return live, out
        return None
