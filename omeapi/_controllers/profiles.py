"""``…/apps/{app}/outputProfiles`` and ``…/outputProfiles/{profile}``.

Every change goes through the restart coordinator: the app restarts with its new profile
list (and does not when nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from omeapi import _messages as msg
from omeapi._config import ApplicationConfig, OutputProfileConfig, application_from_json
from omeapi._controllers.apps import APP_CHANGE
from omeapi._controllers.call import Call, check_reachable, require_array, require_object
from omeapi._controllers.outcomes import answering
from omeapi._errors import ApiError, ConfigError
from omeapi._wire.envelope import ItemResult, Reply, dumps, multi, ok_raw, plain
from omeapi._wire.etag import check_if_match, etag_of_json, with_etag

if TYPE_CHECKING:
    from omeapi._state.registry import AppEntry, VhostEntry

__all__ = [
    "create_profiles",
    "delete_profile",
    "get_profile",
    "list_profiles",
    "patch_profile",
    "validate_profile",
]

Profiles = list[dict[str, Any]]


def list_profiles(call: Call) -> Reply:
    _, app = call.app()
    return ok_raw(dumps([p.name for p in app.config.output_profiles]))


def _profile(call: Call, vhost: VhostEntry, app: AppEntry) -> OutputProfileConfig:
    name = call.params["profile"]
    profile = app.config.profile(name)
    if profile is None:
        raise _not_found(vhost.name, app.name, name)
    return profile


def _not_found(vhost: str, app: str, profile: str) -> ApiError:
    return msg.PROFILE_NOT_FOUND.error(vhost=vhost, app=app, profile=profile)


def _index(profiles: Profiles, vhost: str, app: str, name: str) -> int:
    """Where profile ``name`` is (it may have gone since the request was routed)."""
    for index, profile in enumerate(profiles):
        if isinstance(profile, dict) and profile.get("name") == name:
            return index
    raise _not_found(vhost, app, name)


def _etag(profile: OutputProfileConfig | None) -> str | None:
    return None if profile is None else etag_of_json(profile.to_json())


def get_profile(call: Call) -> Reply:
    vhost, app = call.app()
    profile = _profile(call, vhost, app)
    reply = ok_raw(dumps(call.services.wire.profile_out(profile.to_json())))
    return with_etag(reply, _etag(profile) or "")


def validate_profile(item: Any) -> dict[str, Any]:
    """OME's checks on a POSTed profile, in its order (each aborts the request)."""
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise msg.ITEMS_MUST_BE_OBJECTS.error()
    if not all(key in item for key in ("name", "outputStreamName", "encodes")):
        raise msg.PROFILE_REQUIRED.error()
    encodes = item["encodes"]
    if not (
        isinstance(item["name"], str)
        and isinstance(item["outputStreamName"], str)
        and isinstance(encodes, dict)
    ):
        raise msg.PROFILE_TYPES.error()
    check_reachable("output profile", item["name"])
    if "videos" not in encodes and "audios" not in encodes:
        raise msg.PROFILE_NO_ENCODES.error()
    videos, audios = encodes.get("videos", []), encodes.get("audios", [])
    if not isinstance(videos, list):
        raise msg.PROFILE_VIDEOS_ARRAY.error()
    if not isinstance(audios, list):
        raise msg.PROFILE_AUDIOS_ARRAY.error()
    if len(videos) + len(audios) == 0:
        raise msg.PROFILE_EMPTY_ENCODES.error()
    return item


def _profiles_of(app_json: dict[str, Any]) -> Profiles:
    holder = app_json.setdefault("outputProfiles", {})
    if not isinstance(holder, dict):
        holder = app_json["outputProfiles"] = {}
    profiles = holder.setdefault("outputProfile", [])
    return profiles if isinstance(profiles, list) else []


def _edited(
    current: ApplicationConfig, edit: Callable[[Profiles], bool], environ: Mapping[str, str]
) -> ApplicationConfig:
    """The app with its profile list edited (``edit`` says whether it changed anything),
    parsed again through the schema."""
    app_json = current.to_json()
    if not edit(_profiles_of(app_json)):
        return current
    try:
        return application_from_json(app_json, environ=environ)
    except ConfigError as exc:
        # OME reports these through an HTTP error: `[HTTP] [Config] … (400)`.
        raise ApiError(400, exc.message) from None


def _in(translate: Callable[[Any], Any], item: dict[str, Any]) -> dict[str, Any]:
    """A profile in the tree's names; a name the wire's version lacks is OME's 400."""
    try:
        out: dict[str, Any] = translate(item)
    except ConfigError as exc:
        raise ApiError(400, exc.message) from None
    return out


def create_profiles(call: Call) -> Reply:
    vhost, app = call.app()
    call.writable(vhost)
    wire = call.services.wire
    items = [_in(wire.profile_in, validate_profile(item)) for item in require_array(call.body)]
    outcome: list[str | ItemResult] = []

    def append(profiles: Profiles) -> bool:
        outcome.clear()
        taken = {p.get("name") for p in profiles if isinstance(p, dict)}
        for item in items:
            name = item["name"]
            if name in taken:
                outcome.append(ItemResult.failure(msg.PROFILE_EXISTS.error(name=name)))
                continue
            taken.add(name)
            profiles.append(item)
            outcome.append(name)
        # Every item refused: nothing changed, so nothing restarts.
        return any(isinstance(result, str) for result in outcome)

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        return _edited(current, append, call.services.config.environ)

    with answering(APP_CHANGE, vhost=vhost.name, app=app.name):
        entry = call.services.coordinator.change_app(vhost.name, app.name, mutate, call.cause)
    results: list[ItemResult] = []
    for result in outcome:
        if isinstance(result, ItemResult):
            results.append(result)
            continue
        stored = entry.config.profile(result)
        results.append(
            ItemResult.success(wire.profile_out(stored.to_json()))
            if stored is not None
            else ItemResult.failure(msg.PROFILE_NOT_FOUND_AFTER.error())
        )
    return multi(results)


def patch_profile(call: Call) -> Reply:
    vhost, app = call.app()
    call.writable(vhost)
    body = require_object(call.body)
    name = _profile(call, vhost, app).name
    for key in body:
        if key.lower() == "name":
            raise msg.PROFILE_NAME_IN_PATCH.error(key=key)
    body = _in(call.services.wire.profile_in, body)

    def replace(profiles: Profiles) -> bool:
        profiles[_index(profiles, vhost.name, app.name, name)] = {**body, "name": name}
        return True

    if_match = call.request.headers.get("if-match")

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        check_if_match(if_match, _etag(current.profile(name)))
        return _edited(current, replace, call.services.config.environ)

    with answering(APP_CHANGE, vhost=vhost.name, app=app.name):
        entry = call.services.coordinator.change_app(vhost.name, app.name, mutate, call.cause)
    stored = entry.config.profile(name)
    if stored is None:  # OME answers 200 with `null` here; never us
        raise _not_found(vhost.name, app.name, name)
    reply = ok_raw(dumps(call.services.wire.profile_out(stored.to_json())))
    return with_etag(reply, _etag(stored) or "")


def delete_profile(call: Call) -> Reply:
    vhost, app = call.app()
    call.writable(vhost)
    name = _profile(call, vhost, app).name

    def remove(profiles: Profiles) -> bool:
        del profiles[_index(profiles, vhost.name, app.name, name)]
        return True

    if_match = call.request.headers.get("if-match")

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        check_if_match(if_match, _etag(current.profile(name)))
        return _edited(current, remove, call.services.config.environ)

    with answering(APP_CHANGE, vhost=vhost.name, app=app.name):
        call.services.coordinator.change_app(vhost.name, app.name, mutate, call.cause)
    return plain(200)
