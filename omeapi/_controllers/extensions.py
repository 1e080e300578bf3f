"""omeapi's extension routes, under ``/x-omeapi/v1/`` (docs/compatibility.md,
"Extensions"): the event feed, and a stream's sessions."""

from __future__ import annotations

from typing import Any

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._controllers.lookups import input_stream, stream_not_found
from omeapi._controllers.outcomes import Outcomes, answer, answering
from omeapi._errors import EngineError, EngineResult
from omeapi._wire.envelope import Reply, ok, plain

__all__ = ["EXTENSION_PREFIX", "disconnect_session", "events", "list_sessions"]

#: Where every extension route lives: no OME route can start with it (OME's are all
#: under ``/v1/``, its only version prefix).
EXTENSION_PREFIX = "/x-omeapi/v1"

EVENT_STREAM = "text/event-stream"


def events(call: Call) -> Reply:
    """``GET /x-omeapi/v1/events``: Server-Sent Events (the feed of this process)."""
    feed = call.services.events
    if feed is None:
        raise msg.EVENTS_UNAVAILABLE.error()
    if call.request.method == "HEAD":
        return Reply(200, b"", EVENT_STREAM)
    sub = feed.subscribe(call.request.headers.get("last-event-id"), call.identity)
    return Reply(
        200,
        b"",
        EVENT_STREAM,
        (("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")),
        stream=sub,
    )


# -- sessions ---------------------------------------------------------------------------------


_SESSIONS: Outcomes = {EngineResult.UNAVAILABLE: msg.SESSIONS_NOT_SUPPORTED}
_DISCONNECT: Outcomes = {
    EngineResult.NOT_EXISTS: msg.SESSION_NOT_FOUND,
    EngineResult.UNAVAILABLE: msg.SESSIONS_NOT_SUPPORTED,
}


def _session_call(call: Call, name: str) -> Any:
    """The engine's session method ``name``; an engine without one answers 503."""
    method = getattr(call.services.engine, name, None)
    if method is None:
        raise msg.SESSIONS_NOT_SUPPORTED.error()
    return method


def list_sessions(call: Call) -> Reply:
    """``GET …/streams/{stream}/sessions``: the stream's publisher(s) and viewers."""
    vhost, app, name = input_stream(call)
    method = _session_call(call, "list_sessions")
    try:
        sessions = method(vhost.name, app.name, name)
    except EngineError as exc:
        if exc.result is EngineResult.NOT_EXISTS:  # ended since it was looked up
            raise stream_not_found(vhost.name, app.name, name) from None
        raise answer(_SESSIONS, exc) from None
    return ok([session.to_json() for session in sessions])


def disconnect_session(call: Call) -> Reply:
    """``DELETE …/streams/{stream}/sessions/{session}``: close one session (the
    publisher's ends the stream, as in any media server)."""
    vhost, app, name = input_stream(call)
    session = call.params["session"]
    method = _session_call(call, "disconnect_session")
    where = f"{vhost.name}/{app.name}/{name}/{session}"
    with answering(_DISCONNECT, session=where):
        method(vhost.name, app.name, name, session)
    return plain(200)
