"""``…/apps/{app}/scheduledChannels[/{stream}]`` and ``…/multiplexChannels[/{stream}]``.

A channel is a file in the directory the app's provider config names (relative paths are
resolved against the Server.xml's directory) and a stream the engine runs.  No read-only rule
applies (OME's: channels are runtime state).  An app without the provider answers OME's bare
``403 Forbidden``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._controllers.lookups import input_stream
from omeapi._controllers.outcomes import Outcomes, answering
from omeapi._engine.channels import (
    MULTIPLEX_SUFFIX,
    SCHEDULE_SUFFIX,
    channel_file,
    check_channel_name,
    parse_multiplex,
    parse_schedule,
)
from omeapi._engine.features import channel_dir
from omeapi._engine.protocol import MediaEngine
from omeapi._errors import EngineResult, Message, PlainStatusError
from omeapi._wire.envelope import Reply, ok, plain

if TYPE_CHECKING:
    from omeapi._state.registry import AppEntry

D = TypeVar("D")

_UPDATE_SCHEDULED: Outcomes = {
    EngineResult.NOT_EXISTS: msg.SCH_NO_SCHEDULE,
    EngineResult.FAILED: msg.SCH_SAVE_FAILED,
}
_DELETE_SCHEDULED: Outcomes = {
    EngineResult.NOT_EXISTS: msg.SCH_NOT_SCHEDULED,
    EngineResult.FAILED: msg.SCH_DELETE_FAILED,
}
_DELETE_MULTIPLEX: Outcomes = {
    EngineResult.NOT_EXISTS: msg.MUX_STREAM_NOT_FOUND,
    EngineResult.FAILED: msg.MUX_DELETE_FAILED,
}

__all__ = [
    "create_multiplex",
    "create_scheduled",
    "delete_multiplex",
    "delete_scheduled",
    "get_multiplex",
    "get_scheduled",
    "list_multiplex",
    "list_scheduled",
    "patch_scheduled",
]

#: Keys of a schedule a PATCH may replace.
SCHEDULE_PATCH_KEYS = ("fallbackProgram", "programs")


def _directory(call: Call, app: AppEntry, kind: str) -> str | None:
    return channel_dir(app.config, kind, call.services.config.config_dir)


def _enabled_directory(call: Call, app: AppEntry, kind: str) -> str:
    directory = _directory(call, app, kind)
    if directory is None:
        raise PlainStatusError(403)
    return directory


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise msg.INVALID_REQUEST_BODY.error()
    return body


# -- scheduled channels ------------------------------------------------------------------------


def list_scheduled(call: Call) -> Reply:
    """The app's input streams that are scheduled channels."""
    vhost, app = call.app()
    return ok(call.services.engine.list_scheduled_channels(vhost.name, app.name))


def _create_channel(
    call: Call,
    provider: str,
    suffix: str,
    parse: Callable[[dict[str, Any]], D],
    name_of: Callable[[D], str],
    create: Callable[[MediaEngine], Callable[[str, str, str, D], None]],
    save_failed: Message,
) -> Reply:
    """Write ``<name><suffix>`` in the provider's directory and start the channel: 201.

    Scheduled and multiplex channels differ only in their parser, file and engine call.
    """
    vhost, app = call.app()
    body = _object_body(call.body)
    directory = _enabled_directory(call, app, provider)
    document = parse(body)
    name = name_of(document)
    check_channel_name(name)
    engine = call.services.engine
    if name in engine.list_streams(vhost.name, app.name):
        raise msg.CHANNEL_EXISTS.error(name=name)
    path = channel_file(directory, name, suffix)
    outcomes = {
        EngineResult.EXISTS: msg.CHANNEL_EXISTS,
        EngineResult.NOT_EXISTS: msg.APP_NOT_FOUND,  # the engine does not run the app
        EngineResult.FAILED: save_failed,
    }
    with answering(outcomes, name=name, path=path, vhost=vhost.name, app=app.name):
        create(engine)(vhost.name, app.name, path, document)
    return plain(201)


def create_scheduled(call: Call) -> Reply:
    """Write ``<name>.sch`` and start the channel: 201."""
    return _create_channel(
        call,
        "Schedule",
        SCHEDULE_SUFFIX,
        parse_schedule,
        lambda schedule: schedule.stream.name,
        lambda engine: engine.create_scheduled_channel,
        msg.SCH_SAVE_FAILED,
    )


def get_scheduled(call: Call) -> Reply:
    """The schedule and the program on air.

    OME answers 500 ``Could not get the scheduled stream`` for a stream that is not a
    scheduled channel; that is the client's mistake: 400, as PATCH and DELETE say it.
    """
    vhost, app, name = input_stream(call)
    info = call.services.engine.get_scheduled_channel(vhost.name, app.name, name)
    if info is None:
        raise msg.SCH_NOT_SCHEDULED.error()
    return ok(info.to_json())


def patch_scheduled(call: Call) -> Reply:
    """Replace ``fallbackProgram`` and/or ``programs``: 201 (OME's status)."""
    vhost, app, name = input_stream(call)
    body = _object_body(call.body)
    engine = call.services.engine
    info = engine.get_scheduled_channel(vhost.name, app.name, name)
    if info is None:
        raise msg.SCH_NOT_SCHEDULED.error()
    if "stream" in body:
        raise msg.SCH_STREAM_NOT_PATCHABLE.error()
    directory = _enabled_directory(call, app, "Schedule")
    document = info.schedule.to_json()
    for key in SCHEDULE_PATCH_KEYS:
        if key in body:
            document[key] = body[key]
    schedule = parse_schedule(document)
    path = channel_file(directory, name, SCHEDULE_SUFFIX)
    with answering(_UPDATE_SCHEDULED, path=path):
        engine.update_scheduled_channel(vhost.name, app.name, path, schedule)
    return plain(201)


def delete_scheduled(call: Call) -> Reply:
    """Stop the channel and delete its file."""
    vhost, app, name = input_stream(call)
    engine = call.services.engine
    if engine.get_scheduled_channel(vhost.name, app.name, name) is None:
        raise msg.SCH_NOT_SCHEDULED.error()
    path = channel_file(_enabled_directory(call, app, "Schedule"), name, SCHEDULE_SUFFIX)
    with answering(_DELETE_SCHEDULED, path=path):
        engine.delete_scheduled_channel(vhost.name, app.name, name, path)
    return plain(200)


# -- multiplex channels ------------------------------------------------------------------------


def _multiplex_app(call: Call) -> tuple[str, str, str]:
    """The vhost and app names and the multiplex directory (404 without the provider)."""
    vhost, app = call.app()
    directory = _directory(call, app, "Multiplex")
    if directory is None:
        raise msg.MUX_APPLICATION.error()
    return vhost.name, app.name, directory


def list_multiplex(call: Call) -> Reply:
    """The app's multiplex channels."""
    vhost, app, _ = _multiplex_app(call)
    return ok(call.services.engine.list_multiplex_channels(vhost, app))


def create_multiplex(call: Call) -> Reply:
    """Write ``<name>.mux`` and start the channel: 201."""
    return _create_channel(
        call,
        "Multiplex",
        MULTIPLEX_SUFFIX,
        parse_multiplex,
        lambda multiplex: multiplex.name,
        lambda engine: engine.create_multiplex_channel,
        msg.MUX_SAVE_FAILED,
    )


def _multiplex_name(call: Call) -> tuple[str, str, str, str]:
    """Lookups, then the name (OME: ``Invalid stream name`` for an empty one), then the
    provider."""
    vhost, app = call.app()
    name = call.params["stream"]
    if not name:
        raise msg.INVALID_STREAM_NAME.error()
    directory = _directory(call, app, "Multiplex")
    if directory is None:
        raise msg.MUX_APPLICATION.error()
    return vhost.name, app.name, name, directory


def get_multiplex(call: Call) -> Reply:
    """The multiplex profile and its state."""
    vhost, app, name, _ = _multiplex_name(call)
    info = call.services.engine.get_multiplex_channel(vhost, app, name)
    if info is None:
        raise msg.MUX_STREAM_NOT_FOUND.error(name=name)
    return ok(info.to_json())


def delete_multiplex(call: Call) -> Reply:
    """Stop the channel and delete its file."""
    vhost, app, name, directory = _multiplex_name(call)
    engine = call.services.engine
    if engine.get_multiplex_channel(vhost, app, name) is None:
        raise msg.MUX_STREAM_NOT_FOUND.error(name=name)
    path = channel_file(directory, name, MULTIPLEX_SUFFIX)
    with answering(_DELETE_MULTIPLEX, name=name, path=path):
        engine.delete_multiplex_channel(vhost, app, name, path)
    return plain(200)
