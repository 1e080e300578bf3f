"""``…/apps/{app}/streams`` and ``…/streams/{stream}``: list, pull, detail, terminate."""

from __future__ import annotations

import re
from typing import Any

from omeapi import _messages as msg
from omeapi._config.ome_wire import OmeWire, wire_for
from omeapi._controllers.call import Call, check_reachable, require_object
from omeapi._controllers.lookups import input_stream, stream_not_found
from omeapi._controllers.outcomes import Outcomes, answering
from omeapi._engine.values import PullProperties, PullRequest
from omeapi._errors import EngineResult
from omeapi._wire.envelope import Reply, ok, plain
from omeapi._wire.fields import json_bool, json_int

__all__ = [
    "check_pull_urls",
    "create_stream",
    "delete_stream",
    "get_stream",
    "list_streams",
    "pull_properties",
]

_PULL: Outcomes = {
    EngineResult.EXISTS: msg.PULL_EXISTS,
    # the engine does not run the app (or cannot pull at all: NoRuntime)
    EngineResult.NOT_EXISTS: msg.APP_NOT_FOUND,
    EngineResult.FAILED: msg.PULL_FAILED,
}
#: Where the wire separates invalid pull requests (OME 0.21): the engine's reason, a 400.
_PULL_INVALID_IS_400: Outcomes = {**_PULL, EngineResult.INVALID: msg.PULL_INVALID}
_TERMINATE: Outcomes = {
    EngineResult.NOT_EXISTS: msg.TERMINATE_GONE,
    EngineResult.FAILED: msg.TERMINATE_FAILED,
}


def list_streams(call: Call) -> Reply:
    """The app's input streams (outputs such as ``stream_bypass`` are not listed)."""
    vhost, app = call.app()
    return ok(call.services.engine.list_streams(vhost.name, app.name))


def pull_properties(raw: Any, wire: OmeWire | None = None) -> PullProperties:
    """``properties`` of a pull request: each key used only with the right JSON type;
    ``wire`` gives the retry default and whether ``relay`` is read (default: 0.20's)."""
    if not isinstance(raw, dict):
        # Absent: the config decides, including the retry count (-1).
        return PullProperties()
    if wire is None:
        wire = wire_for("0.20")
    retry = json_int(raw.get("retryCount"))
    return PullProperties(
        persistent=json_bool(raw.get("persistent")),
        no_input_failover_timeout_ms=json_int(raw.get("noInputFailoverTimeoutMs")),
        unused_stream_deletion_timeout_ms=json_int(raw.get("unusedStreamDeletionTimeoutMs")),
        ignore_rtcp_sr_timestamp=json_bool(raw.get("ignoreRtcpSRTimestamp")),
        retry_count=wire.pull_retry_default if retry is None else retry,
        relay=json_bool(raw.get("relay")) if wire.pull_relay else None,
    )


#: What OME's URL parser needs of a pull URL (an unanchored search): a ``://``, the
#: scheme being what comes before it (greedy, within one line).
_URL_SCHEME = re.compile(r"(.*)://")


def check_pull_urls(urls: list[str]) -> None:
    """OME 0.21's check of a pull request's URL list, URL by URL: each must parse (have a
    ``://``) and have the first one's scheme (ASCII case-insensitive); a 400 otherwise."""
    first: str | None = None
    for url in urls:
        found = _URL_SCHEME.search(url)
        if found is None:
            raise msg.PULL_INVALID_URL.error(url=url)
        scheme = "".join(c.lower() if c.isascii() else c for c in found.group(1))
        if first is None:
            first = scheme
        elif scheme != first:
            raise msg.PULL_MIXED_SCHEMES.error()


def create_stream(call: Call) -> Reply:
    """Create a stream by pulling a URL: 201, 409 for a taken name, 502 if the pull fails
    (where the wire says so, a 400 for an invalid URL list)."""
    vhost, app = call.app()
    body = require_object(call.body)
    name, urls = body.get("name"), body.get("urls")
    # An empty name would make a stream no path can reach: treated as missing.
    if not isinstance(name, str) or not name or not isinstance(urls, list):
        raise msg.PULL_NAME_OR_URLS.error()
    if not urls:
        raise msg.PULL_URLS_EMPTY.error()
    if not all(isinstance(url, str) for url in urls):
        raise msg.PULL_URL_NOT_STRING.error()
    check_reachable("stream", name)
    engine = call.services.engine
    if name in engine.list_streams(vhost.name, app.name):
        raise msg.PULL_EXISTS.error()
    wire = call.services.wire
    outcomes = _PULL
    if wire.pull_invalid_is_400:
        check_pull_urls(urls)
        outcomes = _PULL_INVALID_IS_400
    request = PullRequest(name, tuple(urls), pull_properties(body.get("properties"), wire))
    # OME names the API request's own URL here, not the source.
    url = call.request.url
    with answering(outcomes, url=url, vhost=vhost.name, app=app.name):
        engine.create_pull_stream(vhost.name, app.name, request)
    if name not in engine.list_streams(vhost.name, app.name):
        raise msg.PULL_FAILED.error(url=url)
    return plain(201)


def get_stream(call: Call) -> Reply:
    """The stream detail: input tracks, outputs and their playlists."""
    vhost, app, name = input_stream(call)
    info = call.services.engine.get_stream(vhost.name, app.name, name)
    if info is None:
        raise stream_not_found(vhost.name, app.name, name)
    return ok(info.to_json(call.services.wire.fields))


def delete_stream(call: Call) -> Reply:
    """Terminate an input stream (no read-only rule: streams are runtime state)."""
    vhost, app, name = input_stream(call)
    with answering(_TERMINATE):
        call.services.engine.delete_stream(vhost.name, app.name, name)
    return plain(200)
