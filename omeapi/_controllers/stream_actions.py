"""``POST …/streams/{stream}:<action>``: LL-HLS dumps, events, subtitles, conclude.

Each action first finds the input stream (OME's lookups), then reads its body.  A body that is
not an object is OME's 500 (a JSON type assertion); here it is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._controllers.lookups import input_stream
from omeapi._controllers.outcomes import Outcomes, answer, answering
from omeapi._engine.features import publisher
from omeapi._engine.values import (
    CueEvent,
    HlsDumpRequest,
    Id3Event,
    Id3Frame,
    Scte35Event,
    StreamEvent,
    SubtitleCue,
)
from omeapi._errors import ApiError, EngineError, EngineResult, Message
from omeapi._wire.envelope import ItemResult, Reply, multi, ok, plain
from omeapi._wire.fields import INT64, UINT32, action_object, json_bool, json_int, json_str

if TYPE_CHECKING:
    from omeapi._controllers.lookups import StreamPath

__all__ = [
    "EVENT_FORMATS",
    "conclude_hls_live",
    "disable_stt",
    "enable_stt",
    "hls_dumps",
    "parse_event",
    "send_event",
    "send_events",
    "send_subtitles",
    "start_hls_dump",
    "stop_hls_dump",
    "stt_status",
]


def _names(path: StreamPath) -> tuple[str, str, str]:
    vhost, app, stream = path
    return vhost.name, app.name, stream


def _gone_or(failed: Message) -> Outcomes:
    """NOT_EXISTS: the stream went away between the lookup and the engine call (OME's
    provider 404); anything else: ``failed``."""
    return {EngineResult.NOT_EXISTS: msg.SOURCE_STREAM_NOT_FOUND, EngineResult.FAILED: failed}


_START_DUMP: Outcomes = {
    **_gone_or(msg.DUMP_START_FAILED),
    EngineResult.EXISTS: msg.DUMP_START_EXISTS,
}
_STOP_DUMP = _gone_or(msg.DUMP_STOP_FAILED)
_EVENT = _gone_or(msg.EVENT_INJECT_FAILED)
_CONCLUDE = _gone_or(msg.CONCLUDE_FAILED)
_SUBTITLES = _gone_or(msg.SUBTITLES_SEND_FAILED)


def _fields(path: StreamPath, **more: str) -> dict[str, str]:
    vhost, app, stream = _names(path)
    return {"vhost": vhost, "app": app, "stream": stream, **more}


# -- LL-HLS dumps -----------------------------------------------------------------------


def _output_stream(call: Call, path: StreamPath, output: str) -> None:
    """The output stream must be one of this stream's, and published over LL-HLS."""
    vhost, app, stream = path
    where = {"vhost": vhost.name, "app": app.name, "output": output}
    info = call.services.engine.get_stream(vhost.name, app.name, stream)
    if info is None or all(o.name != output for o in info.outputs):
        raise msg.OUTPUT_STREAM_NOT_FOUND.error(**where)
    if publisher(app.config, "LLHLS") is None:
        raise msg.LLHLS_STREAM_NOT_FOUND.error(**where)


def _nonempty(body: dict[str, Any], key: str) -> str:
    return json_str(body.get(key)) or ""


def _dumped_output(call: Call) -> tuple[StreamPath, dict[str, Any], str]:
    """The stream, the body and its ``outputStreamName`` (required, and an LL-HLS output of
    the stream) of a dump list or stop."""
    path = input_stream(call)
    body = action_object(call.body)
    output = _nonempty(body, "outputStreamName")
    if not output:
        raise msg.DUMP_OUTPUT_REQUIRED.error()
    _output_stream(call, path, output)
    return path, body, output


def hls_dumps(call: Call) -> Reply:
    """The dumps of an output stream (``id`` filters; an unknown id gives ``[]``)."""
    path, body, output = _dumped_output(call)
    dumps = call.services.engine.list_hls_dumps(*_names(path), output, json_str(body.get("id")))
    return ok([d.to_json() for d in dumps])


def start_hls_dump(call: Call) -> Reply:
    """Start an LL-HLS dump; OME answers a plain 200 (its docs' array is wrong)."""
    path = input_stream(call)
    body = action_object(call.body)
    dump_id, output = _nonempty(body, "id"), _nonempty(body, "outputStreamName")
    output_path = _nonempty(body, "outputPath")
    if not (dump_id and output and output_path):
        raise msg.DUMP_START_REQUIRED.error()
    _output_stream(call, path, output)
    playlists = body.get("playlist")
    request = HlsDumpRequest(
        output,
        dump_id,
        output_path,
        tuple(p for p in playlists if isinstance(p, str)) if isinstance(playlists, list) else (),
        _nonempty(body, "infoFile"),
        _nonempty(body, "userData"),
    )
    engine = call.services.engine
    vhost, app, stream = _names(path)
    where = _fields(path, output=output)
    running = [d for d in engine.list_hls_dumps(vhost, app, stream, output, dump_id) if d.enabled]
    # A dump id in use is the client's mistake: 409 with OME's message form, not its 500.
    in_use = msg.DUMP_EXISTS_REASON.format(id=dump_id)
    if running:
        raise msg.DUMP_START_EXISTS.error(**where, detail=in_use)
    try:
        engine.start_hls_dump(vhost, app, stream, request)
    except EngineError as exc:
        if exc.result is EngineResult.EXISTS:
            exc = EngineError(exc.result, in_use)
        raise answer(_START_DUMP, exc, **where) from None
    return plain(200)


def stop_hls_dump(call: Call) -> Reply:
    """Stop one dump (``id``) or all of an output stream's."""
    path, body, output = _dumped_output(call)
    dump_id = json_str(body.get("id")) or None
    engine = call.services.engine
    vhost, app, stream = _names(path)
    where = _fields(path, output=output)
    if dump_id is not None and not engine.list_hls_dumps(vhost, app, stream, output, dump_id):
        # OME reports this as a failure (500); an unknown id is the client's mistake.
        detail = msg.DUMP_UNKNOWN_REASON.format(id=dump_id)
        raise msg.DUMP_STOP_UNKNOWN.error(**where, detail=detail)
    with answering(_STOP_DUMP, **where):
        engine.stop_hls_dump(vhost, app, stream, output, dump_id)
    return plain(200)


# -- events -------------------------------------------------------------------------------


def _objects(events: list[Any]) -> list[dict[str, Any]]:
    return [e if isinstance(e, dict) else {} for e in events]


#: ID3v2 frame id → the event fields it carries; other ``T…`` frames are text frames
_ID3_FRAMES: dict[str, tuple[str, ...]] = {"TXXX": ("info", "data"), "PRIV": ("info", "data")}
_ID3_TEXT_FRAME = ("data",)


def _id3v2(events: list[Any]) -> Id3Event:
    frames: list[Id3Frame] = []
    for event in _objects(events):
        frame_type = json_str(event.get("frameType"))
        if frame_type is None:
            raise msg.FRAME_TYPE_REQUIRED.error()
        fields = _ID3_FRAMES.get(frame_type)
        if fields is None and frame_type.startswith("T"):
            fields = _ID3_TEXT_FRAME
        if fields is None:
            raise msg.FRAME_TYPE_UNSUPPORTED.error(frame=frame_type)
        values = {f: json_str(event.get(f)) or "" for f in fields}
        frames.append(Id3Frame(frame_type, values.get("data", ""), values.get("info", "")))
    return Id3Event(tuple(frames))


_CUE_TYPES = frozenset({"out", "cont", "in"})


def _cue(events: list[Any]) -> CueEvent:
    # Only the first event counts (one cue per request).
    event = _objects(events)[0]
    cue_type = json_str(event.get("cueType"))
    if cue_type is None:
        raise msg.CUE_TYPE_REQUIRED.error()
    if cue_type.lower() not in _CUE_TYPES:
        raise msg.CUE_TYPE_UNSUPPORTED.error(cue=cue_type)
    return CueEvent(cue_type.lower(), json_int(event.get("duration"), UINT32) or 0)


_SCTE35_TYPES = frozenset({"out", "in"})
_SPLICE_INSERT = "spliceInsert"


def _scte35(events: list[Any]) -> Scte35Event:
    event = _objects(events)[0]
    command = event.get("spliceCommand", _SPLICE_INSERT)
    if command != _SPLICE_INSERT:
        raise msg.SCTE35_ONLY_SPLICE_INSERT.error()
    splice_id = json_int(event.get("id"), UINT32)
    if splice_id is None:
        raise msg.SCTE35_ID_REQUIRED.error()
    splice_type = json_str(event.get("type"))
    if splice_type is None:
        raise msg.SCTE35_TYPE_REQUIRED.error()
    if splice_type.lower() not in _SCTE35_TYPES:
        raise msg.SCTE35_TYPE_VALUE.error()
    return Scte35Event(
        splice_id,
        splice_type.lower(),
        json_int(event.get("duration"), UINT32) or 0,
        json_bool(event.get("autoReturn")) or False,
    )


#: ``eventFormat`` (lower-cased) → the parser of its ``events``
EVENT_FORMATS: dict[str, Callable[[list[Any]], Id3Event | CueEvent | Scte35Event]] = {
    "id3v2": _id3v2,
    "cue": _cue,
    "scte35": _scte35,
}

_EVENT_TYPES = frozenset({"video", "audio", "event"})


def parse_event(body: dict[str, Any], formats: tuple[str, ...] = ()) -> StreamEvent:
    """A ``sendEvent`` body, checked in OME's order (format, events, then eventType);
    ``formats``: the ``eventFormat`` values the wire accepts (all of them when empty)."""
    event_format, events = body.get("eventFormat"), body.get("events")
    if not isinstance(event_format, str) or not isinstance(events, list) or not events:
        raise msg.EVENT_FORMAT_AND_EVENTS.error()
    parser = EVENT_FORMATS.get(event_format.lower())
    if parser is None or (formats and event_format.lower() not in formats):
        raise msg.EVENT_FORMAT_UNSUPPORTED.error(format=event_format)
    payload = parser(events)
    event_type = "event"
    if "eventType" in body:
        given = body["eventType"]
        if not isinstance(given, str):
            raise msg.EVENT_TYPE_NOT_STRING.error()
        if given.lower() not in _EVENT_TYPES:
            raise msg.EVENT_TYPE_UNSUPPORTED.error(type=given)
        event_type = given.lower()
    return StreamEvent(payload, event_type, json_bool(body.get("urgent")) or False)


def _send(call: Call, path: StreamPath, body: dict[str, Any]) -> None:
    event = parse_event(body, call.services.wire.event_formats)
    with answering(_EVENT, **_fields(path)):
        call.services.engine.send_event(*_names(path), event)


def send_event(call: Call) -> Reply:
    """Inject one event (ID3v2 frames, an HLS cue or a SCTE-35 splice)."""
    path = input_stream(call)
    _send(call, path, action_object(call.body))
    return plain(200)


def send_events(call: Call) -> Reply:
    """Inject several events: a bare array of per-item results (no ``response``)."""
    path = input_stream(call)
    items = call.body
    if not isinstance(items, list) or not items:
        raise msg.EVENTS_REQUIRED.error()
    results: list[ItemResult] = []
    for item in items:
        try:
            _send(call, path, action_object(item))
        except ApiError as exc:
            results.append(ItemResult.failure(exc))
            continue
        results.append(ItemResult(200, "OK"))
    return multi(results)


def conclude_hls_live(call: Call) -> Reply:
    """End the stream's HLS playlists."""
    path = input_stream(call)
    body = action_object(call.body)
    urgent = json_bool(body.get("urgent")) or False
    with answering(_CONCLUDE, **_fields(path)):
        call.services.engine.conclude_hls_live(*_names(path), urgent)
    return plain(200)


# -- subtitles ------------------------------------------------------------------------------

_SUBTITLE_FORMATS = frozenset({"webvtt"})


def _cues(data: list[Any]) -> list[SubtitleCue]:
    """Every cue, each starting where the previous one ended plus its ``startOffset``.

    OME checks while sending, so a bad cue can leave earlier ones sent; here everything is
    checked first and nothing is sent for a bad request.
    """
    cues: list[SubtitleCue] = []
    cursor = 0
    for group in _objects(data):
        label, subtitles = group.get("label"), group.get("subtitles")
        if not isinstance(label, str) or not isinstance(subtitles, list) or not subtitles:
            raise msg.SUBTITLES_LABEL.error()
        for cue in _objects(subtitles):
            text = json_str(cue.get("text"))
            if text is None:
                raise msg.SUBTITLES_TEXT.error()
            start = cursor + (json_int(cue.get("startOffset"), INT64) or 0)
            duration = json_int(cue.get("durationMs"), UINT32)
            duration = 1000 if duration is None else duration
            cues.append(
                SubtitleCue(label, text, start, duration, json_str(cue.get("settings")) or "")
            )
            cursor = start + duration
    return cues


def send_subtitles(call: Call) -> Reply:
    """Send WebVTT cues."""
    path = input_stream(call)
    body = action_object(call.body)
    subtitle_format, data = body.get("format"), body.get("data")
    if not isinstance(subtitle_format, str) or not isinstance(data, list) or not data:
        raise msg.SUBTITLES_FORMAT_AND_DATA.error()
    if subtitle_format.lower() not in _SUBTITLE_FORMATS:
        raise msg.SUBTITLES_FORMAT_UNSUPPORTED.error(format=subtitle_format)
    cues = _cues(data)
    with answering(_SUBTITLES, **_fields(path)):
        call.services.engine.send_subtitles(*_names(path), cues)
    return plain(200)


# -- speech to text (OME 0.21) --------------------------------------------------------------


_STT: Outcomes = {
    EngineResult.NOT_EXISTS: msg.STT_NO_ENCODER,
    EngineResult.UNAVAILABLE: msg.STT_NO_TRANSCODER,
}


def _stt_call(call: Call, name: str) -> Any:
    """The engine's STT method ``name``; an engine without one answers as OME does
    without a transcoder (503)."""
    method = getattr(call.services.engine, name, None)
    if method is None:
        raise msg.STT_NO_TRANSCODER.error()
    return method


def _switch_stt(call: Call, name: str, enabled: bool) -> Reply:
    path = input_stream(call)
    method = _stt_call(call, name)
    with answering(_STT, **_fields(path)):
        method(*_names(path))
    return ok({"enabled": enabled})


def enable_stt(call: Call) -> Reply:
    """Resume the stream's speech-to-text encoders: ``{"enabled": true}``."""
    return _switch_stt(call, "enable_stt", True)


def disable_stt(call: Call) -> Reply:
    """Pause the stream's speech-to-text encoders: ``{"enabled": false}``."""
    return _switch_stt(call, "disable_stt", False)


def stt_status(call: Call) -> Reply:
    """``{"enabled", "renditions": [{"codec", …}]}``."""
    path = input_stream(call)
    method = _stt_call(call, "stt_status")
    with answering(_STT, **_fields(path)):
        status = method(*_names(path))
    return ok(status.to_json())
