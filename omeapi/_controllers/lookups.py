"""Lookups shared by the runtime controllers: input streams and enabled publishers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._engine.features import publisher
from omeapi._errors import ApiError, Message

__all__ = ["StreamPath", "input_stream", "require_publisher", "stream_not_found"]

if TYPE_CHECKING:
    from omeapi._state.registry import AppEntry, VhostEntry

    StreamPath = tuple[VhostEntry, AppEntry, str]


def stream_not_found(vhost: str, app: str, stream: str) -> ApiError:
    """OME's stream 404, naming the app by its internal ``#vhost#app`` name."""
    internal = "#{}#{}".format(vhost.replace("#", "_"), app.replace("#", "_"))
    return msg.STREAM_NOT_FOUND.error(vhost=vhost, internal=internal, stream=stream)


def input_stream(call: Call) -> StreamPath:
    """The path's vhost, app and input stream, or OME's 404s (vhost, app, then stream)."""
    vhost, app = call.app()
    name = call.params["stream"]
    if name not in call.services.engine.list_streams(vhost.name, app.name):
        raise stream_not_found(vhost.name, app.name, name)
    return vhost, app, name


def require_publisher(
    call: Call, names: tuple[str, ...], message: Message
) -> tuple[VhostEntry, AppEntry]:
    """The path's vhost and app, if its config has one of the publishers ``names``.

    OME answers ``Could not find publisher`` / ``Could not find application`` here, which
    reads as if the app were missing; omeapi keeps the 404 and says the publisher is off.
    """
    vhost, app = call.app()
    if not any(publisher(app.config, name) is not None for name in names):
        raise message.error(vhost=vhost.name, app=app.name)
    return vhost, app
