"""The simulated engine's runtime: streams, outputs, jobs, channels and statistics.

:class:`SimulatedRuntime` is the half of :class:`~omeapi.SimulatedEngine` that
implements :class:`~omeapi.RuntimeEngine`.  It works on the engine's running
apps and their :class:`~omeapi._simulated.engine.SimulatedStream` sessions (the one source of truth
for which streams exist) and keeps what OME would know about each of them beside it:

* **Streams.**  A stream started with ``publish()`` is an RTMP push; ``create_pull_stream``
  pulls (``rtsp``, ``rtmp``, ``ovt``, ``srt`` URLs; a host under the reserved ``.invalid``
  domain never answers).  Input tracks are plausible (H264 720p30, AAC or Opus, a data
  track); outputs follow the app's output profiles (bypass copies the input track, an encode
  makes a new one) with the profile's playlists and LL-HLS's default playlist.
* **Jobs.**  Push and record jobs run OME's state machines on the engine's clock: ``ready``
  until the output stream exists, then ``connecting`` (push) and ``pushing``/``recording``
  :data:`CONNECT_DELAY` seconds later (``error`` for a push target under ``.invalid`` or a
  record path with a directory named ``*.invalid``), ``stopping`` on stop and ``stopped``
  :data:`STOP_DELAY` later.  Finished jobs stay listed :data:`JOB_RETENTION` seconds; their
  id may be reused at once.
* **Statistics.**  Bytes flow at the tracks' bitrates: in from the source, out to each viewer
  (counted as ``llhls`` connections), to each pushing job (``push``); a recording job counts
  as a ``file`` connection.  Counts are integers added to the stream, its app, its vhost and
  the server at once, so every level is the sum of the one below.
* **Channels.**  Scheduled and multiplex channels are files (see :mod:`omeapi._engine.channels`) and
  streams; the files found in an app's directories when it first runs become streams too.

Time only moves when someone asks: every call brings the simulation up to ``clock()``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._config.nodes import Item
from omeapi._engine.channels import (
    MULTIPLEX_SUFFIX,
    SCHEDULE_SUFFIX,
    Multiplex,
    MultiplexInfo,
    Schedule,
    ScheduledChannelInfo,
    current_program,
    delete_channel_file,
    parse_multiplex,
    parse_schedule,
    read_channel_files,
    write_channel_file,
)
from omeapi._engine.features import channel_dir, has_llhls_default_playlist, publisher
from omeapi._engine.protocol import EngineError, EngineResult
from omeapi._engine.values import (
    AudioInfo,
    HlsDump,
    HlsDumpRequest,
    Metrics,
    OutputStream,
    Playlist,
    PullRequest,
    PushInfo,
    PushRequest,
    QueueMetrics,
    RecordInfo,
    RecordRequest,
    Rendition,
    StreamEvent,
    StreamInfo,
    SubtitleCue,
    Track,
    VideoInfo,
    record_schedule_fields,
)
from omeapi._errors import ApiError

if TYPE_CHECKING:
    from omeapi._simulated.engine import SimulatedStream, _App

__all__ = [
    "CONNECT_DELAY",
    "JOB_RETENTION",
    "STOP_DELAY",
    "SimulatedRuntime",
    "build_outputs",
    "input_tracks",
]

#: seconds from a job's stream being available to pushing / recording
CONNECT_DELAY = 1.0
#: seconds from a stop request to ``stopped``
STOP_DELAY = 1.0
#: seconds a stopped or failed job stays listed
JOB_RETENTION = 60.0

#: the reserved top-level domain (RFC 2606) the simulation treats as unreachable
_UNREACHABLE = ".invalid"

# -- tracks and outputs ----------------------------------------------------------------

_H264 = VideoInfo(
    codec="H264",
    width=1280,
    height=720,
    framerate=30.0,
    bitrate=2_500_000,
    max_width=1280,
    max_height=720,
    bitrate_conf=2_500_000,
    bitrate_avg=2_500_000,
    bitrate_latest=2_500_000,
    framerate_conf=30.0,
    framerate_avg=30.0,
    framerate_latest=30.0,
    key_frame_interval=60.0,
    key_frame_interval_avg=60.0,
    key_frame_interval_latest=60.0,
)
_AAC = AudioInfo("AAC", 48000, 2, 128_000, False, 128_000, 128_000, 128_000)
_OPUS = AudioInfo("OPUS", 48000, 2, 128_000, False, 128_000, 128_000, 128_000)

#: source type → (video, audio, has a data track); RTMP's layout is the observed one
_SOURCE_LAYOUT: dict[str, tuple[VideoInfo | None, AudioInfo | None, bool]] = {
    "Rtmp": (_H264, _AAC, True),
    "RtmpPull": (_H264, _AAC, True),
    "RtspPull": (_H264, _AAC, False),
    "Ovt": (_H264, _OPUS, True),
    "SRT": (_H264, _AAC, True),
    "Scheduled": (_H264, _AAC, False),
}

#: pull URL scheme → the source type of the pulled stream
_PULL_SCHEMES = {
    "rtsp": "RtspPull",
    "rtsps": "RtspPull",
    "rtmp": "RtmpPull",
    "rtmps": "RtmpPull",
    "ovt": "Ovt",
    "srt": "SRT",
}

#: encode codec name prefix → OME's codec string
_VIDEO_CODECS = {"h264": "H264", "h265": "H265", "hevc": "H265", "vp8": "VP8", "vp9": "VP9"}
_AUDIO_CODECS = {"aac": "AAC", "opus": "OPUS", "mp3": "MP3"}


def input_tracks(source_type: str, *, video: bool = True, audio: bool = True) -> tuple[Track, ...]:
    """The input tracks a simulated source of ``source_type`` has."""
    layout_video, layout_audio, data = _SOURCE_LAYOUT.get(source_type, (_H264, _AAC, False))
    tracks: list[Track] = []
    if video and layout_video is not None:
        tracks.append(Track(len(tracks), "Video", "Video", video=layout_video))
    if audio and layout_audio is not None:
        tracks.append(Track(len(tracks), "Audio", "Audio", audio=layout_audio))
    if data:
        tracks.append(Track(len(tracks), "Data", "Data"))
    return tuple(tracks)


def _bitrate(value: Any, default: int) -> int:
    """An encode's ``Bitrate`` (``"2.5M"``, ``"128K"``, ``128000``) in bits per second."""
    text = str(value).strip() if value is not None else ""
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        number = float(digits)
    except ValueError:
        return default
    return int(number * scale) if number > 0 else default


def _codec(name: Any, table: dict[str, str], default: str) -> str:
    lowered = str(name or "").lower()
    for prefix, codec in table.items():
        if lowered.startswith(prefix):
            return codec
    return default


def _bypass(encode: Item, source_codec: str, table: dict[str, str]) -> bool:
    if encode.value("Bypass", False):
        return True
    match = encode.item("BypassIfMatch")
    # Only the codec condition is simulated: the others are about values the sim keeps fixed.
    return (
        match is not None
        and str(match.value("Codec", "")).lower() == "eq"
        and _codec(encode.value("Codec"), table, "") == source_codec
    )


def _video_output(encode: Item, source: VideoInfo, track_id: int, name: str) -> Track:
    if _bypass(encode, source.codec, _VIDEO_CODECS):
        return Track(track_id, "Video", name, video=attrs.evolve(source, bypass=True))
    width = int(encode.value("Width", 0) or 0)
    height = int(encode.value("Height", 0) or 0)
    if width <= 0 and height <= 0:
        width, height = source.width, source.height
    elif width <= 0:
        width = source.width * height // max(1, source.height)
    elif height <= 0:
        height = source.height * width // max(1, source.width)
    framerate = float(encode.value("Framerate", 0.0) or 0.0) or source.framerate
    bitrate = _bitrate(encode.value("Bitrate"), source.bitrate)
    video = VideoInfo(
        codec=_codec(encode.value("Codec"), _VIDEO_CODECS, "H264"),
        width=width,
        height=height,
        framerate=framerate,
        bitrate=bitrate,
        max_width=width,
        max_height=height,
        bitrate_conf=bitrate,
        bitrate_avg=bitrate,
        bitrate_latest=bitrate,
        framerate_conf=framerate,
        framerate_avg=framerate,
        framerate_latest=framerate,
        key_frame_interval=framerate * 2,
        key_frame_interval_conf=framerate * 2,
        key_frame_interval_avg=framerate * 2,
        key_frame_interval_latest=framerate * 2,
    )
    return Track(track_id, "Video", name, video=video)


def _audio_output(encode: Item, source: AudioInfo, track_id: int, name: str) -> Track:
    if _bypass(encode, source.codec, _AUDIO_CODECS):
        return Track(track_id, "Audio", name, audio=attrs.evolve(source, bypass=True))
    bitrate = _bitrate(encode.value("Bitrate"), source.bitrate)
    audio = AudioInfo(
        codec=_codec(encode.value("Codec"), _AUDIO_CODECS, "AAC"),
        samplerate=int(encode.value("Samplerate", 0) or 0) or source.samplerate,
        channel=int(encode.value("Channel", 0) or 0) or source.channel,
        bitrate=bitrate,
        bitrate_conf=bitrate,
        bitrate_avg=bitrate,
        bitrate_latest=bitrate,
    )
    return Track(track_id, "Audio", name, audio=audio)


def _first(tracks: Sequence[Track], kind: str) -> Track | None:
    return next((t for t in tracks if t.type == kind), None)


def _playlist(item: Item) -> Playlist:
    options = item.item("Options")

    def option(name: str, default: Any) -> Any:
        return default if options is None else options.value(name, default)

    return Playlist(
        str(item.value("Name", "") or ""),
        str(item.value("FileName", "") or ""),
        tuple(
            Rendition(
                str(r.value("Name", "") or ""),
                str(r.value("Video", "") or ""),
                str(r.value("Audio", "") or ""),
            )
            for r in item.items("Rendition")
        ),
        bool(option("WebRtcAutoAbr", True)),
        int(option("HLSChunklistPathDepth", -1)),
        bool(option("EnableTsPackaging", False)),
    )


def build_outputs(
    app: ApplicationConfig, stream: str, tracks: Sequence[Track]
) -> tuple[OutputStream, ...]:
    """The output streams the app's output profiles make of an input stream."""
    source_video = _first(tracks, "Video")
    source_audio = _first(tracks, "Audio")
    llhls_default = has_llhls_default_playlist(app)
    outputs: list[OutputStream] = []
    for profile in app.output_profiles:
        encodes = profile.node.item("Encodes")
        out: list[Track] = []
        for encode in encodes.items("Video") if encodes else ():
            if source_video is not None and source_video.video is not None:
                name = str(encode.value("Name", "") or f"video_{len(out)}")
                out.append(_video_output(encode, source_video.video, len(out), name))
        for encode in encodes.items("Audio") if encodes else ():
            if source_audio is not None and source_audio.audio is not None:
                name = str(encode.value("Name", "") or f"audio_{len(out)}")
                out.append(_audio_output(encode, source_audio.audio, len(out), name))
        # Data tracks (timed metadata) follow the stream through every profile.
        out.extend(attrs.evolve(t, id=len(out) + i) for i, t in enumerate(_data(tracks)))
        playlists: list[Playlist] = []
        first_video, first_audio = _first(out, "Video"), _first(out, "Audio")
        if llhls_default and (first_video or first_audio):
            playlists.append(
                Playlist(
                    "llhls_default",
                    "llhls",
                    (
                        Rendition(
                            "default",
                            first_video.name if first_video else "",
                            first_audio.name if first_audio else "",
                        ),
                    ),
                    webrtc_auto_abr=False,
                )
            )
        playlists.extend(_playlist(p) for p in profile.node.items("Playlist"))
        name = profile.output_stream_name.replace("${OriginStreamName}", stream)
        outputs.append(OutputStream(name, tuple(out), tuple(playlists)))
    return tuple(outputs)


def _data(tracks: Sequence[Track]) -> list[Track]:
    return [t for t in tracks if t.type == "Data"]


def _track_bitrate(track: Track) -> int:
    if track.video is not None:
        return track.video.bitrate
    if track.audio is not None:
        return track.audio.bitrate
    return 0


def _selected_bitrate(output: OutputStream, track_ids: Sequence[int], names: Sequence[str]) -> int:
    chosen = [
        t
        for t in output.tracks
        if (not track_ids and not names) or t.id in track_ids or t.name in names
    ]
    return sum(_track_bitrate(t) for t in chosen)


def _unreachable_host(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return True
    return not host or host.rstrip(".").endswith(_UNREACHABLE)


# -- record file names ----------------------------------------------------------------------

#: Record paths when neither the request nor ``<Publishers><FILE>`` names one; relative
#: paths are under ``RootPath`` (``/tmp`` without one).
_DEFAULT_FILE_PATH = (
    "${VirtualHost}_${Application}_${StreamName}"
    "_${StartTime:YYYYMMDDhhmmss}_${EndTime:YYYYMMDDhhmmss}.ts"
)
_DEFAULT_INFO_PATH = "${VirtualHost}_${Application}_${StreamName}.xml"
_DEFAULT_ROOT = "/tmp"
_MACRO = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")
_TIME_TOKENS = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("hh", "%H"), ("mm", "%M"))


def _time_text(when: float, pattern: str) -> str:
    if when <= 0:
        return ""
    fmt = pattern or "YYYYMMDDhhmmss"
    for token, directive in _TIME_TOKENS:
        fmt = fmt.replace(token, directive)
    fmt = fmt.replace("ss", "%S")
    try:
        return time.strftime(fmt, time.localtime(when))
    except (OverflowError, OSError, ValueError):
        return ""


def _expand(template: str, values: dict[str, str], start: float, end: float) -> str:
    """A record path template with OME's ``${…}`` macros filled in."""

    def fill(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2) or ""
        if name == "StartTime":
            return _time_text(start, arg)
        if name == "EndTime":
            return _time_text(end, arg)
        return values.get(name, m.group(0))

    return _MACRO.sub(fill, template)


def _schedule_splits(schedule: str, start: float, now: float) -> tuple[int, float]:
    """How many scheduled file splits happened in (start, now] and when the last was."""
    sets = record_schedule_fields(schedule)
    if sets is None or now <= start:
        return 0, start
    seconds, minutes, hours = sets
    first, end = int(start) + 1, int(now)
    # Whole days are counted arithmetically; the last day is walked, jumping over hours and
    # minutes that cannot match.
    days = (end - first) // 86400
    count, last = days * len(seconds) * len(minutes) * len(hours), start
    t = first + days * 86400
    while t <= end:
        moment = time.localtime(t)
        if moment.tm_hour not in hours:
            t += 3600 - moment.tm_min * 60 - moment.tm_sec
        elif moment.tm_min not in minutes:
            t += 60 - moment.tm_sec
        else:
            if moment.tm_sec in seconds:
                count, last = count + 1, float(t)
            t += min((s for s in seconds if s > moment.tm_sec), default=60) - moment.tm_sec
    return count, last


# -- state kept beside the engine's streams ----------------------------------------------------


@attrs.define
class _Counter:
    """Statistics of one level (server, vhost, app or stream)."""

    created: float
    owner: object = None
    bytes_in: int = 0
    bytes_out: int = 0
    rate_in: int = 0
    rate_out: int = 0
    max_in: int = 0
    max_out: int = 0
    last_recv: float = 0.0
    last_sent: float = 0.0
    connections: dict[str, int] = attrs.field(factory=dict)
    max_connections: int = 0
    max_connections_time: float = 0.0

    def reset_rates(self) -> None:
        self.rate_in = self.rate_out = 0
        self.connections = {}

    def add(self, bytes_in: int, bytes_out: int, rate_in: int, rate_out: int) -> None:
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        self.rate_in += rate_in
        self.rate_out += rate_out

    def connect(self, kind: str, count: int) -> None:
        if count:
            self.connections[kind] = self.connections.get(kind, 0) + count

    def settle(self, now: float) -> None:
        self.max_in = max(self.max_in, self.rate_in)
        self.max_out = max(self.max_out, self.rate_out)
        if self.rate_in:
            self.last_recv = now
        if self.rate_out:
            self.last_sent = now
        total = sum(self.connections.values())
        if total > self.max_connections:
            self.max_connections, self.max_connections_time = total, now

    def metrics(self, now: float) -> Metrics:
        age = max(now - self.created, 1e-3)
        return Metrics(
            created=self.created,
            last_updated=now,
            last_recv=self.last_recv or self.created,
            last_sent=self.last_sent or self.created,
            total_bytes_in=self.bytes_in,
            total_bytes_out=self.bytes_out,
            avg_throughput_in=int(self.bytes_in * 8 / age),
            avg_throughput_out=int(self.bytes_out * 8 / age),
            max_throughput_in=self.max_in,
            max_throughput_out=self.max_out,
            last_throughput_in=self.rate_in,
            last_throughput_out=self.rate_out,
            connections=dict(self.connections),
            max_total_connections=self.max_connections,
            max_total_connection_time=self.max_connections_time or self.created,
        )


@attrs.define
class _Live:
    """What the simulation knows about one input stream beside its sessions."""

    stream: SimulatedStream
    source_type: str
    tracks: tuple[Track, ...]
    source_url: str = ""
    counter: _Counter | None = None
    schedule: Schedule | None = None
    multiplex: Multiplex | None = None
    dumps: dict[tuple[str, str], HlsDump] = attrs.field(factory=dict)
    events: list[StreamEvent] = attrs.field(factory=list)
    subtitles: list[SubtitleCue] = attrs.field(factory=list)
    concluded: bool = False
    #: viewer bytes already counted, and up to when
    viewer_bytes_until: float = 0.0
    outputs: tuple[OutputStream, ...] = ()
    outputs_config: ApplicationConfig | None = None


@attrs.define
class _Push:
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
class _Record:
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
class _AppState:
    """Per running app: its identity (a restart is a new app), jobs and counter."""

    owner: _App
    generation: int
    counter: _Counter
    pushes: dict[str, _Push] = attrs.field(factory=dict)
    records: dict[str, _Record] = attrs.field(factory=dict)
    channels_loaded: bool = False


def _failed(detail: str) -> EngineError:
    return EngineError(EngineResult.FAILED, detail)


def _missing(detail: str = "") -> EngineError:
    return EngineError(EngineResult.NOT_EXISTS, detail)


class SimulatedRuntime:
    """The runtime operations of the simulated engine (a mixin of
    :class:`~omeapi.SimulatedEngine`; see the module docstring)."""

    # Provided by SimulatedEngine.
    clock: Callable[[], float]
    _lock: contextlib.AbstractContextManager[Any]
    _apps: dict[tuple[str, str], _App]
    _vhosts: dict[str, VirtualHostConfig]

    if TYPE_CHECKING:
        # ``fail_next(<method name>)`` works for the runtime methods too; they are not
        # added to ``calls``, which lists the lifecycle calls.
        def _maybe_fail(self, operation: str) -> None: ...

    def _init_runtime(self, config_dir: str = "") -> None:
        """Set up the runtime state (called by the engine's ``__init__``)."""
        #: where relative channel directories are resolved (the Server.xml's directory)
        self.config_dir = config_dir
        now = self.clock()
        self._server = _Counter(now)
        self._vhost_counters: dict[str, _Counter] = {}
        self._app_states: dict[tuple[str, str], _AppState] = {}
        self._lives: dict[tuple[str, str, str], _Live] = {}
        self._ports = itertools.count(40000)

    def _runtime_vhost_created(self, name: str) -> None:
        """A vhost started: its statistics start now."""
        self._vhost_counters[name] = _Counter(self.clock())

    # -- test controls --------------------------------------------------------------------

    def events(self, vhost: str, app: str, stream: str) -> list[StreamEvent]:
        """Events injected into a live stream, in order."""
        with self._lock:
            return list(self._stream_live(vhost, app, stream).events)

    def subtitles(self, vhost: str, app: str, stream: str) -> list[SubtitleCue]:
        """Subtitle cues sent to a live stream, in order."""
        with self._lock:
            return list(self._stream_live(vhost, app, stream).subtitles)

    def concluded(self, vhost: str, app: str, stream: str) -> bool:
        """Whether the stream's HLS playlists were concluded."""
        with self._lock:
            return self._stream_live(vhost, app, stream).concluded

    # -- bookkeeping ------------------------------------------------------------------------

    def _app_state(self, vhost: str, app: str) -> _AppState | None:
        running = self._apps.get((vhost, app))
        if running is None:
            self._app_states.pop((vhost, app), None)
            return None
        state = self._app_states.get((vhost, app))
        if state is None or state.owner is not running or state.generation != running.generation:
            # A new app, or the old one restarted: OME starts it from scratch.
            state = _AppState(running, running.generation, _Counter(running.started))
            self._app_states[(vhost, app)] = state
        if not state.channels_loaded:
            state.channels_loaded = True
            self._load_channels(vhost, app, running)
        return state

    def _live_for(self, vhost: str, app: str, stream: SimulatedStream) -> _Live:
        key = (vhost, app, stream.name)
        live = self._lives.get(key)
        if live is None or live.stream is not stream:
            # Published through ``publish()``: an RTMP push from a local encoder.
            live = _Live(
                stream,
                "Rtmp",
                input_tracks("Rtmp"),
                f"TCP://127.0.0.1:{next(self._ports)}",
            )
            self._lives[key] = live
        return live

    def _streams(self, vhost: str, app: str) -> Iterator[tuple[str, _Live]]:
        running = self._apps.get((vhost, app))
        if running is None:
            return
        for name, stream in list(running.streams.items()):
            yield name, self._live_for(vhost, app, stream)

    def _stream_live(self, vhost: str, app: str, stream: str) -> _Live:
        running = self._apps.get((vhost, app))
        found = None if running is None else running.streams.get(stream)
        if found is None:
            raise _missing(f"{vhost}/{app}/{stream} is not live")
        return self._live_for(vhost, app, found)

    def _new_stream(
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
    ) -> _Live:
        # Imported here: simulated.py imports this module (it is SimulatedEngine's base).
        from omeapi._simulated.engine import SimulatedStream

        stream = SimulatedStream(name, self.clock(), publishers=publishers)
        self._apps[(vhost, app)].streams[name] = stream
        live = _Live(
            stream,
            source_type,
            tracks or input_tracks(source_type),
            source_url,
            schedule=schedule,
            multiplex=multiplex,
        )
        self._lives[(vhost, app, name)] = live
        return live

    def _running_config(self, vhost: str, app: str) -> ApplicationConfig:
        running = self._apps.get((vhost, app))
        if running is None:
            raise _missing(f"{vhost}/{app} is not running")
        return running.config

    def _outputs(self, vhost: str, app: str, name: str, live: _Live) -> tuple[OutputStream, ...]:
        config = self._running_config(vhost, app)
        # Outputs depend only on the (immutable) config and the tracks: built once per config.
        if live.outputs_config is not config:
            live.outputs = build_outputs(config, name, live.tracks)
            live.outputs_config = config
        return live.outputs

    def _output_stream(
        self, vhost: str, app: str, output: str
    ) -> tuple[_Live, OutputStream] | None:
        """The input stream that has an output called ``output``, and that output."""
        for name, live in self._streams(vhost, app):
            for out in self._outputs(vhost, app, name, live):
                if out.name == output:
                    return live, out
        return None

    # -- the clock ----------------------------------------------------------------------------

    def _tick(self) -> float:
        """Bring jobs and statistics up to ``clock()``; returns that time."""
        now = self.clock()
        self._server.reset_rates()
        for counter in self._vhost_counters.values():
            counter.reset_rates()
        for vhost in self._vhosts:
            self._vhost_counters.setdefault(vhost, _Counter(now))
        alive: set[tuple[str, str, str]] = set()
        for vhost, app in list(self._apps):
            state = self._app_state(vhost, app)
            if state is None:
                continue
            state.counter.reset_rates()
            chain = [self._server, self._vhost_counters[vhost], state.counter]
            self._advance_jobs(vhost, app, state, now)
            for name, live in self._streams(vhost, app):
                alive.add((vhost, app, name))
                self._flow(vhost, app, name, live, state, chain, now)
            for counter in chain[2:]:
                counter.settle(now)
        for key in [k for k in self._lives if k not in alive]:
            del self._lives[key]
        for counter in self._vhost_counters.values():
            counter.settle(now)
        self._server.settle(now)
        return now

    def _flow(
        self,
        vhost: str,
        app: str,
        name: str,
        live: _Live,
        state: _AppState,
        chain: list[_Counter],
        now: float,
    ) -> None:
        """Count one stream's traffic since the last tick into it and every level above."""
        stream = live.stream
        if live.counter is None:
            live.counter = _Counter(stream.created)
            live.viewer_bytes_until = stream.created
        counter = live.counter
        counter.reset_rates()
        levels = [*chain, counter]
        rate_in = sum(_track_bitrate(t) for t in live.tracks)
        bytes_in = int(max(0.0, now - stream.created) * rate_in / 8) - counter.bytes_in
        outputs = self._outputs(vhost, app, name, live)
        per_viewer = sum(_track_bitrate(t) for t in outputs[0].tracks) if outputs else 0
        viewer_rate = per_viewer * stream.viewers
        viewer_bytes = int(max(0.0, now - live.viewer_bytes_until) * viewer_rate / 8)
        live.viewer_bytes_until = now
        push_bytes = push_rate = pushing = 0
        output_names = {o.name for o in outputs}
        for job in state.pushes.values():
            if job.request.stream.name in output_names and job.state == "pushing":
                sent = int(max(0.0, now - job.start_time) * job.rate / 8)
                push_bytes += sent - job.sent_bytes
                job.sent_bytes = sent
                push_rate += job.rate
                pushing += 1
        recording = sum(
            1
            for job in state.records.values()
            if job.request.stream.name in output_names and job.state == "recording"
        )
        for level in levels:
            level.add(max(0, bytes_in), viewer_bytes + push_bytes, rate_in, viewer_rate + push_rate)
            level.connect("llhls", stream.viewers)
            level.connect("push", pushing)
            level.connect("file", recording)
        counter.settle(now)

    # -- job state machines -------------------------------------------------------------------

    def _advance_jobs(self, vhost: str, app: str, state: _AppState, now: float) -> None:
        for push_id, push in list(state.pushes.items()):
            self._advance_push(vhost, app, push, now)
            if push.state in ("stopped", "error") and now - push.finish_time > JOB_RETENTION:
                del state.pushes[push_id]
        for record_id, record in list(state.records.items()):
            self._advance_record(vhost, app, record, now)
            if record.state in ("stopped", "error") and now - record.finish_time > JOB_RETENTION:
                del state.records[record_id]

    def _advance_push(self, vhost: str, app: str, job: _Push, now: float) -> None:
        source = self._output_stream(vhost, app, job.request.stream.name)
        while True:
            if job.state == "ready" and source is not None:
                job.state, job.since = "connecting", max(job.since, source[0].stream.created)
                req = job.request.stream
                job.rate = _selected_bitrate(source[1], req.track_ids, req.variant_names)
            elif job.state == "connecting" and job.since + CONNECT_DELAY <= now:
                at = job.since + CONNECT_DELAY
                if _unreachable_host(job.request.url):
                    job.state, job.since, job.finish_time = "error", at, at
                else:
                    job.state, job.since, job.start_time = "pushing", at, at
                    job.sequence += 1
                    job.sent_bytes = 0
            elif job.state == "pushing" and source is None:
                # The stream went away: the job waits for it again.
                self._close_push_session(job, now)
                job.state, job.since = "ready", now
            elif job.state == "stopping" and job.since + STOP_DELAY <= now:
                job.state = "stopped"
                job.finish_time = job.since + STOP_DELAY
            else:
                return

    @staticmethod
    def _close_push_session(job: _Push, now: float) -> None:
        job.earlier_bytes += job.sent_bytes
        job.earlier_time += int(max(0.0, now - job.start_time) * 1000)
        job.sent_bytes = 0

    def _advance_record(self, vhost: str, app: str, job: _Record, now: float) -> None:
        source = self._output_stream(vhost, app, job.request.stream.name)
        while True:
            if job.state == "ready" and source is not None:
                at = max(job.since, source[0].stream.created) + CONNECT_DELAY
                if at > now:
                    return
                req = job.request.stream
                job.rate = _selected_bitrate(source[1], req.track_ids, req.variant_names)
                bad = any(p.endswith(_UNREACHABLE) for p in job.file_path.split("/")[:-1])
                if bad:
                    job.state, job.since, job.finish_time = "error", at, at
                else:
                    job.state, job.since, job.start_time = "recording", at, at
            elif job.state == "recording" and source is None:
                self._close_record_session(job, now)
                job.state, job.since = "ready", now
            elif job.state == "stopping" and job.since + STOP_DELAY <= now:
                job.state = "stopped"
                job.finish_time = job.since + STOP_DELAY
            else:
                return

    @staticmethod
    def _close_record_session(job: _Record, now: float) -> None:
        job.earlier_time += int(max(0.0, now - job.start_time) * 1000)

    def _record_files(self, job: _Record, now: float) -> tuple[int, float]:
        """The current file's sequence number and when it started."""
        req = job.request
        if job.start_time <= 0:
            return 0, 0.0
        if req.interval > 0:
            elapsed_ms = int(max(0.0, now - job.start_time) * 1000)
            sequence = elapsed_ms // req.interval
            return sequence, job.start_time + sequence * req.interval / 1000
        if req.schedule:
            return _schedule_splits(req.schedule, job.start_time, now)
        return 0, job.start_time

    # -- streams -------------------------------------------------------------------------------

    def list_streams(self, vhost: str, app: str) -> list[str]:
        with self._lock:
            self._tick()
            return [name for name, _ in self._streams(vhost, app)]

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        with self._lock:
            now = self._tick()
            try:
                live = self._stream_live(vhost, app, stream)
            except EngineError:
                return None
            tracks = tuple(self._moving(t, now - live.stream.created) for t in live.tracks)
            outputs = tuple(
                attrs.evolve(
                    out,
                    tracks=tuple(self._moving(t, now - live.stream.created) for t in out.tracks),
                )
                for out in self._outputs(vhost, app, stream, live)
            )
            return StreamInfo(
                stream, live.source_type, live.stream.created, tracks, outputs, live.source_url
            )

    @staticmethod
    def _moving(track: Track, elapsed: float) -> Track:
        """A video track with the frame count since its last key frame at this moment."""
        video = track.video
        if video is None or video.key_frame_interval <= 0:
            return track
        frames = int(max(0.0, elapsed) * video.framerate)
        delta = frames % max(1, int(video.key_frame_interval))
        return attrs.evolve(
            track, video=attrs.evolve(video, delta_frames_since_last_key_frame=delta)
        )

    def create_pull_stream(self, vhost: str, app: str, request: PullRequest) -> None:
        with self._lock:
            self._maybe_fail("create_pull_stream")
            self._tick()
            self._running_config(vhost, app)
            if request.name in self._apps[(vhost, app)].streams:
                raise EngineError(EngineResult.EXISTS)
            for url in request.urls:
                scheme = url.partition("://")[0].lower() if "://" in url else ""
                source_type = _PULL_SCHEMES.get(scheme)
                if source_type is not None and not _unreachable_host(url):
                    self._new_stream(vhost, app, request.name, source_type, source_url=url)
                    return
            raise _failed(f"no source of {request.name} could be pulled")

    def delete_stream(self, vhost: str, app: str, stream: str) -> None:
        with self._lock:
            self._maybe_fail("delete_stream")
            self._tick()
            running = self._apps.get((vhost, app))
            if running is None or running.streams.pop(stream, None) is None:
                raise _missing()
            self._lives.pop((vhost, app, stream), None)
            self._tick()

    # -- HLS dumps, events, subtitles ------------------------------------------------------

    def list_hls_dumps(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> list[HlsDump]:
        with self._lock:
            self._tick()
            live = self._stream_live(vhost, app, stream)
            return [
                dump
                for (output, ident), dump in live.dumps.items()
                if output == output_stream and (dump_id is None or ident == dump_id)
            ]

    def start_hls_dump(self, vhost: str, app: str, stream: str, request: HlsDumpRequest) -> None:
        with self._lock:
            self._maybe_fail("start_hls_dump")
            live = self._stream_live(vhost, app, stream)
            key = (request.output_stream_name, request.id)
            existing = live.dumps.get(key)
            if existing is not None and existing.enabled:
                raise EngineError(EngineResult.EXISTS)
            live.dumps[key] = HlsDump(
                request.id,
                request.output_stream_name,
                request.output_path,
                True,
                request.playlists,
                request.info_file,
                request.user_data,
            )

    def stop_hls_dump(
        self, vhost: str, app: str, stream: str, output_stream: str, dump_id: str | None
    ) -> None:
        with self._lock:
            self._maybe_fail("stop_hls_dump")
            live = self._stream_live(vhost, app, stream)
            keys = [
                key
                for key in live.dumps
                if key[0] == output_stream and (dump_id is None or key[1] == dump_id)
            ]
            if dump_id is not None and not keys:
                raise _missing()
            for key in keys:
                live.dumps[key] = attrs.evolve(live.dumps[key], enabled=False)

    def send_event(self, vhost: str, app: str, stream: str, event: StreamEvent) -> None:
        with self._lock:
            self._maybe_fail("send_event")
            self._stream_live(vhost, app, stream).events.append(event)

    def conclude_hls_live(self, vhost: str, app: str, stream: str, urgent: bool) -> None:
        with self._lock:
            self._maybe_fail("conclude_hls_live")
            self._stream_live(vhost, app, stream).concluded = True

    def send_subtitles(
        self, vhost: str, app: str, stream: str, cues: Sequence[SubtitleCue]
    ) -> None:
        with self._lock:
            self._maybe_fail("send_subtitles")
            self._stream_live(vhost, app, stream).subtitles.extend(cues)

    # -- push --------------------------------------------------------------------------------

    def _jobs(self, vhost: str, app: str) -> _AppState:
        self._tick()
        state = self._app_state(vhost, app)
        if state is None:
            raise _missing(f"{vhost}/{app} is not running")
        return state

    def _push_info(self, vhost: str, app: str, job: _Push, now: float) -> PushInfo:
        session_ms = int(max(0.0, now - job.start_time) * 1000) if job.state == "pushing" else 0
        return PushInfo(
            vhost,
            app,
            job.request,
            job.state,
            job.created,
            sent_bytes=job.sent_bytes,
            sent_time=session_ms,
            total_sent_bytes=job.earlier_bytes + job.sent_bytes,
            total_sent_time=job.earlier_time + session_ms,
            sequence=job.sequence,
            start_time=job.start_time,
            finish_time=job.finish_time,
        )

    def start_push(self, vhost: str, app: str, request: PushRequest) -> PushInfo:
        with self._lock:
            self._maybe_fail("start_push")
            state = self._jobs(vhost, app)
            existing = state.pushes.get(request.id)
            if existing is not None and existing.state not in ("stopped", "error"):
                raise EngineError(EngineResult.EXISTS)
            now = self.clock()
            job = _Push(request, now, since=now)
            state.pushes[request.id] = job
            # The answer shows the job as created; it moves on at the next tick.
            return self._push_info(vhost, app, job, now)

    def stop_push(self, vhost: str, app: str, push_id: str) -> PushInfo:
        with self._lock:
            self._maybe_fail("stop_push")
            state = self._jobs(vhost, app)
            job = state.pushes.get(push_id)
            if job is None:
                raise _missing()
            now = self.clock()
            if job.state == "pushing":
                self._close_push_session(job, now)
            if job.state not in ("stopping", "stopped", "error"):
                job.state, job.since = "stopping", now
            return self._push_info(vhost, app, job, now)

    def list_pushes(self, vhost: str, app: str, push_id: str | None) -> list[PushInfo]:
        with self._lock:
            now = self._tick()
            state = self._app_state(vhost, app)
            if state is None:
                return []
            return [
                self._push_info(vhost, app, job, now)
                for ident, job in state.pushes.items()
                if push_id is None or ident == push_id
            ]

    # -- record ------------------------------------------------------------------------------

    def _record_info(self, vhost: str, app: str, job: _Record, now: float) -> RecordInfo:
        recording = job.state == "recording"
        until = now if recording else (job.finish_time or job.since)
        sequence, file_start = self._record_files(job, until)
        if job.start_time > 0 and (recording or job.state in ("stopping", "stopped")):
            file_ms = int(max(0.0, until - file_start) * 1000)
            total_ms = job.earlier_time + int(max(0.0, until - job.start_time) * 1000)
        else:
            file_ms, total_ms = 0, job.earlier_time
        values = {
            "VirtualHost": vhost,
            "Application": app,
            "StreamName": job.request.stream.name,
            "Stream": job.request.stream.name,
            "Id": job.request.id,
            "Sequence": str(sequence),
        }
        end = until if job.state in ("stopping", "stopped") else 0.0
        active = job.start_time > 0
        return RecordInfo(
            vhost,
            app,
            job.request,
            job.state,
            job.created,
            file_path=job.file_path,
            info_path=job.info_path,
            output_file_path=_expand(job.file_path, values, file_start, end) if active else "",
            output_info_path=_expand(job.info_path, values, file_start, end) if active else "",
            record_bytes=int(file_ms / 1000 * job.rate / 8),
            record_time=file_ms,
            total_record_bytes=int(total_ms / 1000 * job.rate / 8),
            total_record_time=total_ms,
            sequence=sequence,
            start_time=job.start_time,
            finish_time=job.finish_time,
        )

    def start_record(self, vhost: str, app: str, request: RecordRequest) -> RecordInfo:
        with self._lock:
            self._maybe_fail("start_record")
            state = self._jobs(vhost, app)
            existing = state.records.get(request.id)
            if existing is not None and existing.state not in ("stopped", "error"):
                raise EngineError(EngineResult.EXISTS)
            config = publisher(self._running_config(vhost, app), "FILE")
            root = (str(config.value("RootPath", "") or "") if config else "") or _DEFAULT_ROOT
            file_path = request.file_path or (
                str(config.value("FilePath", "") or "") if config else ""
            )
            info_path = request.info_path or (
                str(config.value("InfoPath", "") or "") if config else ""
            )
            now = self.clock()
            job = _Record(
                request,
                now,
                os.path.join(root, file_path or _DEFAULT_FILE_PATH),
                os.path.join(root, info_path or _DEFAULT_INFO_PATH),
                since=now,
            )
            state.records[request.id] = job
            return self._record_info(vhost, app, job, now)

    def stop_record(self, vhost: str, app: str, record_id: str) -> RecordInfo:
        with self._lock:
            self._maybe_fail("stop_record")
            state = self._jobs(vhost, app)
            job = state.records.get(record_id)
            if job is None:
                raise _missing()
            now = self.clock()
            if job.state not in ("stopping", "stopped", "error"):
                job.state, job.since = "stopping", now
            return self._record_info(vhost, app, job, now)

    def list_records(self, vhost: str, app: str, record_id: str | None) -> list[RecordInfo]:
        with self._lock:
            now = self._tick()
            state = self._app_state(vhost, app)
            if state is None:
                return []
            return [
                self._record_info(vhost, app, job, now)
                for ident, job in state.records.items()
                if record_id is None or ident == record_id
            ]

    # -- scheduled and multiplex channels ---------------------------------------------------

    def _load_channels(self, vhost: str, app: str, running: _App) -> None:
        """Start the channels whose files are in the app's directories (OME's providers
        read them when the app starts)."""
        for kind, suffix in (("Schedule", SCHEDULE_SUFFIX), ("Multiplex", MULTIPLEX_SUFFIX)):
            directory = channel_dir(running.config, kind, self.config_dir)
            if directory is None:
                continue
            for path, document in read_channel_files(directory, suffix):
                name = os.path.basename(path)[: -len(suffix)]
                if name in running.streams:
                    continue
                try:
                    if kind == "Schedule":
                        schedule = parse_schedule(document, self.clock())
                        if schedule.stream.name == name:
                            self._start_channel(vhost, app, name, schedule=schedule)
                    else:
                        multiplex = parse_multiplex(document)
                        if multiplex.name == name:
                            self._start_channel(vhost, app, name, multiplex=multiplex)
                except ApiError:
                    continue  # not a channel file omeapi can read: leave it alone

    def _start_channel(
        self,
        vhost: str,
        app: str,
        name: str,
        *,
        schedule: Schedule | None = None,
        multiplex: Multiplex | None = None,
    ) -> None:
        if schedule is not None:
            tracks = input_tracks(
                "Scheduled",
                video=schedule.stream.video_track,
                audio=schedule.stream.audio_track,
            )
            self._new_stream(
                vhost, app, name, "Scheduled", publishers=0, tracks=tracks, schedule=schedule
            )
        elif multiplex is not None:
            tracks = self._mux_tracks(multiplex)
            self._new_stream(
                vhost, app, name, "Multiplex", publishers=0, tracks=tracks, multiplex=multiplex
            )

    def _mux_source(self, url: str) -> _Live | None:
        parts = url.partition("://")[2].split("/")
        if len(parts) < 3:
            return None
        try:
            return self._stream_live(parts[0], parts[1], "/".join(parts[2:]))
        except EngineError:
            return None

    def _mux_tracks(self, multiplex: Multiplex) -> tuple[Track, ...]:
        tracks: list[Track] = []
        for source in multiplex.sources:
            live = self._mux_source(source.url)
            for entry in source.track_map:
                # Without the source live, the kind is guessed from the name, as a placeholder.
                kind = "Audio" if "audio" in entry.source_track_name.lower() else "Video"
                found = next(
                    (t for t in (live.tracks if live else ()) if t.name == entry.source_track_name),
                    None,
                )
                if found is None:
                    video, audio = (_H264, None) if kind == "Video" else (None, _AAC)
                    found = Track(0, kind, video=video, audio=audio)
                tracks.append(attrs.evolve(found, id=len(tracks), name=entry.new_track_name))
        return tuple(tracks)

    def _channels(self, vhost: str, app: str, kind: str) -> list[str]:
        self._tick()
        return [
            name
            for name, live in self._streams(vhost, app)
            if (live.schedule if kind == "Schedule" else live.multiplex) is not None
        ]

    def _create_channel(
        self, vhost: str, app: str, name: str, path: str, document: dict[str, Any], **extra: Any
    ) -> None:
        self._tick()
        self._running_config(vhost, app)
        if name in self._apps[(vhost, app)].streams:
            raise EngineError(EngineResult.EXISTS)
        try:
            write_channel_file(path, document)
        except OSError as exc:
            raise _failed(str(exc)) from None
        self._start_channel(vhost, app, name, **extra)

    def list_scheduled_channels(self, vhost: str, app: str) -> list[str]:
        with self._lock:
            return self._channels(vhost, app, "Schedule")

    def create_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        with self._lock:
            self._maybe_fail("create_scheduled_channel")
            # OME's provider drops programs that are over when it reads the file.
            schedule = schedule.without_ended(self.clock())
            self._create_channel(
                vhost, app, schedule.stream.name, path, schedule.to_json(), schedule=schedule
            )

    def get_scheduled_channel(
        self, vhost: str, app: str, stream: str
    ) -> ScheduledChannelInfo | None:
        with self._lock:
            now = self._tick()
            try:
                live = self._stream_live(vhost, app, stream)
            except EngineError:
                return None
            if live.schedule is None:
                return None
            return ScheduledChannelInfo(live.schedule, current_program(live.schedule, now))

    def update_scheduled_channel(self, vhost: str, app: str, path: str, schedule: Schedule) -> None:
        with self._lock:
            self._maybe_fail("update_scheduled_channel")
            self._tick()
            live = self._stream_live(vhost, app, schedule.stream.name)
            if live.schedule is None:
                raise _missing()
            schedule = schedule.without_ended(self.clock())
            try:
                write_channel_file(path, schedule.to_json())
            except OSError as exc:
                raise _failed(str(exc)) from None
            live.schedule = schedule

    def delete_scheduled_channel(self, vhost: str, app: str, stream: str, path: str) -> None:
        with self._lock:
            self._maybe_fail("delete_scheduled_channel")
            self._delete_channel(vhost, app, stream, path, "Schedule")

    def _delete_channel(self, vhost: str, app: str, stream: str, path: str, kind: str) -> None:
        self._tick()
        live = self._stream_live(vhost, app, stream)
        if (live.schedule if kind == "Schedule" else live.multiplex) is None:
            raise _missing()
        try:
            delete_channel_file(path)
        except OSError as exc:
            raise _failed(str(exc)) from None
        self._apps[(vhost, app)].streams.pop(stream, None)
        self._lives.pop((vhost, app, stream), None)

    def list_multiplex_channels(self, vhost: str, app: str) -> list[str]:
        with self._lock:
            return self._channels(vhost, app, "Multiplex")

    def create_multiplex_channel(
        self, vhost: str, app: str, path: str, multiplex: Multiplex
    ) -> None:
        with self._lock:
            self._maybe_fail("create_multiplex_channel")
            self._create_channel(
                vhost, app, multiplex.name, path, multiplex.to_json(), multiplex=multiplex
            )

    def get_multiplex_channel(self, vhost: str, app: str, name: str) -> MultiplexInfo | None:
        with self._lock:
            self._tick()
            try:
                live = self._stream_live(vhost, app, name)
            except EngineError:
                return None
            if live.multiplex is None:
                return None
            waiting = [s.url for s in live.multiplex.sources if self._mux_source(s.url) is None]
            if waiting:
                return MultiplexInfo(
                    live.multiplex, "Pulling", "Waiting for source streams: " + ", ".join(waiting)
                )
            return MultiplexInfo(live.multiplex, "Playing")

    def delete_multiplex_channel(self, vhost: str, app: str, name: str, path: str) -> None:
        with self._lock:
            self._maybe_fail("delete_multiplex_channel")
            self._delete_channel(vhost, app, name, path, "Multiplex")

    # -- statistics -----------------------------------------------------------------------------

    def metrics(self, *scope: str) -> Metrics | None:
        with self._lock:
            now = self._tick()
            if not scope:
                return self._server.metrics(now)
            if scope[0] not in self._vhosts:
                return None
            if len(scope) == 1:
                return self._vhost_counters[scope[0]].metrics(now)
            state = self._app_state(scope[0], scope[1])
            if state is None:
                return None
            if len(scope) == 2:
                return state.counter.metrics(now)
            live = self._lives.get((scope[0], scope[1], scope[2]))
            if live is None or live.counter is None:
                return None
            return live.counter.metrics(now)

    def queue_metrics(self) -> list[QueueMetrics]:
        with self._lock:
            self._tick()
            queues: list[QueueMetrics] = []
            for vhost, app in list(self._apps):
                internal = f"#{vhost}#{app}"
                queues.append(
                    QueueMetrics(
                        len(queues) + 1,
                        f"urn:ome:{vhost}:{internal}:applicationworker",
                        "ApplicationWorker",
                        threshold=500,
                    )
                )
                for name, live in self._streams(vhost, app):
                    video = _first(live.tracks, "Video")
                    packets = int(video.video.framerate) if video and video.video else 0
                    packets += 47 if _first(live.tracks, "Audio") else 0  # ~AAC frames/s
                    queues.append(
                        QueueMetrics(
                            len(queues) + 1,
                            f"urn:ome:{vhost}:{internal}:{name}:mediarouter",
                            "MediaRouterStream",
                            threshold=500,
                            peak=2,
                            input_per_second=packets,
                            output_per_second=packets,
                        )
                    )
            return queues
