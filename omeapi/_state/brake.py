"""The brute-force brake: too many failed logins from one address answer 429.

Counts live in a backend: :class:`LocalFailures` (this process) or :class:`SharedFailures`
(through a store every process shares, :meth:`FailureBrake.for_store`).  The check on every
request's path takes no lock and does no I/O; only failures and braked clients do.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol, cast

from omeapi._errors import StoreError, TooManyAttempts
from omeapi._stores.base import FailureCounter

__all__ = ["BrakeBackend", "FailureBrake", "LocalFailures", "SharedFailures"]

log = logging.getLogger("omeapi")


class BrakeBackend(Protocol):
    """Where a :class:`FailureBrake` keeps its counts.  :meth:`blocked` is on every
    request's path and must not do I/O."""

    def blocked(self, client: str) -> bool:
        """Whether ``client`` may be braked (a quick look, no lock and no I/O)."""

    def retry_after(self, client: str, limit: int, window: float) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not braked."""

    def failed(self, client: str, limit: int, window: float) -> float | None:
        """Count a failure of ``client``; returns the seconds to wait when it is beyond the
        limit (then it is answered 429, not 401), else None."""

    def succeeded(self, client: str) -> None:
        """``client`` logged in: forget its failures."""

    @property
    def tracked_clients(self) -> int:
        """How many clients have failures on record."""


class LocalFailures:
    """The in-process backend: a sliding window per client.

    A client is braked while ``limit`` failures are in the last ``window`` seconds, until the
    oldest leaves.  At most ``max_clients`` clients are tracked: a new one evicts the one
    whose last failure is oldest, so a flood of distinct addresses cannot grow memory.
    """

    __slots__ = ("_clients", "_clock", "_lock", "max_clients")

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_clients: int = 10000
    ) -> None:
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        # client -> times of its recent failures (at most `limit`), least recently failed first
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, client: str) -> bool:
        return client in self._clients

    def retry_after(self, client: str, limit: int, window: float) -> float | None:
        with self._lock:
            failures = self._clients.get(client)
            if failures is None:
                return None
            now = self._clock()
            _expire(failures, now - window)
            if not failures:
                del self._clients[client]
                return None
            if len(failures) < limit:
                return None
            return failures[0] + window - now

    def failed(self, client: str, limit: int, window: float) -> float | None:
        with self._lock:
            now = self._clock()
            failures = self._clients.get(client)
            if failures is None:
                if len(self._clients) >= self.max_clients:
                    self._clients.popitem(last=False)
                failures = self._clients[client] = deque(maxlen=limit)
            else:
                self._clients.move_to_end(client)
                _expire(failures, now - window)
            # Full already: another thread's failure got in between the check and this one.
            over = failures[0] + window - now if len(failures) >= limit else None
            failures.append(now)
            return over

    def succeeded(self, client: str) -> None:
        if client in self._clients:
            with self._lock:
                self._clients.pop(client, None)

    @property
    def tracked_clients(self) -> int:
        return len(self._clients)


def _expire(failures: deque[float], horizon: float) -> None:
    while failures and failures[0] <= horizon:
        failures.popleft()


class SharedFailures:
    """The backend that counts through a :class:`FailureCounter` shared by processes, so
    that ``limit`` failures per window are admitted in all of them together.

    Only failures reach the counter.  Each process remembers the clients it saw braked (until
    their window ends) and answers them without asking; a request with the right token from
    an address this process does not know as braked is never held up by a database call.
    When the counter fails (:class:`~omeapi.StoreError`), failures are counted in this
    process instead, and logged.
    """

    __slots__ = ("_blocked", "_counter", "_failing", "_fallback", "_lock", "max_clients")

    def __init__(self, counter: FailureCounter, *, max_clients: int = 10000) -> None:
        self.max_clients = max_clients
        self._counter = counter
        self._lock = threading.Lock()
        #: client -> when its window ends (the counter's clock), for clients braked now
        self._blocked: OrderedDict[str, float] = OrderedDict()
        #: clients that failed here (a success then clears the shared count)
        self._failing: OrderedDict[str, None] = OrderedDict()
        self._fallback = LocalFailures(clock=counter.clock, max_clients=max_clients)

    def blocked(self, client: str) -> bool:
        return client in self._blocked or self._fallback.blocked(client)

    def retry_after(self, client: str, limit: int, window: float) -> float | None:
        with self._lock:
            until = self._blocked.get(client)
            if until is not None:
                left = until - self._counter.clock()
                if left > 0:
                    return left
                del self._blocked[client]
        return self._fallback.retry_after(client, limit, window)

    def failed(self, client: str, limit: int, window: float) -> float | None:
        try:
            since, count = self._counter.count_failure(client, window)
        except StoreError as exc:
            log.warning("counting a failed login in the store failed (%s): counted here", exc)
            return self._fallback.failed(client, limit, window)
        until = since + window
        with self._lock:
            _remember(self._failing, client, None, self.max_clients)
            if count >= limit:
                _remember(self._blocked, client, until, self.max_clients)
        return until - self._counter.clock() if count > limit else None

    def succeeded(self, client: str) -> None:
        self._fallback.succeeded(client)
        if client not in self._failing and client not in self._blocked:
            return
        with self._lock:
            self._failing.pop(client, None)
            self._blocked.pop(client, None)
        try:
            self._counter.forget(client)
        except StoreError as exc:
            log.warning("clearing failed logins in the store failed (%s)", exc)

    @property
    def tracked_clients(self) -> int:
        return len(self._failing) + self._fallback.tracked_clients

    def settled(self, client: str) -> bool:
        # A success must clear the shared count only for clients that failed here.
        return client not in self._failing and client not in self._blocked


def _remember(table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


class FailureBrake:
    """Per-client brake on failed authentication.

    After ``limit`` failures within ``window`` seconds, every further attempt from that
    client, even a correct one, gets :class:`~omeapi._errors.TooManyAttempts` until the window
    lets it in again; ``Retry-After`` says when, in whole seconds rounded up.  A success
    forgets the client's failures.  Thread-safe.

    ``backend`` keeps the counts: by default :class:`LocalFailures` (this process only, a
    sliding window; ``clock`` and ``max_clients`` are its), or a :class:`FailureCounter` that
    processes share (wrapped in :class:`SharedFailures`), or any :class:`BrakeBackend`.
    :meth:`for_store` picks the store's shared counter when the store is shared.
    """

    __slots__ = ("backend", "limit", "window")

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10000,
        backend: BrakeBackend | FailureCounter | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("limit, window and max_clients must be positive")
        self.limit = limit
        self.window = window
        if backend is None:
            backend = LocalFailures(clock=clock, max_clients=max_clients)
        elif not hasattr(backend, "blocked"):
            backend = SharedFailures(backend, max_clients=max_clients)
        self.backend: BrakeBackend = cast(BrakeBackend, backend)

    @classmethod
    def for_store(
        cls, store: object, limit: int = 10, window: float = 60.0, *, max_clients: int = 10000
    ) -> FailureBrake:
        """The brake for an API over ``store``: counts shared through the store when other
        processes share it (``store.shared`` and a ``brake_backend()``), else this process's."""
        make = getattr(store, "brake_backend", None)
        if getattr(store, "shared", False) and callable(make):
            counter = cast(FailureCounter, make())
            return cls(limit, window, max_clients=max_clients, backend=counter)
        return cls(limit, window, max_clients=max_clients)

    def check(self, client: str) -> None:
        """Raise :class:`~omeapi._errors.TooManyAttempts` if ``client`` is braked now."""
        if not self.backend.blocked(client):  # the common case takes no lock
            return
        wait = self.retry_after(client)
        if wait is not None:
            raise TooManyAttempts(math.ceil(wait))

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not braked."""
        return self.backend.retry_after(client, self.limit, self.window)

    def failed(self, client: str) -> float | None:
        """Record a failed attempt by ``client``; returns the seconds it must wait when the
        attempt is beyond the limit (counted elsewhere meanwhile), else None."""
        return self.backend.failed(client, self.limit, self.window)

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures."""
        self.backend.succeeded(client)

    def settled(self, client: str) -> bool:
        """Whether a success of ``client`` needs no bookkeeping that may block (a store
        round trip): true for this process's own counts, and for a client with no failures
        on record here.  A backend that cannot tell is taken as needing it."""
        settled = getattr(self.backend, "settled", None)
        if settled is None:
            return isinstance(self.backend, LocalFailures)
        return bool(settled(client))

    @property
    def tracked_clients(self) -> int:
        """How many clients have failures on record (each table bounded by ``max_clients``)."""
        return self.backend.tracked_clients

    def __repr__(self) -> str:
        return (
            f"FailureBrake(limit={self.limit}, window={self.window}, {type(self.backend).__name__})"
        )
