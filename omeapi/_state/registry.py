"""The resource registry: which vhosts, apps and output profiles exist, and their configs.

State is an immutable :class:`Snapshot` replaced as a whole on every change, so a reader
(any thread) sees either the state before a change or the state after it, never a half-made
one.  Writers are serialised by a lock; the restart coordinator decides their order.

API-created vhosts live in a :class:`~omeapi.Store`: each change is written there
first, as one transaction, and published only once the store holds it.  When other
processes share the store, :meth:`Registry.refresh` reloads it whenever its change counter
moved, so every process answers from the same truth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from omeapi._access.tokens import Identity, token_table
from omeapi._config import (
    ApplicationConfig,
    VirtualHostConfig,
    application_from_json,
    virtual_host_from_json,
)
from omeapi._errors import ConfigError
from omeapi._stores.base import (
    AuditEntry,
    Change,
    Generation,
    Store,
    StoreConflict,
    StoredVhost,
    StoreState,
)
from omeapi._stores.memory import MemoryStore
from omeapi._wire.envelope import dumps

__all__ = ["AppEntry", "Registry", "Snapshot", "VhostEntry", "VhostMap"]

log = logging.getLogger("omeapi")


class AppEntry:
    """An application as the API shows it; ``revision`` is the store version that wrote
    it (0 for Server.xml apps).  Whether it runs is not here: that is this process's
    engine's business, kept by the restart coordinator (``RestartCoordinator.failed``)."""

    __slots__ = ("_json", "config", "dynamic", "revision")

    def __init__(
        self, config: ApplicationConfig, *, dynamic: bool = False, revision: int = 0
    ) -> None:
        self.config = config
        self.dynamic = dynamic
        self.revision = revision
        self._json: bytes | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def api_json(self) -> dict[str, object]:
        """The app's JSON with OME's ``dynamic`` flag: a new top-level dict whose values
        are the config's shared :attr:`~omeapi._config.ApplicationConfig.json_value`
        (to serialise or copy, never to change in place)."""
        return {**self.config.json_value, "dynamic": self.dynamic}

    def api_json_bytes(self) -> bytes:
        """:meth:`api_json` serialised once (entries never change; a change is a new entry)."""
        cached = self._json
        if cached is None:
            cached = self._json = dumps(self.api_json())
        return cached


class VhostEntry:
    """A virtual host, its apps in order, and whether it came from Server.xml.
    ``revision`` is the store version that created it (0 for Server.xml vhosts)."""

    __slots__ = ("_json", "_names", "apps", "config", "revision")

    def __init__(
        self, config: VirtualHostConfig, apps: Mapping[str, AppEntry], revision: int = 0
    ) -> None:
        self.config = config
        self.apps = apps
        self.revision = revision
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
            self._json = dumps(self.config.json_value)
        return self._json

    def app_names_bytes(self) -> bytes:
        """The JSON array of app names, serialised once."""
        if self._names is None:
            self._names = dumps(list(self.apps))
        return self._names

    def with_apps(self, apps: Mapping[str, AppEntry]) -> VhostEntry:
        return VhostEntry(self.config, apps, self.revision)


#: buckets of a :class:`VhostMap` (a power of two): a change copies one bucket, about
#: ``len / _BUCKETS`` entries, and the tuple of buckets
_BUCKETS = 256
#: names per chunk of a :class:`VhostMap`'s listing order
_CHUNK = 64


class VhostMap(Mapping[str, VhostEntry]):
    """An immutable map of vhost names to entries, in creation order, whose updates
    (:meth:`set`, :meth:`remove`) return a new map sharing all but the changed parts.

    A change copies one bucket of entries (chosen by a hash of the name) and one chunk of
    the listing order, so its cost grows with the vhosts divided by the buckets rather than
    with the vhosts; a snapshot holding the old map never sees the change.  Each name has a
    sequence number (its place in the order, kept when its entry is replaced); the order is
    chunks of names by sequence number.
    """

    __slots__ = ("_buckets", "_chunks", "_len", "_next")

    _buckets: tuple[dict[str, tuple[int, VhostEntry]], ...]
    _chunks: tuple[tuple[str, ...], ...]
    _len: int
    _next: int

    def __init__(self, entries: Mapping[str, VhostEntry] | None = None) -> None:
        buckets: list[dict[str, tuple[int, VhostEntry]]] = [{} for _ in range(_BUCKETS)]
        names = list(entries or ())
        for seq, name in enumerate(names):
            assert entries is not None
            buckets[hash(name) & (_BUCKETS - 1)][name] = (seq, entries[name])
        self._buckets = tuple(buckets)
        self._chunks = tuple(tuple(names[i : i + _CHUNK]) for i in range(0, len(names), _CHUNK))
        self._len = len(names)
        self._next = len(names)

    def _derive(
        self,
        index: int,
        bucket: dict[str, tuple[int, VhostEntry]],
        chunks: tuple[tuple[str, ...], ...],
        length: int,
        next_seq: int,
    ) -> VhostMap:
        out = VhostMap.__new__(VhostMap)
        buckets = list(self._buckets)
        buckets[index] = bucket
        out._buckets = tuple(buckets)
        out._chunks = chunks
        out._len = length
        out._next = next_seq
        return out

    def set(self, name: str, entry: VhostEntry) -> VhostMap:
        """A map with ``name`` bound to ``entry`` (a new name goes last; a known one keeps
        its place)."""
        index = hash(name) & (_BUCKETS - 1)
        bucket = dict(self._buckets[index])
        found = bucket.get(name)
        if found is not None:
            bucket[name] = (found[0], entry)
            return self._derive(index, bucket, self._chunks, self._len, self._next)
        seq = self._next
        bucket[name] = (seq, entry)
        at, chunks = seq // _CHUNK, self._chunks
        if at < len(chunks):
            chunks = (*chunks[:at], (*chunks[at], name), *chunks[at + 1 :])
        else:
            chunks = (*chunks, *((),) * (at - len(chunks)), (name,))
        return self._derive(index, bucket, chunks, self._len + 1, seq + 1)

    def remove(self, name: str) -> VhostMap:
        """A map without ``name`` (this map when it has no such name)."""
        index = hash(name) & (_BUCKETS - 1)
        found = self._buckets[index].get(name)
        if found is None:
            return self
        bucket = dict(self._buckets[index])
        del bucket[name]
        at = found[0] // _CHUNK
        chunk = tuple(n for n in self._chunks[at] if n != name)
        chunks = (*self._chunks[:at], chunk, *self._chunks[at + 1 :])
        return self._derive(index, bucket, chunks, self._len - 1, self._next)

    def __getitem__(self, name: str) -> VhostEntry:
        return self._buckets[hash(name) & (_BUCKETS - 1)][name][1]

    def get(self, name: str, default: VhostEntry | None = None) -> VhostEntry | None:  # type: ignore[override]
        found = self._buckets[hash(name) & (_BUCKETS - 1)].get(name)
        return default if found is None else found[1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._buckets[hash(name) & (_BUCKETS - 1)]

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk

    def __len__(self) -> int:
        return self._len


_NO_TOKENS: Mapping[bytes, Identity] = {}


class Snapshot:
    """The whole registry at one moment (never modified); ``tokens`` are the store's
    scoped access tokens, by SHA-256 digest."""

    __slots__ = ("_names", "tokens", "vhosts")

    def __init__(self, vhosts: VhostMap, tokens: Mapping[bytes, Identity] = _NO_TOKENS) -> None:
        self.vhosts: VhostMap = vhosts
        self.tokens = tokens
        self._names: bytes | None = None

    def names_bytes(self) -> bytes:
        """The JSON array of vhost names, serialised once."""
        if self._names is None:
            self._names = dumps(list(self.vhosts))
        return self._names


class Registry:
    """Owner of config state; see the module docstring for the consistency rules.

    ``vhosts`` are Server.xml's (read-only); the vhosts held by ``store`` follow them in
    creation order.  A stored vhost whose name Server.xml declares is skipped with a
    warning naming both (``source`` names the Server.xml) and stays in the store.
    """

    def __init__(
        self,
        vhosts: Iterable[VirtualHostConfig] = (),
        *,
        store: Store | None = None,
        source: str = "Server.xml",
        warn: Callable[[str], None] = log.warning,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.source = source
        #: what ``${env:…}`` in stored JSON resolves from: the config's environment
        self.environ = environ
        self._warn = warn
        self._lock = threading.Lock()
        entries: dict[str, VhostEntry] = {}
        for vhost in vhosts:
            entries[vhost.name] = VhostEntry(
                vhost, {app.name: AppEntry(app) for app in vhost.applications}
            )
        self._declared = frozenset(entries)
        #: what was already warned about (each problem is logged once)
        self._warned: set[object] = set()
        self._snapshot = Snapshot(VhostMap(entries))
        #: the store version the snapshot shows
        self._seen = -1
        #: the store's cheap freshness check, if it has one, and its value last seen current
        self._generation = self.store.generation if isinstance(self.store, Generation) else None
        self._generation_seen: int | None = None
        with self._lock:
            self._install(self.store.load())

    @property
    def snapshot(self) -> Snapshot:
        """The current state (a consistent, immutable view)."""
        return self._snapshot

    @property
    def version(self) -> int:
        """The store version the snapshot shows."""
        return self._seen

    def vhost(self, name: str) -> VhostEntry | None:
        return self._snapshot.vhosts.get(name)

    def app(self, vhost: str, app: str) -> AppEntry | None:
        entry = self._snapshot.vhosts.get(vhost)
        return None if entry is None else entry.apps.get(app)

    # -- following the store --------------------------------------------------------

    def current(self) -> bool:
        """Whether the snapshot is known to be current without asking the store: its
        generation word has not moved (False with a store that has none)."""
        generation = self._generation
        return generation is not None and generation() == self._generation_seen

    def refresh(self, *, check: bool = False) -> bool:
        """Reload the store if its change counter moved; True if the snapshot changed.

        It runs before every request.  With a store that has a
        :class:`~omeapi._stores.base.Generation`, nothing is read while the generation
        stays as it was (one memory read); otherwise, or when it moved, or with ``check``,
        one :meth:`~omeapi._stores.base.Store.version` call.  ``check`` is for what must
        not trust a generation: the base of a change (a generation fed by notifications
        lags the commit) and the follower's periodic look (a bump may be lost).  Raises
        :class:`~omeapi.StoreError`.
        """
        # Read before the store: whatever is committed by then is seen below, so the
        # generation may be recorded as seen afterwards.
        generation = self._generation() if self._generation is not None else None
        if generation is not None and generation == self._generation_seen and not check:
            return False
        if self.store.version() == self._seen:
            # A racing thread may record an older generation: that costs one more check.
            self._generation_seen = generation
            return False
        with self._lock:
            # Another thread may have reloaded (or written) while this one waited.
            if self.store.version() == self._seen:
                self._generation_seen = generation
                return False
            state = self.store.load()
            changed = state.version != self._seen
            if changed:
                self._install(state)
            # Recorded once the state is published: a thread that finds this generation
            # seen answers from the new snapshot (recorded before, it could answer from the
            # old one: a vhost just created elsewhere answered 404).
            self._generation_seen = generation
            return changed

    def _install(self, state: StoreState) -> None:
        """Publish Server.xml's vhosts plus ``state``'s, reusing unchanged entries (their
        serialised JSON stays)."""
        current = self._snapshot.vhosts
        out = {name: entry for name, entry in current.items() if entry.read_only}
        for stored in state.vhosts:
            if stored.name in self._declared:
                if stored.name not in self._warned:
                    self._warned.add(stored.name)
                    self._warn(
                        f"stored virtual host [{stored.name}] (in {self.store.location}) is "
                        f"skipped: {self.source} declares a virtual host of that name; it "
                        "stays in the store"
                    )
                continue
            entry = self._restore(stored, current.get(stored.name))
            if entry is not None:
                out[stored.name] = entry
        self._publish(out, token_table(state.tokens) if state.tokens else _NO_TOKENS)
        self._seen = state.version

    def _restore(self, stored: StoredVhost, existing: VhostEntry | None) -> VhostEntry | None:
        if existing is not None and existing.revision != stored.revision:
            existing = None  # deleted and created again: nothing to reuse
        try:
            config = (
                existing.config
                if existing is not None
                else virtual_host_from_json(stored.config, environ=self.environ)
            )
        except ConfigError as exc:
            self._unreadable(f"stored virtual host [{stored.name}]", stored.revision, exc)
            return None
        apps: dict[str, AppEntry] = {}
        for app in stored.apps:
            old = existing.apps.get(app.name) if existing is not None else None
            if old is not None and old.revision == app.revision:
                apps[app.name] = old
                continue
            try:
                apps[app.name] = AppEntry(
                    application_from_json(app.config, environ=self.environ), revision=app.revision
                )
            except ConfigError as exc:
                what = f"stored application [{stored.name}/{app.name}]"
                self._unreadable(what, app.revision, exc)
        if (
            existing is not None
            and len(apps) == len(existing.apps)
            and all(existing.apps.get(name) is entry for name, entry in apps.items())
            and list(apps) == list(existing.apps)
        ):
            return existing
        return VhostEntry(config, apps, stored.revision)

    def _unreadable(self, what: str, revision: int, exc: ConfigError) -> None:
        # A config this version cannot read (written by another one?): kept in the store,
        # left out here, logged once per revision.
        if (what, revision) not in self._warned:
            self._warned.add((what, revision))
            log.error("%s (in %s) is skipped: %s", what, self.store.location, exc.message)

    # -- writers (called by the restart coordinator) --------------------------------

    def add_vhost(
        self,
        vhost: VirtualHostConfig,
        apps: Iterable[ApplicationConfig],
        audit: AuditEntry | None = None,
    ) -> bool:
        """Add a vhost with its apps (one store change); False when the name is taken.

        Raises :class:`~omeapi.StoreConflict` when the store already holds it and
        :class:`~omeapi.StoreError` when the store cannot be written.
        """
        with self._lock:
            current = self._snapshot.vhosts
            if vhost.name in current:
                return False
            apps = tuple(apps)
            revision = 0
            if not vhost.read_only:
                revision = self._write(
                    Change(
                        Change.CREATE_VHOST,
                        vhost.name,
                        config=vhost.json_value,
                        apps=tuple((a.name, a.json_value) for a in apps),
                        audit=audit,
                    )
                )
            entry = VhostEntry(
                vhost, {a.name: AppEntry(a, revision=revision) for a in apps}, revision
            )
            self._publish(current.set(vhost.name, entry))
            return True

    def remove_vhost(self, name: str, audit: AuditEntry | None = None) -> None:
        """Remove a vhost and its apps (one store change)."""
        with self._lock:
            current = self._snapshot.vhosts
            entry = current.get(name)
            if entry is None:
                return
            if not entry.read_only:
                self._write(Change(Change.DELETE_VHOST, name, audit=audit))
            self._publish(current.remove(name))

    def put_app(self, vhost: str, entry: AppEntry, audit: AuditEntry | None = None) -> AppEntry:
        """Add an app, or replace it keeping its place in the order (one store change);
        returns the entry published (with its revision)."""
        with self._lock:
            current = self._snapshot.vhosts
            owner = current.get(vhost)
            if owner is None:  # deleted elsewhere since the caller looked
                raise StoreConflict(Change.VHOST_MISSING, f"{vhost} does not exist")
            if not owner.read_only:
                kind = Change.UPDATE_APP if entry.name in owner.apps else Change.CREATE_APP
                revision = self._write(
                    Change(kind, vhost, entry.name, config=entry.config.json_value, audit=audit)
                )
                entry = AppEntry(entry.config, dynamic=entry.dynamic, revision=revision)
            apps = dict(owner.apps)
            apps[entry.name] = entry
            self._publish(current.set(vhost, owner.with_apps(apps)))
            return entry

    def remove_app(self, vhost: str, app: str, audit: AuditEntry | None = None) -> None:
        """Remove an app (one store change)."""
        with self._lock:
            current = self._snapshot.vhosts
            owner = current.get(vhost)
            if owner is None or app not in owner.apps:
                return
            if not owner.read_only:
                self._write(Change(Change.DELETE_APP, vhost, app, audit=audit))
            apps = dict(owner.apps)
            del apps[app]
            self._publish(current.set(vhost, owner.with_apps(apps)))

    def _write(self, change: Change) -> int:
        # Called under the lock.  When the new version directly follows the one shown, no
        # other process wrote in between and the snapshot about to be published is the
        # store's state: no reload needed.  Otherwise the next refresh() reloads.
        version = self.store.apply(change)
        if version == self._seen + 1:
            self._seen = version
        return version

    def _publish(
        self, vhosts: Mapping[str, VhostEntry], tokens: Mapping[bytes, Identity] | None = None
    ) -> None:
        # One attribute assignment: readers see the old or the new snapshot, nothing between.
        # A writer hands a VhostMap derived from the current one (the cost of the change);
        # a reload hands a whole new mapping.
        self._snapshot = Snapshot(
            vhosts if isinstance(vhosts, VhostMap) else VhostMap(vhosts),
            self._snapshot.tokens if tokens is None else tokens,
        )
