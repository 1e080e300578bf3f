"""Answers kept per state: a repeated read of the configuration is answered as before.

Most of what a console or a poller asks for again and again (``GET /v1/vhosts``, an app's
config) is a function of the registry's immutable snapshot and of the request's method,
path, query and CORS headers alone.  Such an answer, once made, is kept with the snapshot
it was made from and given again while that snapshot is current: routing, the controller
and building the response are skipped.  Everything before them still runs for every
request (the Host check, the CORS decision, the token check, the store's freshness check),
so a kept answer is never given to a request that would have been answered otherwise.
"""

from __future__ import annotations

import contextlib

from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = ["Answers"]

#: What identifies an answer besides the snapshot.
Key = tuple[str, str, str, str | None, str | None]


class Answers:
    """At most ``size`` answers, each with the snapshot (any object, compared by identity)
    it was made from.  Requests whose key is longer than ``longest`` characters are not
    kept: keys come from clients, so they must not grow memory past a bound either.

    Thread-safe as the dict operations it uses are; two threads making the same answer at
    once both keep it, the later one winning.
    """

    def __init__(self, size: int = 1024, longest: int = 512) -> None:
        self.size = size
        self.longest = longest
        self._kept: dict[Key, tuple[object, ApiResponse]] = {}

    def key(self, request: ApiRequest, origin: str | None, wanted: str | None) -> Key | None:
        """The key of ``request``'s answer (``origin`` and ``wanted``: its ``Origin`` and
        ``Access-Control-Request-Headers``, which decide its CORS headers), or None when it
        may not be kept (it has a body, or its key is too long)."""
        if request.body:
            return None
        length = len(request.path) + len(request.query) + len(origin or "") + len(wanted or "")
        if length > self.longest:
            return None
        return (request.method, request.path, request.query, origin, wanted)

    def get(self, key: Key, snapshot: object) -> ApiResponse | None:
        """The answer kept for ``key`` if it was made from ``snapshot``."""
        kept = self._kept.get(key)
        if kept is None or kept[0] is not snapshot:
            return None
        return kept[1]

    def put(self, key: Key, snapshot: object, response: ApiResponse) -> None:
        """Keep ``response``, made from ``snapshot``, for ``key``."""
        kept = self._kept
        if key not in kept:
            if self.size <= 0:
                return
            if len(kept) >= self.size:
                # The oldest goes (dicts keep insertion order); answers of an older snapshot
                # are never given again and leave the same way.
                with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # a race
                    del kept[next(iter(kept))]
        kept[key] = (snapshot, response)

    def __len__(self) -> int:
        return len(self._kept)
