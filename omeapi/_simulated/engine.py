"""An in-memory media server: the embedded default engine.

It keeps applications, streams and sessions (publishers and viewers per stream) so that the
whole API runs with no media server attached, and so that tests can see a restart drop
exactly one application's sessions.  Failures can be injected, and the clock is a
parameter.

:class:`SimulatedEngine` owns the state (a :class:`~omeapi._simulated.state.World`) and
composes the parts that work on it, each in a module named for what it simulates:
:mod:`~omeapi._simulated.apps` (the lifecycle), :mod:`~omeapi._simulated.streams`,
:mod:`~omeapi._simulated.jobs` (push and record), :mod:`~omeapi._simulated.channels`,
:mod:`~omeapi._simulated.stats` and :mod:`~omeapi._simulated.clock` (time only moves when
someone asks: every call brings the simulation up to ``clock()``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence, Set

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.channels import Multiplex, MultiplexInfo, Schedule, ScheduledChannelInfo
from omeapi._engine.protocol import RestartOutcome
from omeapi._engine.values import (
    HlsDump,
    HlsDumpRequest,
    Metrics,
    PullRequest,
    PushInfo,
    PushRequest,
    QueueMetrics,
    RecordInfo,
    RecordRequest,
    SessionInfo,
    StreamEvent,
    StreamInfo,
    SttStatus,
    SubtitleCue,
)
from omeapi._simulated.apps import Apps
from omeapi._simulated.channels import Channels
from omeapi._simulated.clock import Clock
from omeapi._simulated.jobs import JobMachine, Jobs
from omeapi._simulated.state import SimulatedStream, World
from omeapi._simulated.stats import Stats
from omeapi._simulated.streams import Streams

__all__ = ["SimulatedEngine", "SimulatedStream"]


class SimulatedEngine:
    """The default :class:`~omeapi.MediaEngine`: everything in memory, thread-safe.

    ``config_dir`` is where relative channel directories are resolved (the Server.xml's
    directory).  ``live_fields`` are the top-level app keys it pretends to change without a
    restart (none by default).  :meth:`fail_next` makes the next calls of an operation fail
    (the runtime methods too; only the lifecycle calls are listed in :attr:`calls`).  The
    constructor starts no thread: time moves when a method is called.
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
        #: where relative channel directories are resolved (the Server.xml's directory)
        self.config_dir = config_dir
        self._world = world = World(clock, config_dir)
        #: every lifecycle call, in order: (operation, vhost, app)
        self.calls = world.calls
        ticker = Clock(world, JobMachine(world))
        world.catch_up = ticker.catch_up
        self._apps_part = Apps(
            world, live_fields=live_fields, operation_delay=operation_delay, sleep=sleep
        )
        self._streams_part = Streams(world, ticker.tick)
        self._jobs_part = Jobs(world, ticker.tick)
        self._channels_part = Channels(world, ticker.tick)
        self._stats_part = Stats(world, ticker.tick)
        # An app's channel files become streams when a part first looks at the app.
        world.on_app_start = self._channels_part.load

    # -- test controls ----------------------------------------------------------------

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` (a method name) fail."""
        self._world.fail_next(operation, times)

    def publish(self, vhost: str, app: str, stream: str, *, viewers: int = 0) -> None:
        """Start a stream with one publisher (and ``viewers`` viewers) on a running app."""
        self._streams_part.publish(vhost, app, stream, viewers=viewers)

    def add_viewers(self, vhost: str, app: str, stream: str, count: int = 1) -> None:
        """Add viewers to a live stream."""
        self._streams_part.add_viewers(vhost, app, stream, count)

    def sessions(self, vhost: str, app: str) -> int:
        """Sessions on an app (0 when it is not running)."""
        return self._streams_part.sessions(vhost, app)

    def streams(self, vhost: str, app: str) -> list[str]:
        """Names of the app's input streams, in creation order."""
        return self._streams_part.names(vhost, app)

    def events(self, vhost: str, app: str, stream: str) -> list[StreamEvent]:
        """Events injected into a live stream, in order."""
        return self._streams_part.events(vhost, app, stream)

    def subtitles(self, vhost: str, app: str, stream: str) -> list[SubtitleCue]:
        """Subtitle cues sent to a live stream, in order."""
        return self._streams_part.subtitles(vhost, app, stream)

    def concluded(self, vhost: str, app: str, stream: str) -> bool:
        """Whether the stream's HLS playlists were concluded."""
        return self._streams_part.concluded(vhost, app, stream)

    def application(self, vhost: str, app: str) -> ApplicationConfig | None:
        """The config an app is running with (None when it is not running)."""
        return self._apps_part.application(vhost, app)

    def applications(self) -> dict[tuple[str, str], ApplicationConfig]:
        """Every running app and its config."""
        return self._apps_part.applications()

    def virtual_hosts(self) -> list[str]:
        """Names of the running vhosts."""
        return self._apps_part.virtual_hosts()

    def generation(self, vhost: str, app: str) -> int:
        """How many times the app was restarted with a new config."""
        return self._apps_part.generation(vhost, app)

    # -- MediaEngine: the lifecycle -----------------------------------------------------

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        self._apps_part.create_virtual_host(vhost)

    def delete_virtual_host(self, name: str) -> None:
        self._apps_part.delete_virtual_host(name)

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        self._apps_part.create_application(vhost, app)

    def delete_application(self, vhost: str, app: str) -> int:
        return self._apps_part.delete_application(vhost, app)

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        return self._apps_part.restart_application(vhost, old, new)

    def live_fields(self) -> Set[str]:
        return self._apps_part.live_fields()

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        self._apps_part.apply_live(vhost, old, new)

    # -- RuntimeEngine: streams ---------------------------------------------------------

    def list_streams(self, vhost: str, app: str) -> list[str]:
        return self._streams_part.list_streams(vhost, app)

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        return self._streams_part.get_stream(vhost, app, stream)

    def create_pull_stream(self, vhost: str, app: str, request: PullRequest) -> None:
        self._streams_part.create_pull_stream(vhost, app, request)

    def delete_stream(self, vhost: str, app: str, stream: str) -> None:
        self._streams_part.delete_stream(vhost, app, stream)

    def list_hls_dumps(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> list[HlsDump]:
        return self._streams_part.list_hls_dumps(vhost, app, stream, output_stream, dump_id)

    def start_hls_dump(self, vhost: str, app: str, stream: str, request: HlsDumpRequest) -> None:
        self._streams_part.start_hls_dump(vhost, app, stream, request)

    def stop_hls_dump(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> None:
        self._streams_part.stop_hls_dump(vhost, app, stream, output_stream, dump_id)

    def send_event(self, vhost: str, app: str, stream: str, event: StreamEvent) -> None:
        self._streams_part.send_event(vhost, app, stream, event)

    def conclude_hls_live(self, vhost: str, app: str, stream: str, urgent: bool) -> None:
        self._streams_part.conclude_hls_live(vhost, app, stream, urgent)

    def send_subtitles(
        self, vhost: str, app: str, stream: str, cues: Sequence[SubtitleCue]
    ) -> None:
        self._streams_part.send_subtitles(vhost, app, stream, cues)

    def enable_stt(self, vhost: str, app: str, stream: str) -> None:
        self._streams_part.enable_stt(vhost, app, stream)

    def disable_stt(self, vhost: str, app: str, stream: str) -> None:
        self._streams_part.disable_stt(vhost, app, stream)

    def stt_status(self, vhost: str, app: str, stream: str) -> SttStatus:
        return self._streams_part.stt_status(vhost, app, stream)

    # -- RuntimeEngine: sessions --------------------------------------------------------

    def list_sessions(self, vhost: str, app: str, stream: str) -> list[SessionInfo]:
        return self._streams_part.list_sessions(vhost, app, stream)

    def disconnect_session(self, vhost: str, app: str, stream: str, session_id: str) -> None:
        self._streams_part.disconnect_session(vhost, app, stream, session_id)

    # -- RuntimeEngine: push and record -------------------------------------------------

    def start_push(self, vhost: str, app: str, request: PushRequest) -> PushInfo:
        return self._jobs_part.start_push(vhost, app, request)

    def stop_push(self, vhost: str, app: str, push_id: str) -> PushInfo:
        return self._jobs_part.stop_push(vhost, app, push_id)

    def list_pushes(self, vhost: str, app: str, push_id: str | None) -> list[PushInfo]:
        return self._jobs_part.list_pushes(vhost, app, push_id)

    def start_record(self, vhost: str, app: str, request: RecordRequest) -> RecordInfo:
        return self._jobs_part.start_record(vhost, app, request)

    def stop_record(self, vhost: str, app: str, record_id: str) -> RecordInfo:
        return self._jobs_part.stop_record(vhost, app, record_id)

    def list_records(self, vhost: str, app: str, record_id: str | None) -> list[RecordInfo]:
        return self._jobs_part.list_records(vhost, app, record_id)

    # -- RuntimeEngine: channels --------------------------------------------------------

    def list_scheduled_channels(self, vhost: str, app: str) -> list[str]:
        return self._channels_part.list_scheduled_channels(vhost, app)

    def create_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        self._channels_part.create_scheduled_channel(vhost, app, path, schedule)

    def get_scheduled_channel(
        self, vhost: str, app: str, stream: str
    ) -> ScheduledChannelInfo | None:
        return self._channels_part.get_scheduled_channel(vhost, app, stream)

    def update_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        self._channels_part.update_scheduled_channel(vhost, app, path, schedule)

    def delete_scheduled_channel(self, vhost: str, app: str, stream: str, path: str) -> None:
        self._channels_part.delete_scheduled_channel(vhost, app, stream, path)

    def list_multiplex_channels(self, vhost: str, app: str) -> list[str]:
        return self._channels_part.list_multiplex_channels(vhost, app)

    def create_multiplex_channel(
        self, vhost: str, app: str, path: str, multiplex: Multiplex
    ) -> None:
        self._channels_part.create_multiplex_channel(vhost, app, path, multiplex)

    def get_multiplex_channel(self, vhost: str, app: str, name: str) -> MultiplexInfo | None:
        return self._channels_part.get_multiplex_channel(vhost, app, name)

    def delete_multiplex_channel(self, vhost: str, app: str, name: str, path: str) -> None:
        self._channels_part.delete_multiplex_channel(vhost, app, name, path)

    # -- RuntimeEngine: statistics ------------------------------------------------------

    def metrics(self, *scope: str) -> Metrics | None:
        return self._stats_part.metrics(*scope)

    def queue_metrics(self) -> list[QueueMetrics]:
        return self._stats_part.queue_metrics()
