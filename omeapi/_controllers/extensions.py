"""omeapi's extension routes, under ``/x-omeapi/v1/`` (docs/compatibility.md,
"Extensions"): the event feed, and a stream's sessions."""

from __future__ import annotations

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._wire.envelope import Reply

__all__ = ["EXTENSION_PREFIX", "events"]

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
