"""Where API-created resources are kept: the store interface and the in-memory store.

The registry calls a store after every change to an API-created vhost or app, so a durable
store can replace :class:`MemoryStore` without touching the handler.  Values are OME's JSON
form of the resource.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

__all__ = ["MemoryStore", "Store", "StoredVhost"]


class StoredVhost:
    """A stored vhost: its JSON and its apps' JSON in order."""

    __slots__ = ("apps", "name", "vhost")

    def __init__(self, name: str, vhost: dict[str, Any], apps: dict[str, dict[str, Any]]) -> None:
        self.name = name
        self.vhost = vhost
        self.apps = apps


@runtime_checkable
class Store(Protocol):
    """Persistence of API-created vhosts and apps."""

    def load(self) -> list[StoredVhost]:
        """Everything stored, vhosts in creation order."""

    def put_vhost(self, name: str, vhost: dict[str, Any]) -> None:
        """Store (or replace) a vhost's own JSON (without its apps)."""

    def delete_vhost(self, name: str) -> None:
        """Forget a vhost and its apps."""

    def put_app(self, vhost: str, name: str, app: dict[str, Any]) -> None:
        """Store (or replace, keeping its place) an app's JSON."""

    def delete_app(self, vhost: str, name: str) -> None:
        """Forget an app."""


class MemoryStore:
    """A store that lives as long as the process (OME's own behaviour)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vhosts: dict[str, StoredVhost] = {}

    def load(self) -> list[StoredVhost]:
        with self._lock:
            return [StoredVhost(v.name, dict(v.vhost), dict(v.apps)) for v in self._vhosts.values()]

    def put_vhost(self, name: str, vhost: dict[str, Any]) -> None:
        with self._lock:
            existing = self._vhosts.get(name)
            self._vhosts[name] = StoredVhost(name, vhost, existing.apps if existing else {})

    def delete_vhost(self, name: str) -> None:
        with self._lock:
            self._vhosts.pop(name, None)

    def put_app(self, vhost: str, name: str, app: dict[str, Any]) -> None:
        with self._lock:
            owner = self._vhosts.get(vhost)
            if owner is not None:
                owner.apps[name] = app

    def delete_app(self, vhost: str, name: str) -> None:
        with self._lock:
            owner = self._vhosts.get(vhost)
            if owner is not None:
                owner.apps.pop(name, None)
