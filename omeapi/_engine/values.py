"""Runtime values: what the API and the media engine exchange about live streams.

Requests (:class:`PullRequest`, :class:`PushRequest`, :class:`RecordRequest`, ...) are what
the controllers parsed and validated from a request body; results (:class:`StreamInfo`,
:class:`Metrics`, :class:`PushInfo`, ...) are what an engine reports.  Results render
themselves in OME's JSON shapes (``to_json``), so an engine never writes JSON and the wire
format lives in one place.

Times are POSIX timestamps (float seconds); they are written in OME's form
``YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`` in the server's local time zone, a never-set time (0) as the
epoch.  Bitrates are bits per second, durations milliseconds unless a name says otherwise.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import attrs

__all__ = [
    "CONNECTION_KINDS",
    "AudioInfo",
    "CueEvent",
    "DwellStats",
    "HlsDump",
    "HlsDumpRequest",
    "Id3Event",
    "Id3Frame",
    "Metrics",
    "OutputStream",
    "Playlist",
    "PullProperties",
    "PullRequest",
    "PushInfo",
    "PushRequest",
    "QueueMetrics",
    "RecordInfo",
    "RecordRequest",
    "Rendition",
    "Scte35Event",
    "SessionInfo",
    "StreamEvent",
    "StreamInfo",
    "StreamSelector",
    "SttRendition",
    "SttStatus",
    "SttTrackInfo",
    "SubtitleCue",
    "SubtitleInfo",
    "Track",
    "VideoInfo",
    "f32",
    "format_time",
    "record_schedule_fields",
]

Json = dict[str, Any]

#: The keys of a metrics ``connections`` object, in OME's order.
CONNECTION_KINDS = ("webrtc", "llhls", "ovt", "file", "push", "thumbnail", "hlsv3", "srt")


def format_time(timestamp: float, tz: tzinfo | None = None) -> str:
    """OME's timestamp form, ``2026-11-26T10:06:01.106+00:00``, in ``tz`` (default: local).

    A timestamp that cannot be represented (far outside the calendar) is written as the epoch
    rather than failing: a time is never worth a 500.
    """
    try:
        moment = datetime.fromtimestamp(timestamp, tz or timezone.utc)
        if tz is None:
            moment = moment.astimezone()
    except (OverflowError, OSError, ValueError):
        moment = datetime.fromtimestamp(0, tz or timezone.utc)
        if tz is None:
            moment = moment.astimezone()
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return (
        f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}"
        f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    )


def f32(value: float) -> float:
    """``value`` rounded through a C ``float``, as OME stores frame rates (29.97 →
    29.969999313354492 on the wire)."""
    try:
        rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return value
    return rounded


def _set(out: Json, key: str, value: str) -> None:
    # OME's serialiser leaves empty strings out.
    if value:
        out[key] = value


# -- streams ---------------------------------------------------------------------------


def _timebase(out: Json, timebase: tuple[int, int], fields: frozenset[str]) -> None:
    """``timebase: {num, den}`` where the wire writes it: on 0.20's wire when den > 0 (the
    contract's rule); where ``timebase.always`` is an answer field (OME 0.21), whenever it
    is valid (num > 0 and den > 0)."""
    num, den = timebase
    if den > 0 and (num > 0 or "timebase.always" not in fields):
        out["timebase"] = {"num": num, "den": den}


def _newer(out: Json, shape: str, info: VideoInfo | AudioInfo, fields: frozenset[str]) -> None:
    """The track fields OME 0.21 added, where the wire's ``fields`` name them (OME leaves
    empty strings out, writes ``codecModule`` only for a track it encodes, and
    ``lastConfigChanged`` only after a change)."""
    if not fields:
        return
    if f"{shape}.codecModule" in fields and not info.bypass:
        _set(out, "codecModule", info.codec_module)
    for key, value in (
        ("codecStatus", info.codec_status),
        ("language", info.language),
        ("characteristics", info.characteristics),
    ):
        if f"{shape}.{key}" in fields:
            _set(out, key, value)
    if f"{shape}.configChangeCount" in fields:
        out["configChangeCount"] = info.config_change_count
    if f"{shape}.lastConfigChanged" in fields and info.config_change_count > 0:
        out["lastConfigChanged"] = format_time(info.last_config_changed)


@attrs.frozen
class VideoInfo:
    """A video track's parameters (configured, average and latest measurements)."""

    codec: str
    width: int
    height: int
    framerate: float
    bitrate: int
    bypass: bool = False
    max_width: int = 0
    max_height: int = 0
    bitrate_conf: int = 0
    bitrate_avg: int = 0
    bitrate_latest: int = 0
    framerate_conf: float = 0.0
    framerate_avg: float = 0.0
    framerate_latest: float = 0.0
    key_frame_interval: float = 0.0
    key_frame_interval_conf: float = 0.0
    key_frame_interval_avg: float = 0.0
    key_frame_interval_latest: float = 0.0
    has_bframes: bool = False
    delta_frames_since_last_key_frame: int = 0
    #: (num, den); written only when den > 0
    timebase: tuple[int, int] = (0, 0)
    max_framerate: float = 0.0
    # OME 0.21's wire also writes these (``fields``: the wire's answer-field table)
    codec_module: str = ""
    codec_status: str = ""
    language: str = ""
    characteristics: str = ""
    config_change_count: int = 0
    #: when the track's config last changed (a timestamp; written when the count is > 0)
    last_config_changed: float = 0.0

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        out: Json = {
            "bypass": self.bypass,
            "codec": self.codec,
            "width": self.width,
            "maxWidth": self.max_width,
            "height": self.height,
            "maxHeight": self.max_height,
            "bitrate": self.bitrate,
            "bitrateConf": self.bitrate_conf,
            "bitrateAvg": self.bitrate_avg,
            "bitrateLatest": self.bitrate_latest,
            "framerate": f32(self.framerate),
            "framerateConf": f32(self.framerate_conf),
            "framerateAvg": f32(self.framerate_avg),
            "framerateLatest": f32(self.framerate_latest),
            "hasBframes": self.has_bframes,
            "keyFrameInterval": f32(self.key_frame_interval),
            "keyFrameIntervalConf": f32(self.key_frame_interval_conf),
            "keyFrameIntervalAvg": f32(self.key_frame_interval_avg),
            "keyFrameIntervalLatest": f32(self.key_frame_interval_latest),
            "deltaFramesSinceLastKeyFrame": self.delta_frames_since_last_key_frame,
        }
        _timebase(out, self.timebase, fields)
        if "video.maxFramerate" in fields:
            out["maxFramerate"] = f32(self.max_framerate)
        _newer(out, "video", self, fields)
        return out


@attrs.frozen
class AudioInfo:
    """An audio track's parameters."""

    codec: str
    samplerate: int
    channel: int
    bitrate: int
    bypass: bool = False
    bitrate_conf: int = 0
    bitrate_avg: int = 0
    bitrate_latest: int = 0
    timebase: tuple[int, int] = (0, 0)
    # OME 0.21's wire also writes these (``fields``: the wire's answer-field table)
    codec_module: str = ""
    codec_status: str = ""
    language: str = ""
    characteristics: str = ""
    config_change_count: int = 0
    #: when the track's config last changed (a timestamp; written when the count is > 0)
    last_config_changed: float = 0.0

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        out: Json = {
            "bypass": self.bypass,
            "codec": self.codec,
            "samplerate": self.samplerate,
            "channel": self.channel,
            "bitrate": self.bitrate,
            "bitrateConf": self.bitrate_conf,
            "bitrateAvg": self.bitrate_avg,
            "bitrateLatest": self.bitrate_latest,
        }
        _timebase(out, self.timebase, fields)
        _newer(out, "audio", self, fields)
        return out


@attrs.frozen
class SessionInfo:
    """One session on an input stream (an omeapi extension): its publisher or a viewer.

    ``id`` is the engine's, unique among the stream's sessions; ``protocol`` is the lower-case
    name of its provider or publisher (``rtmp``, ``llhls``, ``webrtc`` ...); ``remote_address``
    is ``host:port`` as the engine sees it; ``since`` is when it connected (Unix time);
    ``bytes_in`` / ``bytes_out`` are what it sent and received so far."""

    id: str
    protocol: str
    remote_address: str
    since: float
    bytes_in: int = 0
    bytes_out: int = 0

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "protocol": self.protocol,
            "remoteAddress": self.remote_address,
            "since": format_time(self.since),
            "totalBytesIn": self.bytes_in,
            "totalBytesOut": self.bytes_out,
        }


@attrs.frozen
class SttTrackInfo:
    """What a speech-to-text subtitle track (codec ``WHISPER``) was made with: OME 0.21
    writes it as the track's ``subtitle.stt``."""

    engine: str = ""
    model: str = ""
    source_language: str = ""
    translation: bool = False
    output_label: str = ""

    def to_json(self) -> Json:
        out: Json = {}
        _set(out, "engine", self.engine)
        _set(out, "model", self.model)
        _set(out, "sourceLanguage", self.source_language)
        out["translation"] = self.translation
        _set(out, "outputLabel", self.output_label)
        return out


@attrs.frozen
class SubtitleInfo:
    """A subtitle track's parameters (OME 0.21 writes them as ``subtitle: {…}``).

    ``codec`` is ``WebVTT`` or ``WHISPER`` (speech to text, then ``stt`` says how);
    ``codec_status`` is ``Ready``, ``Failed`` or empty (unknown: not written)."""

    codec: str = "WebVTT"
    codec_status: str = ""
    language: str = ""
    characteristics: str = ""
    auto_select: bool = False
    default: bool = False
    forced: bool = False
    timebase: tuple[int, int] = (0, 0)
    stt: SttTrackInfo | None = None

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        out: Json = {"codec": self.codec}
        _set(out, "codecStatus", self.codec_status)
        _set(out, "language", self.language)
        _set(out, "characteristics", self.characteristics)
        out["autoSelect"] = self.auto_select
        out["default"] = self.default
        out["forced"] = self.forced
        _timebase(out, self.timebase, fields)
        if self.stt is not None:
            out["stt"] = self.stt.to_json()
        return out


@attrs.frozen
class Track:
    """One track: ``type`` is ``Video``, ``Audio``, ``Data``, ``Subtitle``, ``Attachment``
    or ``Unknown``; ``name`` is the variant name."""

    id: int
    type: str
    name: str = ""
    video: VideoInfo | None = None
    audio: AudioInfo | None = None
    #: a data track's codec (OME 0.21 writes ``data: {codec}``)
    data_codec: str = ""
    #: a subtitle track's parameters (OME 0.21 writes ``subtitle: {…}``; a ``Subtitle``
    #: track without them is written as a plain WebVTT track)
    subtitle: SubtitleInfo | None = None

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        out: Json = {"id": self.id, "type": self.type}
        _set(out, "name", self.name)
        if self.video is not None:
            out["video"] = self.video.to_json(fields)
        if self.audio is not None:
            out["audio"] = self.audio.to_json(fields)
        if self.type == "Data" and "track.data" in fields:
            out["data"] = {"codec": self.data_codec}
        if self.type == "Subtitle" and "track.subtitle" in fields:
            out["subtitle"] = (self.subtitle or SubtitleInfo()).to_json(fields)
        return out


@attrs.frozen
class Rendition:
    """A playlist rendition: the video and audio variant names it combines."""

    name: str
    video_variant_name: str = ""
    audio_variant_name: str = ""

    def to_json(self) -> Json:
        out: Json = {"name": self.name}
        _set(out, "videoVariantName", self.video_variant_name)
        _set(out, "audioVariantName", self.audio_variant_name)
        return out


@attrs.frozen
class Playlist:
    """An output stream's playlist (ABR ladder)."""

    name: str
    file_name: str
    renditions: tuple[Rendition, ...] = ()
    webrtc_auto_abr: bool = True
    hls_chunklist_path_depth: int = -1
    enable_ts_packaging: bool = False

    def to_json(self) -> Json:
        out: Json = {
            "options": {
                "webrtcAutoAbr": self.webrtc_auto_abr,
                "hlsChunklistPathDepth": self.hls_chunklist_path_depth,
                "enableTsPackaging": self.enable_ts_packaging,
            },
            "renditions": [r.to_json() for r in self.renditions],
        }
        _set(out, "name", self.name)
        _set(out, "fileName", self.file_name)
        return out


@attrs.frozen
class OutputStream:
    """A stream an output profile made from an input stream."""

    name: str
    tracks: tuple[Track, ...] = ()
    playlists: tuple[Playlist, ...] = ()

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        return {
            "name": self.name,
            "tracks": [t.to_json(fields) for t in self.tracks],
            "playlists": [p.to_json() for p in self.playlists],
        }


@attrs.frozen
class StreamInfo:
    """An input stream and its outputs (OME's stream detail).

    ``source_type`` is one of ``WebRTC``, ``Ovt``, ``Rtmp``, ``RtmpPull``, ``Rtsp``,
    ``RtspPull``, ``Transcoder``, ``SRT``, ``MPEGTS``, ``File``, ``Scheduled``,
    ``Multiplex``, ``Unknown``.
    """

    name: str
    source_type: str
    created: float
    tracks: tuple[Track, ...] = ()
    outputs: tuple[OutputStream, ...] = ()
    source_url: str = ""
    #: a relay stream (pulled with ``properties.relay``, or made by an origin map): it is
    #: published as it comes, without output profiles
    relay: bool = False
    #: a relay stream's own playlists (written in the output it is on OME 0.21's wire)
    playlists: tuple[Playlist, ...] = ()

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        """OME's stream detail; ``fields``: the wire's answer fields beyond 0.20's.

        Where ``stream.relayOutputs`` is one (OME 0.20.5 on), a relay stream without
        outputs lists itself as its one output."""
        source: Json = {
            "sourceType": self.source_type,
            "createdTime": format_time(self.created),
            "tracks": [t.to_json(fields) for t in self.tracks],
        }
        _set(source, "sourceUrl", self.source_url)
        outputs = self.outputs
        if self.relay and not outputs and "stream.relayOutputs" in fields:
            outputs = (OutputStream(self.name, self.tracks, self.playlists),)
        return {
            "name": self.name,
            "input": source,
            "outputs": [o.to_json(fields) for o in outputs],
        }


@attrs.frozen
class PullProperties:
    """The optional ``properties`` of a pull request; None means "use the config value".

    ``retry_count`` is the wire's default (1 on OME 0.20's wire, 0 since 0.20.5) when
    ``properties`` was given without a valid one, and -1 when there were no ``properties``
    at all (OME's rule).  ``relay`` (OME 0.21's wire only) asks for a relay stream.
    """

    persistent: bool | None = None
    no_input_failover_timeout_ms: int | None = None
    unused_stream_deletion_timeout_ms: int | None = None
    ignore_rtcp_sr_timestamp: bool | None = None
    retry_count: int = -1
    relay: bool | None = None


@attrs.frozen
class PullRequest:
    """Create a stream by pulling ``urls`` (tried in order)."""

    name: str
    urls: tuple[str, ...]
    properties: PullProperties = PullProperties()


# -- statistics ---------------------------------------------------------------------------


@attrs.frozen
class Metrics:
    """Traffic statistics of the server, a vhost, an app or a stream.

    Byte counts are totals since creation; throughputs are bits per second; ``connections``
    counts sessions per kind (:data:`CONNECTION_KINDS`).
    """

    created: float
    last_updated: float = 0.0
    last_recv: float = 0.0
    last_sent: float = 0.0
    total_bytes_in: int = 0
    total_bytes_out: int = 0
    avg_throughput_in: int = 0
    avg_throughput_out: int = 0
    max_throughput_in: int = 0
    max_throughput_out: int = 0
    last_throughput_in: int = 0
    last_throughput_out: int = 0
    connections: Mapping[str, int] = attrs.field(factory=dict)
    max_total_connections: int = 0
    max_total_connection_time: float = 0.0

    @property
    def total_connections(self) -> int:
        return sum(self.connections.values())

    def to_json(self) -> Json:
        return {
            "createdTime": format_time(self.created),
            "lastUpdatedTime": format_time(self.last_updated),
            "lastRecvTime": format_time(self.last_recv),
            "lastSentTime": format_time(self.last_sent),
            "maxTotalConnectionTime": format_time(self.max_total_connection_time),
            "totalBytesIn": self.total_bytes_in,
            "totalBytesOut": self.total_bytes_out,
            "avgThroughputIn": self.avg_throughput_in,
            "avgThroughputOut": self.avg_throughput_out,
            "maxThroughputIn": self.max_throughput_in,
            "maxThroughputOut": self.max_throughput_out,
            "lastThroughputIn": self.last_throughput_in,
            "lastThroughputOut": self.last_throughput_out,
            "totalConnections": self.total_connections,
            "maxTotalConnections": self.max_total_connections,
            "connections": {k: int(self.connections.get(k, 0)) for k in CONNECTION_KINDS},
        }


@attrs.frozen
class DwellStats:
    """How long items waited in a queue, in microseconds: the least, the mean, three
    percentiles and the most."""

    min: int = 0
    avg: int = 0
    p50: int = 0
    p90: int = 0
    p99: int = 0
    max: int = 0

    def write(self, out: Json, prefix: str) -> None:
        for key, value in (
            ("Min", self.min),
            ("Avg", self.avg),
            ("P50", self.p50),
            ("P90", self.p90),
            ("P99", self.p99),
            ("Max", self.max),
        ):
            out[f"{prefix}{key}Us"] = value


#: What OME 0.21 writes for a queue that has no urn yet.
NO_URN = "No Urn"


@attrs.frozen
class QueueMetrics:
    """One internal queue (``/v1/stats/current/internals/queues``).

    ``dwell`` covers the queue's life, ``dwell_latest`` the last completed stats interval
    (OME 0.21 writes both, ``dwell…Us`` and ``dwellLatest…Us``).  An empty ``urn`` is a
    queue whose urn is not set yet: OME 0.21 writes ``No Urn``."""

    id: int
    urn: str
    type: str
    size: int = 0
    threshold: int = 0
    peak: int = 0
    drop: int = 0
    input_per_second: int = 0
    output_per_second: int = 0
    avg_waiting_time: int = 0
    dwell: DwellStats = DwellStats()
    dwell_latest: DwellStats = DwellStats()

    def to_json(self, fields: frozenset[str] = frozenset()) -> Json:
        out: Json = {
            "id": self.id,
            "urn": self.urn or (NO_URN if "queue.noUrn" in fields else ""),
            "type": self.type,
            "size": self.size,
            "threshold": self.threshold,
            "peak": self.peak,
            "drop": self.drop,
            "inputPerSecond": self.input_per_second,
            "outputPerSecond": self.output_per_second,
            "avgWaitingTime": self.avg_waiting_time,
        }
        if "queue.dwellUs" in fields:
            self.dwell.write(out, "dwell")
            self.dwell_latest.write(out, "dwellLatest")
        return out


# -- push and record ----------------------------------------------------------------------


@attrs.frozen
class StreamSelector:
    """Which stream (an output stream name) and which of its tracks a job takes."""

    name: str
    track_ids: tuple[int, ...] = ()
    variant_names: tuple[str, ...] = ()

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "trackIds": list(self.track_ids),
            "variantNames": list(self.variant_names),
        }


@attrs.frozen
class PushRequest:
    """Start re-streaming ``stream`` to ``url`` (``protocol``: rtmp, srt or mpegts)."""

    id: str
    stream: StreamSelector
    protocol: str
    url: str
    stream_key: str = ""


@attrs.frozen
class PushInfo:
    """A push job. ``state``: ``ready``, ``connecting``, ``pushing``, ``stopping``,
    ``stopped`` or ``error``."""

    vhost: str
    app: str
    request: PushRequest
    state: str
    created: float
    sent_bytes: int = 0
    sent_time: int = 0
    total_sent_bytes: int = 0
    total_sent_time: int = 0
    sequence: int = 0
    start_time: float = 0.0
    finish_time: float = 0.0
    is_config: bool = False

    def to_json(self) -> Json:
        req = self.request
        out: Json = {
            "vhost": self.vhost,
            "app": self.app,
            "stream": req.stream.to_json(),
            "sentBytes": self.sent_bytes,
            "sentTime": self.sent_time,
            "totalsentBytes": self.total_sent_bytes,
            "totalsentTime": self.total_sent_time,
            "sequence": self.sequence,
            "startTime": format_time(self.start_time),
            "finishTime": format_time(self.finish_time),
            "createdTime": format_time(self.created),
            "isConfig": self.is_config,
        }
        for key, value in (
            ("id", req.id),
            ("state", self.state),
            ("protocol", req.protocol),
            ("url", req.url),
            ("streamKey", req.stream_key),
        ):
            _set(out, key, value)
        return out


_CRON_PART = re.compile(r"\*|\*/(\d{1,9})|(\d{1,9})")
_CRON_LIMITS = (60, 60, 24)  # sec, min, hour


def record_schedule_fields(schedule: str) -> tuple[frozenset[int], ...] | None:
    """A record ``schedule`` (``"sec min hour"``, each ``*``, ``N`` or ``*/N``) as the allowed
    values of each field; None when it is malformed."""
    parts = schedule.split()
    if len(parts) != 3:
        return None
    sets: list[frozenset[int]] = []
    for part, limit in zip(parts, _CRON_LIMITS, strict=True):
        m = _CRON_PART.fullmatch(part)
        if m is None:
            return None
        if m.group(1) is not None:
            step = int(m.group(1))
            if step <= 0:
                return None
            sets.append(frozenset(range(0, limit, step)))
        elif m.group(2) is not None:
            value = int(m.group(2))
            if value >= limit:
                return None
            sets.append(frozenset({value}))
        else:
            sets.append(frozenset(range(limit)))
    return tuple(sets)


@attrs.frozen
class RecordRequest:
    """Start recording ``stream`` to files.

    ``interval`` (ms, > 0) or ``schedule`` (``"sec min hour"``) split the recording into
    files; ``segmentation_rule`` is ``discontinuity`` or ``continuity``.
    """

    id: str
    stream: StreamSelector
    file_path: str = ""
    info_path: str = ""
    interval: int = 0
    schedule: str = ""
    metadata: str = ""
    segmentation_rule: str = "discontinuity"


#: Record states in which the counters and the start time are shown.
_RECORD_ACTIVE = frozenset({"recording", "stopping", "stopped", "error"})
_RECORD_FINISHED = frozenset({"stopped", "error"})


@attrs.frozen
class RecordInfo:
    """A record job. ``state``: ``ready``, ``recording``, ``stopping``, ``stopped`` or
    ``error``.  ``file_path``/``info_path`` are the templates, ``output_*`` the current
    files."""

    vhost: str
    app: str
    request: RecordRequest
    state: str
    created: float
    file_path: str = ""
    info_path: str = ""
    output_file_path: str = ""
    output_info_path: str = ""
    record_bytes: int = 0
    record_time: int = 0
    total_record_bytes: int = 0
    total_record_time: int = 0
    sequence: int = 0
    start_time: float = 0.0
    finish_time: float = 0.0
    is_config: bool = False

    def to_json(self) -> Json:
        req = self.request
        out: Json = {
            "isConfig": self.is_config,
            "vhost": self.vhost,
            "app": self.app,
            "stream": req.stream.to_json(),
            "segmentationRule": req.segmentation_rule,
            "createdTime": format_time(self.created),
        }
        for key, value in (
            ("state", self.state),
            ("id", req.id),
            ("metadata", req.metadata),
            ("filePath", self.file_path),
            ("outputFilePath", self.output_file_path),
            ("infoPath", self.info_path),
            ("outputInfoPath", self.output_info_path),
            ("schedule", req.schedule),
        ):
            _set(out, key, value)
        if req.interval > 0:
            out["interval"] = req.interval
        if self.state in _RECORD_ACTIVE:
            for key, number in (
                ("recordBytes", self.record_bytes),
                ("recordTime", self.record_time),
                ("totalRecordBytes", self.total_record_bytes),
                ("totalRecordTime", self.total_record_time),
                ("sequence", self.sequence),
            ):
                if number > 0:
                    out[key] = number
            if self.start_time > 0:
                out["startTime"] = format_time(self.start_time)
        if self.state in _RECORD_FINISHED and self.finish_time > 0:
            out["finishTime"] = format_time(self.finish_time)
        return out


# -- HLS dumps, events, subtitles -------------------------------------------------------


@attrs.frozen
class HlsDumpRequest:
    """Start dumping an output stream's LL-HLS files to ``output_path``."""

    output_stream_name: str
    id: str
    output_path: str
    playlists: tuple[str, ...] = ()
    info_file: str = ""
    user_data: str = ""


@attrs.frozen
class HlsDump:
    """An LL-HLS dump of an output stream."""

    id: str
    output_stream_name: str
    output_path: str
    enabled: bool
    playlists: tuple[str, ...] = ()
    info_file: str = ""
    user_data: str = ""

    def to_json(self) -> Json:
        out: Json = {
            "enabled": self.enabled,
            "id": self.id,
            "outputPath": self.output_path,
            "outputStreamName": self.output_stream_name,
        }
        if self.playlists:
            out["playlist"] = list(self.playlists)
        _set(out, "infoFile", self.info_file)
        _set(out, "userData", self.user_data)
        return out


@attrs.frozen
class Id3Frame:
    """One ID3v2 frame: ``TXXX`` and ``PRIV`` use ``info`` and ``data``, other ``T…`` text
    frames only ``data``."""

    frame_type: str
    data: str = ""
    info: str = ""


@attrs.frozen
class Id3Event:
    """Timed ID3v2 metadata (one tag with these frames)."""

    frames: tuple[Id3Frame, ...]


@attrs.frozen
class CueEvent:
    """An HLS cue: ``cue_type`` is ``out``, ``cont`` or ``in``; ``duration`` in ms."""

    cue_type: str
    duration: int = 0


@attrs.frozen
class Scte35Event:
    """A SCTE-35 ``splice_insert``: ``type`` is ``out`` or ``in``."""

    id: int
    type: str
    duration: int = 0
    auto_return: bool = False
    splice_command: str = "spliceInsert"


@attrs.frozen
class StreamEvent:
    """An event to inject into a stream: the format's payload, the track kind it travels
    with (``video``, ``audio`` or ``event``) and whether it skips the queue."""

    payload: Id3Event | CueEvent | Scte35Event
    event_type: str = "event"
    urgent: bool = False


@attrs.frozen
class SubtitleCue:
    """A WebVTT cue for the subtitle track ``label``; ``start_ms`` is relative to the
    stream's current timestamp."""

    label: str
    text: str
    start_ms: int
    duration_ms: int = 1000
    settings: str = ""


@attrs.frozen
class SttRendition:
    """One speech-to-text encoder of a stream: its codec (``whisper``) and the properties
    the engine reports for it (``engine``, ``model``, ``sourceLanguage`` …), in order."""

    codec: str
    properties: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> Json:
        out: Json = {"codec": self.codec}
        for key, value in self.properties:
            out[key] = value
        return out


@attrs.frozen
class SttStatus:
    """A stream's speech-to-text state (``:sttStatus``): enabled when it has STT encoders
    and they are not paused."""

    enabled: bool
    renditions: tuple[SttRendition, ...] = ()

    def to_json(self) -> Json:
        return {"enabled": self.enabled, "renditions": [r.to_json() for r in self.renditions]}
