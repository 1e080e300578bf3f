"""The JSON shapes of OME's runtime answers, as data, and the one function that checks them.

A shape is a value built from the classes below (:class:`Obj`, :class:`ListOf`,
:class:`OneOf`, :class:`Enum`, ...); :func:`shape_errors` walks a decoded JSON value along it
and lists every difference.  The shapes are OME's documented answers: :data:`STREAM_DETAIL`
(a stream), :data:`METRICS` (stats), :data:`PUSH` (a push job), :data:`RECORD` (a record job),
and :data:`QUEUE` (the internal queues).  Objects are closed: a key the shape does not list
is an error, as is a missing one that it does.

>>> shape_errors({"id": 1, "type": "Data"}, TRACK)
[]
>>> shape_errors({"id": "1", "type": "Data"}, TRACK)
["$.id: expected an integer, got '1'"]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = [
    "AUDIO",
    "CODECS",
    "ENVELOPE",
    "METRICS",
    "PUSH",
    "PUSH_STATES",
    "QUEUE",
    "RECORD",
    "RECORD_STATES",
    "SESSION",
    "SOURCE_TYPES",
    "STREAM_DETAIL",
    "TIME",
    "TRACK",
    "VIDEO",
    "Anything",
    "Bool",
    "Const",
    "Enum",
    "Int",
    "ListOf",
    "Number",
    "Obj",
    "OneOf",
    "Shape",
    "Str",
    "Text",
    "Where",
    "shape_errors",
]


# -- the shape vocabulary -------------------------------------------------------------------


@attrs.frozen
class Anything:
    """Any JSON value."""


@attrs.frozen
class Int:
    """A JSON integer (not a boolean), at least ``minimum`` when given."""

    minimum: int | None = None


@attrs.frozen
class Number:
    """A JSON number, integer or not (not a boolean)."""


@attrs.frozen
class Bool:
    """``true`` or ``false``."""


@attrs.frozen
class Str:
    """A JSON string; ``nonempty`` where OME leaves empty strings out (so one that is there
    has a value)."""

    nonempty: bool = False


@attrs.frozen
class Text:
    """A string matching ``pattern`` in full; ``name`` says what it is in errors."""

    pattern: str
    name: str


@attrs.frozen
class Const:
    """Exactly ``value``."""

    value: Any


@attrs.frozen
class Enum:
    """One of ``values`` (strings compare case-sensitively, as OME writes them)."""

    values: frozenset[Any]

    @classmethod
    def of(cls, *values: Any) -> Enum:
        return cls(frozenset(values))


@attrs.frozen
class ListOf:
    """A JSON array whose every item has shape ``item``."""

    item: Shape


@attrs.frozen
class Obj:
    """A JSON object with every key of ``required``, any of ``optional``, nothing else."""

    required: Mapping[str, Shape]
    optional: Mapping[str, Shape] = attrs.field(factory=dict)


@attrs.frozen
class OneOf:
    """A value with one of the ``options`` shapes (errors: those of the closest option)."""

    options: tuple[Shape, ...]


@attrs.frozen
class Where:
    """A value of shape ``shape`` for which ``holds`` is true (a rule across fields, e.g.
    a total that is the sum of its parts); ``rule`` words it for errors."""

    shape: Shape
    rule: str
    holds: Callable[[Any], bool] = attrs.field(eq=False)


Shape = Anything | Int | Number | Bool | Str | Text | Const | Enum | ListOf | Obj | OneOf | Where


# -- the checker -----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shape_errors(value: Any, shape: Shape, path: str = "$") -> list[str]:
    """Every way ``value`` (decoded JSON) differs from ``shape``, as ``path: problem``
    lines; empty when it fits."""
    if isinstance(shape, Anything):
        return []
    if isinstance(shape, Int):
        if not _is_int(value):
            return [f"{path}: expected an integer, got {value!r}"]
        if shape.minimum is not None and value < shape.minimum:
            return [f"{path}: expected at least {shape.minimum}, got {value!r}"]
        return []
    if isinstance(shape, Number):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if isinstance(shape, Bool):
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if isinstance(shape, Str):
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        return (
            [f"{path}: empty string (OME leaves those out)"] if shape.nonempty and not value else []
        )
    if isinstance(shape, Text):
        if isinstance(value, str) and re.fullmatch(shape.pattern, value):
            return []
        return [f"{path}: expected {shape.name}, got {value!r}"]
    if isinstance(shape, Const):
        same = value == shape.value and type(value) is type(shape.value)
        return [] if same else [f"{path}: expected {shape.value!r}, got {value!r}"]
    if isinstance(shape, Enum):
        if isinstance(value, (str, int, bool)) and value in shape.values:
            return []
        return [f"{path}: expected one of {sorted(map(str, shape.values))}, got {value!r}"]
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {value!r}"]
        return [
            e
            for i, item in enumerate(value)
            for e in shape_errors(item, shape.item, f"{path}[{i}]")
        ]
    if isinstance(shape, Obj):
        return _object_errors(value, shape, path)
    if isinstance(shape, OneOf):
        found = [shape_errors(value, option, path) for option in shape.options]
        if any(not errors for errors in found):
            return []
        return min(found, key=len)
    errors = shape_errors(value, shape.shape, path)
    if not errors and not shape.holds(value):
        errors.append(f"{path}: {shape.rule}")
    return errors


def _object_errors(value: Any, shape: Obj, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {value!r}"]
    errors: list[str] = []
    for key, inner in shape.required.items():
        if key not in value:
            errors.append(f"{path}: missing {key!r}")
        else:
            errors.extend(shape_errors(value[key], inner, f"{path}.{key}"))
    for key, inner in shape.optional.items():
        if key in value:
            errors.extend(shape_errors(value[key], inner, f"{path}.{key}"))
    extra = sorted(set(value) - set(shape.required) - set(shape.optional))
    if extra:
        errors.append(f"{path}: unexpected keys {extra}")
    return errors


# -- OME's shapes (docs/runtime.md) -----------------------------------------------------------

#: OME's time form, ``2026-11-26T10:06:01.106+00:00`` (never-set times are the epoch).
TIME = Text(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d",
    "a time like 2026-11-26T10:06:01.106+00:00",
)

#: ``input.sourceType`` values.
SOURCE_TYPES = Enum.of(
    "WebRTC", "Ovt", "Rtmp", "RtmpPull", "Rtsp", "RtspPull", "Transcoder", "SRT", "MPEGTS",
    "File", "Scheduled", "Multiplex", "Unknown",
)  # fmt: skip

#: Codec strings of tracks.
CODECS = Enum.of(
    "H264", "H265", "VP8", "VP9", "FLV", "AV1", "JPEG", "PNG", "WEBP", "AAC", "MP3", "OPUS",
    "WebVTT", "WHISPER", "None",
)  # fmt: skip

_COUNT = Int(minimum=0)
_TIMEBASE = Obj({"num": Int(), "den": Int(minimum=1)})

#: A video track's ``video`` object.
VIDEO = Obj(
    {
        "bypass": Bool(),
        "codec": CODECS,
        "width": _COUNT,
        "maxWidth": _COUNT,
        "height": _COUNT,
        "maxHeight": _COUNT,
        "bitrate": _COUNT,
        "bitrateConf": _COUNT,
        "bitrateAvg": _COUNT,
        "bitrateLatest": _COUNT,
        "framerate": Number(),
        "framerateConf": Number(),
        "framerateAvg": Number(),
        "framerateLatest": Number(),
        "hasBframes": Bool(),
        "keyFrameInterval": Number(),
        "keyFrameIntervalConf": Number(),
        "keyFrameIntervalAvg": Number(),
        "keyFrameIntervalLatest": Number(),
        "deltaFramesSinceLastKeyFrame": _COUNT,
    },
    {"timebase": _TIMEBASE},
)

#: An audio track's ``audio`` object.
AUDIO = Obj(
    {
        "bypass": Bool(),
        "codec": CODECS,
        "samplerate": _COUNT,
        "channel": _COUNT,
        "bitrate": _COUNT,
        "bitrateConf": _COUNT,
        "bitrateAvg": _COUNT,
        "bitrateLatest": _COUNT,
    },
    {"timebase": _TIMEBASE},
)

_VARIANT = {"name": Str(nonempty=True)}

#: A track: a video track carries ``video``, an audio track ``audio``, the others neither.
TRACK = OneOf(
    (
        Obj({"id": Int(), "type": Const("Video"), "video": VIDEO}, _VARIANT),
        Obj({"id": Int(), "type": Const("Audio"), "audio": AUDIO}, _VARIANT),
        Obj({"id": Int(), "type": Enum.of("Data", "Subtitle", "Attachment", "Unknown")}, _VARIANT),
    )
)

_PLAYLIST = Obj(
    {
        "options": Obj(
            {"webrtcAutoAbr": Bool(), "hlsChunklistPathDepth": Int(), "enableTsPackaging": Bool()}
        ),
        "renditions": ListOf(
            Obj(
                {"name": Str()},
                {"videoVariantName": Str(nonempty=True), "audioVariantName": Str(nonempty=True)},
            )
        ),
    },
    {"name": Str(nonempty=True), "fileName": Str(nonempty=True)},
)

#: ``GET …/streams/{stream}``.
STREAM_DETAIL = Obj(
    {
        "name": Str(nonempty=True),
        "input": Obj(
            {"sourceType": SOURCE_TYPES, "createdTime": TIME, "tracks": ListOf(TRACK)},
            {"sourceUrl": Str(nonempty=True)},
        ),
        "outputs": ListOf(
            Obj({"name": Str(), "tracks": ListOf(TRACK), "playlists": ListOf(_PLAYLIST)})
        ),
    }
)

#: The keys of a metrics ``connections`` object.
_CONNECTIONS = ("webrtc", "llhls", "ovt", "file", "push", "thumbnail", "hlsv3", "srt")

#: ``GET /v1/stats/current[/vhosts/{v}[/apps/{a}[/streams/{s}]]]``.
METRICS = Where(
    Obj(
        {
            **{
                key: TIME
                for key in (
                    "createdTime",
                    "lastUpdatedTime",
                    "lastRecvTime",
                    "lastSentTime",
                    "maxTotalConnectionTime",
                )
            },
            **{
                key: _COUNT
                for key in (
                    "totalBytesIn",
                    "totalBytesOut",
                    "avgThroughputIn",
                    "avgThroughputOut",
                    "maxThroughputIn",
                    "maxThroughputOut",
                    "lastThroughputIn",
                    "lastThroughputOut",
                    "totalConnections",
                    "maxTotalConnections",
                )
            },
            "connections": Obj({key: _COUNT for key in _CONNECTIONS}),
        }
    ),
    "totalConnections is not the sum of connections",
    lambda m: m["totalConnections"] == sum(m["connections"].values()),
)

_SELECTOR = Obj({"name": Str(), "trackIds": ListOf(Int()), "variantNames": ListOf(Str())})

#: Push job states.
PUSH_STATES = Enum.of("ready", "connecting", "pushing", "stopping", "stopped", "error")

#: A push job; empty strings are left out, so ``streamKey`` may be absent.
PUSH = Obj(
    {
        "id": Str(nonempty=True),
        "vhost": Str(nonempty=True),
        "app": Str(nonempty=True),
        "stream": _SELECTOR,
        "state": PUSH_STATES,
        "protocol": Enum.of("rtmp", "srt", "mpegts"),
        "url": Str(nonempty=True),
        "sentBytes": _COUNT,
        "sentTime": _COUNT,
        "totalsentBytes": _COUNT,
        "totalsentTime": _COUNT,
        "sequence": _COUNT,
        "startTime": TIME,
        "finishTime": TIME,
        "createdTime": TIME,
        "isConfig": Bool(),
    },
    {"streamKey": Str(nonempty=True)},
)

#: Record job states.
RECORD_STATES = Enum.of("ready", "recording", "stopping", "stopped", "error")

_RECORD_BASE: dict[str, Shape] = {
    "isConfig": Bool(),
    "id": Str(nonempty=True),
    "vhost": Str(nonempty=True),
    "app": Str(nonempty=True),
    "stream": _SELECTOR,
    "segmentationRule": Enum.of("continuity", "discontinuity"),
    "createdTime": TIME,
}
_RECORD_STRINGS: dict[str, Shape] = {
    key: Str(nonempty=True)
    for key in ("metadata", "filePath", "outputFilePath", "infoPath", "outputInfoPath", "schedule")
}
_RECORD_OPTIONAL: dict[str, Shape] = {**_RECORD_STRINGS, "interval": Int(minimum=1)}
#: Counters and the start time: only once recording started, each only when > 0.
_RECORD_PROGRESS: dict[str, Shape] = {
    **{
        key: Int(minimum=1)
        for key in ("recordBytes", "recordTime", "totalRecordBytes", "totalRecordTime", "sequence")
    },
    "startTime": TIME,
}

#: A record job: what it shows depends on its state.
RECORD = OneOf(
    (
        Obj({**_RECORD_BASE, "state": Const("ready")}, _RECORD_OPTIONAL),
        Obj(
            {**_RECORD_BASE, "state": Enum.of("recording", "stopping")},
            {**_RECORD_OPTIONAL, **_RECORD_PROGRESS},
        ),
        Obj(
            {**_RECORD_BASE, "state": Enum.of("stopped", "error")},
            {**_RECORD_OPTIONAL, **_RECORD_PROGRESS, "finishTime": TIME},
        ),
    )
)

#: One internal queue (``/v1/stats/current/internals/queues``).
QUEUE = Obj(
    {
        "id": Int(),
        "urn": Str(),
        "type": Str(),
        **{
            key: _COUNT
            for key in (
                "size",
                "threshold",
                "peak",
                "drop",
                "inputPerSecond",
                "outputPerSecond",
                "avgWaitingTime",
            )
        },
    }
)

#: One session of ``GET /x-omeapi/v1/…/streams/{stream}/sessions`` (an omeapi extension).
SESSION = Obj(
    {
        "id": Str(nonempty=True),
        "protocol": Str(nonempty=True),
        "remoteAddress": Str(),
        "since": TIME,
        "totalBytesIn": _COUNT,
        "totalBytesOut": _COUNT,
    }
)

#: Every answer's envelope: ``response`` only on successes that carry one.
ENVELOPE = Obj({"message": Str(), "statusCode": Int(minimum=100)}, {"response": Anything()})
