"""``POST …/apps/{app}:startPush|stopPush|pushes`` and ``:startRecord|stopRecord|records``.

Push and record jobs belong to an app; ``stream.name`` names the output stream they take.
Fields of the wrong type are ignored (OME's rule), except ``stream``, which must be an object:
OME answers a 500 there, omeapi a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._controllers.lookups import require_publisher
from omeapi._controllers.outcomes import Outcomes, answering
from omeapi._engine.features import publisher
from omeapi._engine.values import PushRequest, RecordRequest, StreamSelector, record_schedule_fields
from omeapi._errors import EngineResult, Message
from omeapi._wire.envelope import Reply, ok, plain
from omeapi._wire.fields import action_object, json_int, json_str

__all__ = [
    "PUSH_URL_SCHEMES",
    "list_pushes",
    "list_records",
    "start_push",
    "start_record",
    "stop_push",
    "stop_record",
]

#: Publishers that push (``Push``; the older per-protocol names enable it too).
_PUSH_PUBLISHERS = ("Push", "RTMPPush", "SRTPush", "MPEGTSPush")
_FILE_PUBLISHERS = ("FILE",)

# Engine failures OME has no message for (its own publishers cannot fail so) answer 500
# with the engine's reason; a duplicate id is 400 in OME, not 409.
# NOT_EXISTS: the engine does not run the app (or has no such feature: NoRuntime).
_START_PUSH: Outcomes = {
    EngineResult.EXISTS: msg.PUSH_DUPLICATE,
    EngineResult.NOT_EXISTS: msg.APP_NOT_FOUND,
    EngineResult.FAILED: msg.JOB_FAILED,
}
_STOP_PUSH: Outcomes = {
    EngineResult.NOT_EXISTS: msg.PUSH_ID_NOT_FOUND,
    EngineResult.FAILED: msg.JOB_FAILED,
}
_START_RECORD: Outcomes = {
    EngineResult.EXISTS: msg.RECORD_DUPLICATE,
    EngineResult.NOT_EXISTS: msg.APP_NOT_FOUND,
    EngineResult.FAILED: msg.JOB_FAILED,
}
_STOP_RECORD: Outcomes = {
    EngineResult.NOT_EXISTS: msg.RECORD_ID_NOT_FOUND,
    EngineResult.FAILED: msg.JOB_FAILED,
}

#: push protocol → the URL schemes it accepts
PUSH_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "rtmp": ("rtmp", "rtmps"),
    "srt": ("srt",),
    "mpegts": ("udp", "tcp"),
}


def _srt_mode(query: dict[str, list[str]]) -> Message | None:
    modes = query.get("mode", ["caller"])
    return None if modes[-1].lower() == "caller" else msg.PUSH_SRT_MODE


def _tcp_listen(query: dict[str, list[str]]) -> Message | None:
    return msg.PUSH_TCP_LISTEN if "listen" in query else None


#: URL scheme → a check of the URL's query (its error, or None)
_URL_RULES: dict[str, Callable[[dict[str, list[str]]], Message | None]] = {
    "srt": _srt_mode,
    "tcp": _tcp_listen,
}

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s]+)([^?#\s]*)(?:\?([^#\s]*))?(?:#\S*)?")
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?")


def _selector(body: dict[str, Any]) -> StreamSelector:
    raw = body.get("stream")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise msg.STREAM_MUST_BE_OBJECT.error()
    ids = raw.get("trackIds", raw.get("tracks"))
    names = raw.get("variantNames")
    return StreamSelector(
        json_str(raw.get("name")) or "",
        tuple(i for i in (json_int(v) for v in ids) if i is not None)
        if isinstance(ids, list)
        else (),
        tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else (),
    )


def _required(*fields: tuple[str, str]) -> None:
    missing = "".join(f" {name}" for name, value in fields if not value)
    if missing:
        raise msg.REQUIRED_PARAMETERS.error(names=missing)


def _check_push_url(protocol: str, url: str) -> None:
    m = _URL.fullmatch(url)
    host = None if m is None else _HOST_PORT.fullmatch(m.group(2))
    if m is None or host is None or (host.group(1) and not 0 < int(host.group(1)) < 65536):
        raise msg.PUSH_URL_UNPARSABLE.error()
    scheme = m.group(1).lower()
    if scheme not in PUSH_URL_SCHEMES[protocol]:
        raise msg.PUSH_URL_SCHEME.error()
    rule = _URL_RULES.get(scheme)
    problem = rule(parse_qs(m.group(4) or "", keep_blank_values=True)) if rule else None
    if problem:
        raise problem.error()


# -- push -----------------------------------------------------------------------------------


def start_push(call: Call) -> Reply:
    """Start a push job: 200 with the job (``ready``)."""
    vhost, app = call.app()
    body = action_object(call.body)
    protocol = (json_str(body.get("protocol")) or "").strip().lower()
    if protocol not in PUSH_URL_SCHEMES:
        raise msg.PUSH_PROTOCOL_UNKNOWN.error(protocol=protocol, vhost=vhost.name, app=app.name)
    require_publisher(call, _PUSH_PUBLISHERS, msg.PUSH_NOT_ENABLED)
    selector = _selector(body)
    push_id = json_str(body.get("id")) or ""
    url = (json_str(body.get("url")) or "").strip()
    _required(("id", push_id), ("stream.name", selector.name), ("url", url), ("protocol", protocol))
    url = url.rstrip("/")
    _check_push_url(protocol, url)
    request = PushRequest(push_id, selector, protocol, url, json_str(body.get("streamKey")) or "")
    with answering(_START_PUSH, vhost=vhost.name, app=app.name):
        return ok(call.services.engine.start_push(vhost.name, app.name, request).to_json())


def stop_push(call: Call) -> Reply:
    """Stop a push job: a plain 200."""
    vhost, app = require_publisher(call, _PUSH_PUBLISHERS, msg.PUSH_NOT_ENABLED)
    body = action_object(call.body)
    push_id = json_str(body.get("id")) or ""
    _required(("id", push_id))
    with answering(_STOP_PUSH, id=push_id, vhost=vhost.name, app=app.name):
        call.services.engine.stop_push(vhost.name, app.name, push_id)
    return plain(200)


def list_pushes(call: Call) -> Reply:
    """The app's push jobs (POST may filter by ``id``; the deprecated GET lists all).

    An app without the push publisher has no jobs: ``[]``, as a real OME 0.20 answers.
    """
    vhost, app = call.app()
    if not any(publisher(app.config, name) is not None for name in _PUSH_PUBLISHERS):
        return ok([])
    push_id = None
    if call.request.method == "POST":
        push_id = json_str(action_object(call.body).get("id")) or None
    pushes = call.services.engine.list_pushes(vhost.name, app.name, push_id)
    return ok([p.to_json() for p in pushes])


# -- record ---------------------------------------------------------------------------------

_SEGMENTATION_RULES = frozenset({"continuity", "discontinuity"})


def start_record(call: Call) -> Reply:
    """Start a record job: 200 with the job (``ready``)."""
    vhost, app = require_publisher(call, _FILE_PUBLISHERS, msg.FILE_NOT_ENABLED)
    body = action_object(call.body)
    selector = _selector(body)
    record_id = json_str(body.get("id")) or ""
    _required(("id", record_id), ("stream.name", selector.name))
    interval = json_int(body.get("interval")) or 0
    schedule = json_str(body.get("schedule")) or ""
    if interval > 0 and schedule:
        raise msg.RECORD_INTERVAL_AND_SCHEDULE.error()
    if schedule and record_schedule_fields(schedule) is None:
        raise msg.RECORD_SCHEDULE_INVALID.error()
    rule = json_str(body.get("segmentationRule"))
    request = RecordRequest(
        record_id,
        selector,
        file_path=json_str(body.get("filePath")) or "",
        info_path=json_str(body.get("infoPath")) or "",
        interval=max(0, interval),
        schedule=schedule,
        metadata=json_str(body.get("metadata")) or "",
        segmentation_rule=rule if rule in _SEGMENTATION_RULES else "discontinuity",
    )
    with answering(_START_RECORD, vhost=vhost.name, app=app.name):
        return ok(call.services.engine.start_record(vhost.name, app.name, request).to_json())


def stop_record(call: Call) -> Reply:
    """Stop a record job: 200 with the job (``stopping``); OME's docs omit the response."""
    vhost, app = require_publisher(call, _FILE_PUBLISHERS, msg.FILE_NOT_ENABLED)
    body = action_object(call.body)
    record_id = json_str(body.get("id")) or ""
    _required(("id", record_id))
    with answering(_STOP_RECORD, id=record_id):
        info = call.services.engine.stop_record(vhost.name, app.name, record_id)
    return ok(info.to_json())


def list_records(call: Call) -> Reply:
    """The app's record jobs (POST may filter by ``id``; GET lists all)."""
    vhost, app = require_publisher(call, _FILE_PUBLISHERS, msg.FILE_NOT_ENABLED)
    record_id = None
    if call.request.method == "POST":
        record_id = json_str(action_object(call.body).get("id")) or None
    records = call.services.engine.list_records(vhost.name, app.name, record_id)
    return ok([r.to_json() for r in records])
