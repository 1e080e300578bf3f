"""``/v1/vhosts`` and ``/v1/vhosts/{vhost}``."""

from __future__ import annotations

import contextlib

from omeapi import _messages as msg
from omeapi._config import VirtualHostConfig, virtual_host_from_json
from omeapi._controllers.call import Call, check_reachable, require_array
from omeapi._controllers.outcomes import Outcomes, answer, answering
from omeapi._errors import ApiError, CertificateError, ConfigError, EngineError, EngineResult
from omeapi._wire.envelope import ItemResult, Reply, multi, ok_raw, plain
from omeapi._wire.etag import check_if_match, etag_of, with_etag

__all__ = ["create_vhosts", "delete_vhost", "get_vhost", "list_vhosts"]

# OME answers a vhost its engine cannot create (or one of its apps) with 400, whatever the
# engine said (inside the item list).
_CREATE: Outcomes = {EngineResult.FAILED: msg.VHOST_CREATE_FAILED}
_DELETE: Outcomes = {
    EngineResult.NOT_EXISTS: msg.VHOST_NOT_EXISTS,
    EngineResult.FAILED: msg.VHOST_DELETE_FAILED,
}


def list_vhosts(call: Call) -> Reply:
    """Names in config order, then creation order."""
    return ok_raw(call.snapshot.names_bytes())


def get_vhost(call: Call) -> Reply:
    vhost = call.vhost()
    wire = call.services.wire
    reply = ok_raw(wire.json_bytes(vhost.json_bytes(), vhost.config.json_value, "vhost_out"))
    return with_etag(reply, etag_of(vhost.json_bytes()))


def _check(call: Call, vhost: VirtualHostConfig) -> None:
    """What a new vhost must pass before the engine sees it: names a route can reach, and
    TLS files that make a certificate (a later certificate reload could not load them)."""
    check_reachable("virtual host", vhost.name)
    for app in vhost.applications:
        check_reachable("application", app.name)
    try:
        call.services.certificates.check_vhost(vhost)
    except CertificateError as exc:
        raise msg.VHOST_TLS_INVALID.error(vhost=vhost.name, detail=str(exc)) from None


def create_vhosts(call: Call) -> Reply:
    """Each item is created on its own; the answer is one entry per item."""
    results: list[ItemResult] = []
    for item in require_array(call.body):
        try:
            vhost = virtual_host_from_json(
                call.services.wire.vhost_in(item), environ=call.services.config.environ
            )
        except ConfigError as exc:
            results.append(ItemResult.failure(exc))
            continue
        if call.services.registry.vhost(vhost.name) is not None:
            # Taken: OME's 409, whatever else is wrong with the item.
            results.append(ItemResult.failure(msg.VHOST_EXISTS.error(vhost=vhost.name)))
            continue
        try:
            _check(call, vhost)
        except ApiError as exc:
            results.append(ItemResult.failure(exc))
            continue
        try:
            created = call.services.coordinator.create_vhost(vhost)
        except EngineError as exc:
            results.append(ItemResult.failure(answer(_CREATE, exc, vhost=vhost.name)))
            continue
        if created:
            # Loaded again now that it is in use: check_vhost only tried its files.
            with contextlib.suppress(CertificateError):
                call.services.certificates.reload_vhost(vhost)
            results.append(ItemResult.success(call.services.wire.vhost_out(vhost.to_json())))
        else:
            results.append(ItemResult.failure(msg.VHOST_EXISTS.error(vhost=vhost.name)))
    return multi(results)


def delete_vhost(call: Call) -> Reply:
    vhost = call.vhost()
    call.writable(vhost)
    # A vhost is never changed in place: its tag moves only when it is created again.
    check_if_match(call.request.headers.get("if-match"), etag_of(vhost.json_bytes()))
    with answering(_DELETE, vhost=vhost.name):
        call.services.coordinator.delete_vhost(vhost.name)
    return plain(200)
