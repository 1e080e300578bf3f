"""Scheduled channels (``.sch``) and multiplex channels (``.mux``): models, parsers, files.

The request body of ``POST …/scheduledChannels`` / ``…/multiplexChannels`` has the structure
of the file; the parsers check it with OME's messages (each an ``ApiError(400, …)``).  Files
are written as JSON (OME's own files are XML; the API body is the JSON form of the same
document) named ``<stream name>.sch`` / ``.mux`` in the provider's directory.

Times in a schedule are ISO 8601 (``2026-11-26T10:00:00.000+09:00``; without an offset, the
server's local time) and read as POSIX timestamps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from omeapi import _messages as msg
from omeapi._engine.values import format_time
from omeapi._errors import Message
from omeapi._wire.fields import INT64, json_bool, json_int, json_str

__all__ = [
    "MULTIPLEX_SUFFIX",
    "SCHEDULE_SUFFIX",
    "AudioMapItem",
    "CurrentProgram",
    "Multiplex",
    "MultiplexInfo",
    "MuxPlaylist",
    "MuxRendition",
    "MuxSource",
    "MuxTrack",
    "Program",
    "ProgramItem",
    "Schedule",
    "ScheduleStream",
    "ScheduledChannelInfo",
    "channel_file",
    "check_channel_name",
    "current_program",
    "delete_channel_file",
    "parse_iso8601",
    "parse_multiplex",
    "parse_schedule",
    "read_channel_files",
    "write_channel_file",
]

SCHEDULE_SUFFIX = ".sch"
MULTIPLEX_SUFFIX = ".mux"


# -- time -------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_iso8601(text: str) -> float:
    """An ISO 8601 date-time as a POSIX timestamp; ValueError with the reason otherwise."""
    m = _ISO.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not an ISO 8601 date-time: {text}")
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    zone = m.group(8)
    tz: timezone | None = None
    if zone == "Z":
        tz = timezone.utc
    elif zone:
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        if minutes >= 24 * 60:
            raise ValueError(f"invalid UTC offset: {zone}")
        tz = timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
        return moment.timestamp()  # a naive time is the server's local time
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"{exc}: {text}") from None


# -- schedule model ---------------------------------------------------------------------


@attrs.frozen
class AudioMapItem:
    """One audio track of a scheduled channel."""

    name: str
    language: str = ""
    characteristics: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "characteristics": self.characteristics,
        }


@attrs.frozen
class ScheduleStream:
    """The channel's output stream."""

    name: str
    bypass_transcoder: bool = False
    video_track: bool = True
    audio_track: bool = True
    audio_map: tuple[AudioMapItem, ...] | None = None
    error_tolerance_duration_ms: int = 3000

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bypassTranscoder": self.bypass_transcoder,
            "videoTrack": self.video_track,
            "audioTrack": self.audio_track,
            "audioMap": None if self.audio_map is None else [a.to_json() for a in self.audio_map],
            "errorToleranceDurationMs": self.error_tolerance_duration_ms,
        }


@attrs.frozen
class ProgramItem:
    """A file (``file://``) or a live stream (``stream://vhost/app/stream``) to play from
    ``start`` ms for ``duration`` ms (-1: to its end)."""

    url: str
    start: int = 0
    duration: int = -1

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "start": self.start, "duration": self.duration}


@attrs.frozen
class Program:
    """A program starting at ``scheduled``; ``end`` is the next program's start (None: no
    known end).  The fallback program has no schedule (``scheduled`` 0)."""

    name: str = ""
    scheduled: float = 0.0
    repeat: bool = False
    items: tuple[ProgramItem, ...] | None = None
    end: float | None = None

    @property
    def duration(self) -> int:
        """The items' total duration in ms (-1 when one of them plays to its end)."""
        items = self.items or ()
        if any(i.duration < 0 for i in items):
            return -1
        return sum(i.duration for i in items)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scheduled": format_time(self.scheduled),
            "repeat": self.repeat,
            "items": None if self.items is None else [i.to_json() for i in self.items],
        }


@attrs.frozen
class Schedule:
    """A scheduled channel: its stream, the fallback program and the programs in order."""

    stream: ScheduleStream
    fallback: Program | None = None
    programs: tuple[Program, ...] = ()

    def without_ended(self, now: float) -> Schedule:
        """The schedule without the programs that ended before ``now``."""
        kept = tuple(p for p in self.programs if p.end is None or p.end > now)
        return self if len(kept) == len(self.programs) else attrs.evolve(self, programs=kept)

    def to_json(self) -> dict[str, Any]:
        """The schedule as stored and shown (GET adds ``currentProgram``)."""
        out: dict[str, Any] = {"stream": self.stream.to_json()}
        if self.fallback is not None:
            out["fallbackProgram"] = self.fallback.to_json()
        if self.programs:
            out["programs"] = [p.to_json() for p in self.programs]
        return out


@attrs.frozen
class CurrentProgram:
    """What a scheduled channel is playing: the program (None: off air), the item and the
    position in it (ms)."""

    program: Program | None = None
    item: ProgramItem | None = None
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        program = self.program
        if program is None:
            return {"state": "offair"}
        out: dict[str, Any] = {
            "state": "onair" if self.item is not None else "offair",
            "name": program.name,
            "scheduled": format_time(program.scheduled),
            "end": format_time(program.end or 0.0),
            "duration": program.duration,
            "repeat": program.repeat,
        }
        if self.item is not None:
            out["currentItem"] = {
                "url": self.item.url,
                "duration": self.item.duration,
                "start": self.item.start,
                "currentPosition": self.position,
            }
        return out


@attrs.frozen
class ScheduledChannelInfo:
    """A scheduled channel as the engine reports it."""

    schedule: Schedule
    current: CurrentProgram

    def to_json(self) -> dict[str, Any]:
        out = self.schedule.to_json()
        out["currentProgram"] = self.current.to_json()
        return out


def current_program(schedule: Schedule, now: float) -> CurrentProgram:
    """The program on air at ``now`` and its current item (looping when it repeats)."""
    for program in schedule.programs:
        if program.scheduled <= now and (program.end is None or now < program.end):
            return CurrentProgram(program, *_item_at(program, (now - program.scheduled) * 1000))
    return CurrentProgram()


def _item_at(program: Program, elapsed_ms: float) -> tuple[ProgramItem | None, int]:
    items = program.items or ()
    total = program.duration
    if program.repeat and total > 0:
        elapsed_ms %= total
    for item in items:
        if item.duration < 0 or elapsed_ms < item.duration:
            return item, item.start + int(elapsed_ms)
        elapsed_ms -= item.duration
    return None, 0


# -- schedule parser --------------------------------------------------------------------

_SCHEDULE_URL = re.compile(r"(file|stream)://.+", re.IGNORECASE | re.DOTALL)


def _object_list(value: Any) -> list[dict[str, Any]]:
    # Array entries of the wrong type read as empty objects (their required keys then fail).
    return [v if isinstance(v, dict) else {} for v in value]


def _scheduled(program: dict[str, Any]) -> float:
    text = json_str(program.get("scheduled"))
    if text is None:
        raise msg.SCH_SCHEDULED.error()
    try:
        return parse_iso8601(text)
    except ValueError as exc:
        raise msg.SCH_SCHEDULED_PARSE.error(reason=exc) from None


def _items(program: dict[str, Any]) -> tuple[ProgramItem, ...] | None:
    if "items" not in program or program["items"] is None:
        return None
    raw = program["items"]
    if not isinstance(raw, list):
        raise msg.SCH_ITEMS.error()
    items: list[ProgramItem] = []
    for entry in _object_list(raw):
        url = json_str(entry.get("url"))
        if url is None:
            raise msg.SCH_URL.error()
        if not _SCHEDULE_URL.fullmatch(url):
            raise msg.SCH_URL_SCHEME.error()
        start = json_int(entry.get("start"), INT64)
        duration = json_int(entry.get("duration"), INT64)
        items.append(
            ProgramItem(
                url,
                max(0, start if start is not None else 0),
                duration if duration is not None and duration >= 0 else -1,
            )
        )
    return tuple(items)


def _stream(body: dict[str, Any]) -> ScheduleStream:
    raw = body.get("stream")
    if not isinstance(raw, dict):
        raise msg.SCH_STREAM.error()
    name = json_str(raw.get("name"))
    if name is None:
        raise msg.SCH_STREAM_NAME.error()
    audio_map: tuple[AudioMapItem, ...] | None = None
    if raw.get("audioMap") is not None:
        if not isinstance(raw["audioMap"], list):
            raise msg.SCH_AUDIO_MAP.error()
        audio_map = tuple(
            AudioMapItem(
                json_str(a.get("name")) or "",
                json_str(a.get("language")) or "",
                json_str(a.get("characteristics")) or "",
            )
            for a in _object_list(raw["audioMap"])
        )
    tolerance = json_int(raw.get("errorToleranceDurationMs"))
    return ScheduleStream(
        name,
        _flag(raw, "bypassTranscoder", False),
        _flag(raw, "videoTrack", True),
        _flag(raw, "audioTrack", True),
        audio_map,
        tolerance if tolerance is not None and tolerance >= 0 else 3000,
    )


def _flag(raw: dict[str, Any], key: str, default: bool) -> bool:
    value = json_bool(raw.get(key))
    return default if value is None else value


def parse_schedule(body: dict[str, Any], now: float | None = None) -> Schedule:
    """A schedule from its JSON form; programs that ended before ``now`` (if given) are
    dropped."""
    stream = _stream(body)
    fallback: Program | None = None
    if body.get("fallbackProgram") is not None:
        raw = body["fallbackProgram"]
        if not isinstance(raw, dict):
            raise msg.SCH_FALLBACK.error()
        fallback = Program(
            json_str(raw.get("name")) or "", 0.0, _flag(raw, "repeat", False), _items(raw)
        )
    programs: list[Program] = []
    if body.get("programs") is not None:
        raw_programs = body["programs"]
        if not isinstance(raw_programs, list):
            raise msg.SCH_PROGRAMS.error()
        entries = _object_list(raw_programs)
        for index, raw in enumerate(entries):
            scheduled = _scheduled(raw)
            # A program ends where the next begins, so the next one's start is read now.
            end = _scheduled(entries[index + 1]) if index + 1 < len(entries) else None
            items = _items(raw)
            program = Program(
                json_str(raw.get("name")) or "",
                scheduled,
                _flag(raw, "repeat", False),
                items,
                end,
            )
            if end is None and not program.repeat and program.duration >= 0:
                program = attrs.evolve(program, end=scheduled + program.duration / 1000)
            programs.append(program)
    schedule = Schedule(stream, fallback, tuple(programs))
    return schedule if now is None else schedule.without_ended(now)


# -- multiplex model and parser -----------------------------------------------------------


@attrs.frozen
class MuxTrack:
    """A source track taken into the multiplex under a new name."""

    source_track_name: str
    new_track_name: str
    bitrate_conf: int | None = None
    framerate_conf: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sourceTrackName": self.source_track_name,
            "newTrackName": self.new_track_name,
        }
        if self.bitrate_conf is not None:
            out["bitrateConf"] = self.bitrate_conf
        if self.framerate_conf is not None:
            out["framerateConf"] = self.framerate_conf
        return out


@attrs.frozen
class MuxSource:
    """A source stream (``stream://vhost/app/stream``) and the tracks taken from it."""

    name: str
    url: str
    track_map: tuple[MuxTrack, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "trackMap": [t.to_json() for t in self.track_map],
        }


@attrs.frozen
class MuxRendition:
    """A rendition of a multiplex playlist (new track names)."""

    name: str
    video: str = ""
    audio: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.video:
            out["video"] = self.video
        if self.audio:
            out["audio"] = self.audio
        return out


#: playlist option → (JSON type check, default); only non-default values are kept
_MUX_OPTIONS: dict[str, tuple[type, object]] = {
    "webrtcAutoAbr": (bool, True),
    "hlsChunklistPathDepth": (int, -1),
    "enableTsPackaging": (bool, False),
}


@attrs.frozen
class MuxPlaylist:
    """A playlist of the multiplexed stream; ``options`` holds only non-default values."""

    name: str
    file_name: str
    options: tuple[tuple[str, Any], ...] = ()
    renditions: tuple[MuxRendition, ...] = ()

    def option(self, key: str) -> Any:
        """An option's value (its default when not set)."""
        return dict(self.options).get(key, _MUX_OPTIONS[key][1])

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fileName": self.file_name,
            "options": dict(self.options),
            "renditions": [r.to_json() for r in self.renditions],
        }


@attrs.frozen
class Multiplex:
    """A multiplex channel: one output stream made of tracks of other streams."""

    name: str
    sources: tuple[MuxSource, ...]
    bypass_transcoder: bool = False
    playlists: tuple[MuxPlaylist, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "outputStream": {"name": self.name, "bypassTranscoder": self.bypass_transcoder},
            "sourceStreams": [s.to_json() for s in self.sources],
        }
        if self.playlists:
            out["playlists"] = [p.to_json() for p in self.playlists]
        return out


@attrs.frozen
class MultiplexInfo:
    """A multiplex channel as the engine reports it: ``state`` is ``None``, ``Pulling``,
    ``Playing``, ``Stopped`` or ``Unknown``; ``pulling_message`` says what it waits for."""

    multiplex: Multiplex
    state: str
    pulling_message: str = ""

    def to_json(self) -> dict[str, Any]:
        out = self.multiplex.to_json()
        out["state"] = self.state
        if self.state == "Pulling":
            out["pullingMessage"] = self.pulling_message
        return out


_MUX_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+(/[^\s]*)?")


def _required_str(raw: dict[str, Any], key: str, missing: Message) -> str:
    value = json_str(raw.get(key))
    if value is None:
        raise missing.error()
    return value


def _mux_track(raw: dict[str, Any]) -> MuxTrack:
    source = _required_str(raw, "sourceTrackName", msg.MUX_TRACK_SOURCE)
    new = _required_str(raw, "newTrackName", msg.MUX_TRACK_NEW)
    bitrate = json_int(raw.get("bitrateConf"), INT64)
    framerate = raw.get("framerateConf")
    if isinstance(framerate, bool) or not isinstance(framerate, int | float):
        framerate = None
    return MuxTrack(source, new, bitrate, None if framerate is None else float(framerate))


def _mux_source(raw: dict[str, Any]) -> MuxSource:
    name = _required_str(raw, "name", msg.MUX_SOURCE_NAME)
    url = _required_str(raw, "url", msg.MUX_SOURCE_URL)
    if not _MUX_URL.fullmatch(url):
        raise msg.MUX_SOURCE_URL_PARSE.error(url=url)
    track_map = raw.get("trackMap")
    if not isinstance(track_map, list):
        raise msg.MUX_TRACK_MAP.error()
    return MuxSource(name, url, tuple(_mux_track(t) for t in _object_list(track_map)))


def _mux_playlist(raw: dict[str, Any], variants: set[str]) -> MuxPlaylist:
    name = _required_str(raw, "name", msg.MUX_PLAYLIST_NAME)
    file_name = _required_str(raw, "fileName", msg.MUX_PLAYLIST_FILE)
    options: list[tuple[str, Any]] = []
    raw_options = raw.get("options")
    if isinstance(raw_options, dict):
        for key, (json_type, default) in _MUX_OPTIONS.items():
            value = raw_options.get(key)
            if json_type is int:
                value = json_int(value)
            elif not isinstance(value, json_type):
                value = None
            if value is not None and value != default:
                options.append((key, value))
    renditions: list[MuxRendition] = []
    raw_renditions = raw.get("renditions")
    for entry in _object_list(raw_renditions if isinstance(raw_renditions, list) else []):
        rendition = MuxRendition(
            _required_str(entry, "name", msg.MUX_RENDITION_NAME),
            json_str(entry.get("video")) or "",
            json_str(entry.get("audio")) or "",
        )
        for kind, variant in (("video", rendition.video), ("audio", rendition.audio)):
            if variant and variant not in variants:
                raise msg.MUX_VARIANT.error(kind=kind, name=variant)
        renditions.append(rendition)
    return MuxPlaylist(name, file_name, tuple(options), tuple(renditions))


def parse_multiplex(body: dict[str, Any]) -> Multiplex:
    """A multiplex channel from its JSON form."""
    output = body.get("outputStream")
    if not isinstance(output, dict):
        raise msg.MUX_OUTPUT.error()
    name = _required_str(output, "name", msg.MUX_OUTPUT_NAME)
    raw_sources = body.get("sourceStreams")
    if not isinstance(raw_sources, list):
        raise msg.MUX_SOURCES.error()
    sources = tuple(_mux_source(s) for s in _object_list(raw_sources))
    variants = {t.new_track_name for s in sources for t in s.track_map}
    raw_playlists = body.get("playlists")
    playlists = tuple(
        _mux_playlist(p, variants)
        for p in _object_list(raw_playlists if isinstance(raw_playlists, list) else [])
    )
    return Multiplex(name, sources, _flag(output, "bypassTranscoder", False), playlists)


# -- files ------------------------------------------------------------------------------

_BAD_NAME = re.compile(r"[/\\\x00]")


#: Longest file name most file systems take, in bytes (the suffix included).
_NAME_MAX = 255


def check_channel_name(name: str) -> None:
    """Refuse a channel name that is not a plain file name: it names the file, so ``a/../b``
    would write outside the channel directory, and a name no file system takes (too long,
    not encodable) would fail as a server error."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate from a JSON ``\ud800`` escape
        size = _NAME_MAX + 1
    if (
        not name
        or name in (".", "..")
        or _BAD_NAME.search(name)
        or size + len(SCHEDULE_SUFFIX) > _NAME_MAX
    ):
        raise msg.INVALID_STREAM_NAME.error()


def channel_file(directory: str, name: str, suffix: str) -> str:
    """The file of channel ``name`` in ``directory`` (``suffix``: ``.sch`` or ``.mux``)."""
    return os.path.join(directory, name + suffix)


def write_channel_file(path: str, document: dict[str, Any]) -> None:
    """Write a channel file atomically (a reader never sees half a file); OSError on
    failure."""
    directory = os.path.dirname(path) or os.curdir
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".omeapi-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def delete_channel_file(path: str) -> None:
    """Remove a channel file; OSError on failure (a missing file is not a failure)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def read_channel_files(directory: str, suffix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every ``*<suffix>`` file of ``directory`` that holds a JSON object, sorted by name
    (unreadable or malformed files are skipped: they were not written by omeapi)."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(suffix))
    except OSError:
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            found.append((path, document))
    return found
