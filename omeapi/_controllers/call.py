"""What every controller shares: the call context, lookups and body-shape checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omeapi import _messages as msg
from omeapi._access.tokens import ADMIN, Identity
from omeapi._wire.request import ApiRequest

if TYPE_CHECKING:
    from omeapi._services import Services
    from omeapi._state.registry import AppEntry, Snapshot, VhostEntry

__all__ = ["MAX_ITEMS", "Call", "check_reachable", "require_array", "require_object"]


class Call:
    """One routed request: the services, the request, path parameters and the parsed body.

    The registry snapshot is taken once, so every lookup of a call sees the same state.
    """

    __slots__ = ("body", "identity", "params", "request", "services", "snapshot")

    def __init__(
        self,
        services: Services,
        request: ApiRequest,
        params: dict[str, str],
        body: Any = None,
        identity: Identity = ADMIN,
    ) -> None:
        self.identity = identity
        self.services = services
        self.request = request
        self.params = params
        self.body = body
        self.snapshot: Snapshot = services.registry.snapshot

    def vhost(self) -> VhostEntry:
        """The path's vhost, or OME's 404."""
        name = self.params["vhost"]
        entry = self.snapshot.vhosts.get(name)
        if entry is None:
            raise msg.VHOST_NOT_FOUND.error(vhost=name)
        return entry

    def app(self) -> tuple[VhostEntry, AppEntry]:
        """The path's vhost and app, or OME's 404s (vhost first)."""
        vhost = self.vhost()
        name = self.params["app"]
        entry = vhost.apps.get(name)
        if entry is None:
            raise msg.APP_NOT_FOUND.error(vhost=vhost.name, app=name)
        return vhost, entry

    def writable(self, vhost: VhostEntry) -> None:
        """Refuse changes to a vhost declared in Server.xml (and to everything in it)."""
        if vhost.read_only:
            raise msg.READ_ONLY.error(vhost=vhost.name)

    @property
    def cause(self) -> str:
        """``METHOD path``, naming the request in events and logs."""
        return f"{self.request.method} {self.request.path}"


#: Most items one multi-item request may carry: each is its own change (and its own entry
#: in the answer), so a body of 300,000 tiny items would cost seconds and megabytes.
MAX_ITEMS = 1000


def require_array(body: Any) -> list[Any]:
    """The body as a list of at most :data:`MAX_ITEMS` items, or OME's 400."""
    if not isinstance(body, list):
        raise msg.BODY_MUST_BE_ARRAY.error()
    if len(body) > MAX_ITEMS:
        raise msg.TOO_MANY_ITEMS.error(count=len(body), limit=MAX_ITEMS)
    return body


#: resource → the characters its name cannot hold: no route could reach it.  A ``/`` ends
#: every path segment; an app segment also ends at ``:``, where action suffixes such as
#: ``:startPush`` begin (vhost, profile and stream segments take a ``:``).
_PATH_CHARACTERS = {
    "virtual host": "/",
    "application": "/:",
    "output profile": "/",
    "stream": "/",
}


def check_reachable(kind: str, name: str) -> None:
    """Refuse to create a ``kind`` whose ``name`` no path could reach (400)."""
    characters = _PATH_CHARACTERS[kind]
    if any(c in name for c in characters):
        quoted = " or ".join(f"'{c}'" for c in characters)
        raise msg.UNREACHABLE_NAME.error(kind=kind, name=name, characters=quoted)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise msg.BODY_MUST_BE_OBJECT.error()
    return body
