"""``/v1/vhosts/{vhost}/apps`` and ``…/apps/{app}``."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from omeapi import _messages as msg
from omeapi._config import ApplicationConfig, application_from_json
from omeapi._controllers.call import Call, check_reachable, require_array, require_object
from omeapi._controllers.outcomes import Outcomes, answer, answering
from omeapi._errors import ApiError, AppOperationError, EngineResult
from omeapi._wire.envelope import ItemResult, Reply, multi, ok, ok_raw, plain
from omeapi._wire.etag import check_if_match, etag_of_json, with_etag

if TYPE_CHECKING:
    from omeapi._state.registry import AppEntry

__all__ = [
    "APP_CHANGE",
    "APP_DEFAULTS",
    "app_etag",
    "create_apps",
    "deep_merge",
    "delete_app",
    "get_app",
    "get_app_raw",
    "list_apps",
    "patch_app",
]

#: What OME fills into a POSTed app for each missing key.
APP_DEFAULTS: dict[str, Any] = {
    "providers": {"ovt": {}, "rtspPull": {}, "webrtc": {}, "srt": {}, "rtmp": {}},
    "publishers": {"llhls": {}, "webrtc": {}, "ovt": {}},
    "outputProfiles": {
        "outputProfile": [
            {
                "name": "default",
                "outputStreamName": "${OriginStreamName}",
                "encodes": {
                    "videos": [{"name": "bypass_video", "bypass": True}],
                    "audios": [
                        {
                            "name": codec,
                            "codec": codec,
                            "bitrate": 128000,
                            "samplerate": 48000,
                            "channel": 2,
                            "bypassIfMatch": {"codec": "eq"},
                        }
                        for codec in ("opus", "aac")
                    ],
                },
            }
        ]
    },
}

# OME's orchestrator answers; a change restarts the app, so it fails as a create.
APP_CHANGE: Outcomes = {
    EngineResult.FAILED: msg.APP_CREATE_FAILED,
    EngineResult.EXISTS: msg.APP_CREATE_EXISTS,
    EngineResult.NOT_EXISTS: msg.APP_CREATE_NOT_EXISTS,
}
_DELETE: Outcomes = {
    EngineResult.FAILED: msg.APP_DELETE_FAILED,
    EngineResult.EXISTS: msg.APP_DELETE_EXISTS,
    EngineResult.NOT_EXISTS: msg.APP_DELETE_NOT_EXISTS,
}

#: Keys a PATCH may not touch, checked in this order.
FORBIDDEN_PATCH_KEYS = ("name", "dynamic", "outputProfiles")


def list_apps(call: Call) -> Reply:
    return ok_raw(call.vhost().app_names_bytes())


def _app_bytes(call: Call, entry: AppEntry) -> bytes:
    """The app's answer in the wire's names."""
    return call.services.wire.json_bytes(entry.api_json_bytes(), entry.api_json(), "app_out")


def app_etag(config: ApplicationConfig) -> str:
    """The app's entity tag (omeapi extension): a digest of its stored JSON."""
    return etag_of_json(config.json_value)


def get_app(call: Call) -> Reply:
    entry = call.app()[1]
    return with_etag(ok_raw(_app_bytes(call, entry)), app_etag(entry.config))


def get_app_raw(call: Call) -> Reply:
    """OME's undocumented ``GET …/apps/{app}:``: the config without ``dynamic``."""
    return ok(call.services.wire.app_out(call.app()[1].config.to_json()))


def _with_defaults(item: Any) -> dict[str, Any]:
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise msg.ITEMS_MUST_BE_OBJECTS.error()
    filled = dict(item)
    for key, default in APP_DEFAULTS.items():
        if key not in filled:
            filled[key] = copy.deepcopy(default)
    return filled


def create_apps(call: Call) -> Reply:
    """Create apps one by one; a config error stops the request (earlier ones stay)."""
    vhost = call.vhost()
    call.writable(vhost)
    wire = call.services.wire
    results: list[ItemResult] = []
    for item in require_array(call.body):
        app = application_from_json(
            wire.app_in(_with_defaults(item)), environ=call.services.config.environ
        )
        try:
            check_reachable("application", app.name)
            entry = call.services.coordinator.create_app(vhost.name, app)
        except AppOperationError as exc:
            failure = answer(APP_CHANGE, exc, vhost=vhost.name, app=app.name)
            results.append(ItemResult.failure(failure))
        except ApiError as exc:
            results.append(ItemResult.failure(exc))
        else:
            results.append(ItemResult.success(wire.app_out(entry.api_json())))
    return multi(results)


def deep_merge(base: Any, patch: Any) -> Any:
    """Objects merge recursively; arrays, scalars and nulls replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return patch


def patch_app(call: Call) -> Reply:
    vhost, app = call.app()
    call.writable(vhost)
    body = require_object(call.body)
    for key in FORBIDDEN_PATCH_KEYS:
        if key in body:
            raise msg.CANNOT_CHANGE.error(key=key)
    body = call.services.wire.app_in(body)
    if_match = call.request.headers.get("if-match")

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        # Checked on the config the change is made to (under the app's lock).
        check_if_match(if_match, app_etag(current))
        # deep_merge builds new objects along the patch: the shared value is only read.
        merged = deep_merge(current.json_value, body)
        if merged == current.json_value:
            return current  # a patch that alters nothing: parsing it again gives the same
        return application_from_json(merged, environ=call.services.config.environ, previous=current)

    with answering(APP_CHANGE, vhost=vhost.name, app=app.name):
        entry = call.services.coordinator.change_app(vhost.name, app.name, mutate, call.cause)
    return with_etag(ok_raw(_app_bytes(call, entry)), app_etag(entry.config))


def delete_app(call: Call) -> Reply:
    vhost, app = call.app()
    call.writable(vhost)
    check_if_match(call.request.headers.get("if-match"), app_etag(app.config))
    with answering(_DELETE, vhost=vhost.name, app=app.name):
        call.services.coordinator.delete_app(vhost.name, app.name)
    return plain(200)
