"""The resource registry: which vhosts, apps and output profiles exist, and their configs.

State is an immutable :class:`Snapshot` replaced as a whole on every change, so a reader
(any thread) sees either the state before a change or the state after it, never a half-made
one.  Writers are serialised by a lock; the restart coordinator decides their order.  A
:class:`~omeapi.store.Store` receives every change to API-created resources.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from omeapi.config import ApplicationConfig, VirtualHostConfig
from omeapi.envelope import dumps
from omeapi.store import MemoryStore, Store

__all__ = ["AppEntry", "Registry", "Snapshot", "VhostEntry"]


class AppEntry:
    """An application as the API shows it. ``failed`` marks an app that could not be
    restarted with either its new or its previous config (kept, never silently gone)."""

    __slots__ = ("_json", "config", "dynamic", "failed")

    def __init__(
        self, config: ApplicationConfig, *, dynamic: bool = False, failed: bool = False
    ) -> None:
        self.config = config
        self.dynamic = dynamic
        self.failed = failed
        self._json: bytes | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def api_json(self) -> dict[str, object]:
        """The app's JSON with OME's ``dynamic`` flag."""
        out = self.config.to_json()
        out["dynamic"] = self.dynamic
        return out

    def api_json_bytes(self) -> bytes:
        """:meth:`api_json` serialised once (entries never change; a change is a new entry)."""
        cached = self._json
        if cached is None:
            cached = self._json = dumps(self.api_json())
        return cached


class VhostEntry:
    """A virtual host, its apps in order, and whether it came from Server.xml."""

    __slots__ = ("_json", "_names", "apps", "config")

    def __init__(self, config: VirtualHostConfig, apps: Mapping[str, AppEntry]) -> None:
        self.config = config
        self.apps = apps
        self._json: bytes | None = None
        self._names: bytes | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def read_only(self) -> bool:
        return self.config.read_only

    def json_bytes(self) -> bytes:
        """The vhost's JSON (without applications), serialised once."""
        if self._json is None:
            self._json = dumps(self.config.to_json())
        return self._json

    def app_names_bytes(self) -> bytes:
        """The JSON array of app names, serialised once."""
        if self._names is None:
            self._names = dumps(list(self.apps))
        return self._names

    def with_apps(self, apps: Mapping[str, AppEntry]) -> VhostEntry:
        return VhostEntry(self.config, apps)


class Snapshot:
    """The whole registry at one moment (never modified)."""

    __slots__ = ("_names", "vhosts")

    def __init__(self, vhosts: Mapping[str, VhostEntry]) -> None:
        self.vhosts = vhosts
        self._names: bytes | None = None

    def names_bytes(self) -> bytes:
        """The JSON array of vhost names, serialised once."""
        if self._names is None:
            self._names = dumps(list(self.vhosts))
        return self._names


class Registry:
    """Owner of config state; see the module docstring for the consistency rules."""

    def __init__(
        self, vhosts: Iterable[VirtualHostConfig] = (), *, store: Store | None = None
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self._lock = threading.Lock()
        entries: dict[str, VhostEntry] = {}
        for vhost in vhosts:
            entries[vhost.name] = VhostEntry(
                vhost, {app.name: AppEntry(app) for app in vhost.applications}
            )
        self._snapshot = Snapshot(entries)

    @property
    def snapshot(self) -> Snapshot:
        """The current state (a consistent, immutable view)."""
        return self._snapshot

    def vhost(self, name: str) -> VhostEntry | None:
        return self._snapshot.vhosts.get(name)

    def app(self, vhost: str, app: str) -> AppEntry | None:
        entry = self._snapshot.vhosts.get(vhost)
        return None if entry is None else entry.apps.get(app)

    # -- writers (called by the restart coordinator) --------------------------------

    def add_vhost(self, vhost: VirtualHostConfig, apps: Iterable[ApplicationConfig]) -> bool:
        """Add a vhost; False when the name is taken."""
        with self._lock:
            current = self._snapshot.vhosts
            if vhost.name in current:
                return False
            entry = VhostEntry(vhost, {a.name: AppEntry(a) for a in apps})
            self._publish({**current, vhost.name: entry})
            if not vhost.read_only:
                self.store.put_vhost(vhost.name, vhost.to_json())
                for app in entry.apps.values():
                    self.store.put_app(vhost.name, app.name, app.config.to_json())
            return True

    def remove_vhost(self, name: str) -> None:
        with self._lock:
            current = dict(self._snapshot.vhosts)
            if current.pop(name, None) is not None:
                self._publish(current)
                self.store.delete_vhost(name)

    def put_app(self, vhost: str, entry: AppEntry) -> None:
        """Add an app, or replace it keeping its place in the order."""
        with self._lock:
            current = self._snapshot.vhosts
            owner = current[vhost]
            apps = dict(owner.apps)
            apps[entry.name] = entry
            self._publish({**current, vhost: owner.with_apps(apps)})
            if not owner.read_only:
                self.store.put_app(vhost, entry.name, entry.config.to_json())

    def remove_app(self, vhost: str, app: str) -> None:
        with self._lock:
            current = self._snapshot.vhosts
            owner = current.get(vhost)
            if owner is None or app not in owner.apps:
                return
            apps = dict(owner.apps)
            del apps[app]
            self._publish({**current, vhost: owner.with_apps(apps)})
            if not owner.read_only:
                self.store.delete_app(vhost, app)

    def _publish(self, vhosts: dict[str, VhostEntry]) -> None:
        # One attribute assignment: readers see the old or the new snapshot, nothing between.
        self._snapshot = Snapshot(vhosts)
