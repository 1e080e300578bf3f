"""``/v1/vhosts`` and ``/v1/vhosts/{vhost}``."""

from __future__ import annotations

from omeapi import _messages as msg
from omeapi._config import virtual_host_from_json
from omeapi._controllers.call import Call, require_array
from omeapi._engine.protocol import EngineError, EngineResult
from omeapi._errors import ApiError, ConfigError
from omeapi._wire.envelope import ItemResult, Reply, multi, ok_raw, plain

__all__ = ["create_vhosts", "delete_vhost", "get_vhost", "list_vhosts"]


def list_vhosts(call: Call) -> Reply:
    """Names in config order, then creation order."""
    return ok_raw(call.snapshot.names_bytes())


def get_vhost(call: Call) -> Reply:
    return ok_raw(call.vhost().json_bytes())


def create_vhosts(call: Call) -> Reply:
    """Each item is created on its own; the answer is one entry per item."""
    results: list[ItemResult] = []
    for item in require_array(call.body):
        try:
            vhost = virtual_host_from_json(item, environ=call.api.config.environ)
        except ConfigError as exc:
            results.append(ItemResult.failure(exc))
            continue
        try:
            created = call.api.coordinator.create_vhost(vhost)
        except EngineError:
            results.append(ItemResult(400, msg.VHOST_CREATE_FAILED.format(vhost=vhost.name)))
            continue
        if not created:
            results.append(ItemResult(409, msg.VHOST_EXISTS.format(vhost=vhost.name)))
        else:
            results.append(ItemResult.success(vhost.to_json()))
    return multi(results)


def delete_vhost(call: Call) -> Reply:
    vhost = call.vhost()
    call.writable(vhost)
    try:
        call.api.coordinator.delete_vhost(vhost.name)
    except EngineError as exc:
        if exc.result is EngineResult.NOT_EXISTS:
            raise ApiError(404, msg.VHOST_NOT_EXISTS.format(vhost=vhost.name)) from None
        raise ApiError(500, msg.VHOST_DELETE_FAILED.format(vhost=vhost.name)) from None
    return plain(200)
