"""The API's access-token check and the brute-force brake.

Clients send ``Authorization: Basic <base64(AccessToken)>``; the whole decoded string is the
credential (a ``user:password`` token works, the ``:`` is not split).  The steps and their
five 401 messages are OME's, in OME's order (``ome-rest-api.md`` §3.3).  Deliberate
differences (contract §2):

* standard base64: missing ``=`` padding is accepted, any other invalid character (or
  incomplete padding) is ``Invalid credential``; OME decodes a valid prefix and ignores the rest;
* constant-time comparison, on SHA-256 digests so that not even the token's length shows;
* an empty or missing token with the API enabled is a configuration error unless the
  embedding program explicitly opts out of authentication;
* a per-client brake: too many failures in a window answer 429 with ``Retry-After``; with a
  shared store the count is shared by every process using it (:meth:`FailureBrake.for_store`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol, cast

from omeapi._errors import AuthError, ConfigError, StoreError, TooManyAttempts

__all__ = [
    "BAD_CREDENTIAL",
    "BAD_FORMAT",
    "BAD_HEADER",
    "EMPTY_TOKEN",
    "MISSING_HEADER",
    "UNSUPPORTED_TYPE",
    "AuthVerifier",
    "BrakeBackend",
    "FailureBrake",
    "FailureCounter",
    "LocalFailures",
    "SharedFailures",
    "decode_base64",
    "parse_credential",
]

# OME's texts, in the order its checks run.
MISSING_HEADER = "Authorization header is required to call API"
BAD_HEADER = "Invalid authorization header"
UNSUPPORTED_TYPE = "Not supported credential type: {}"
BAD_FORMAT = "Invalid credential format"
BAD_CREDENTIAL = "Invalid credential"

EMPTY_TOKEN = "Empty <AccessToken> is not allowed"

#: Every spelling of ``Basic`` OME accepts (its comparison is ASCII case-insensitive); a set,
#: because ``str.lower`` would also fold non-ASCII look-alikes such as the Kelvin sign.
_BASIC = frozenset("".join(p) for p in itertools.product(*zip("basic", "BASIC", strict=True)))

log = logging.getLogger("omeapi")

_BASE64 = re.compile(r"([A-Za-z0-9+/]*)(=*)")

#: HTTP's optional whitespace, which an HTTP/1.1 parser trims from a field value.
_OWS = " \t"


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def decode_base64(text: str) -> bytes | None:
    """Standard base64 (RFC 4648 §4) with optional padding; None when ``text`` is not valid.

    Padding is either absent or complete; a length that no encoding can have (``4n + 1``) and
    any character outside ``A–Z a–z 0–9 + /`` are invalid.
    """
    match = _BASE64.fullmatch(text)
    if match is None:
        return None
    body, padding = match.groups()
    missing = -len(body) % 4
    if missing == 3 or (padding and len(padding) != missing):
        return None
    return binascii.a2b_base64(body + "=" * missing)


def parse_credential(value: str) -> bytes:
    """OME's steps 2–5 on a trimmed, non-empty ``Authorization`` value: the decoded credential.

    Raises :class:`~omeapi._errors.AuthError` with OME's message for the first step that fails.
    ``Invalid credential format`` (an empty credential) can only happen here: over HTTP the
    field value is trimmed first, so ``Basic `` arrives as ``Basic`` (one part).
    """
    parts = value.split(" ")
    if len(parts) != 2:
        raise AuthError(BAD_HEADER)
    scheme, credential = parts
    if scheme not in _BASIC:
        raise AuthError(UNSUPPORTED_TYPE.format(scheme))
    if not credential:
        raise AuthError(BAD_FORMAT)
    decoded = decode_base64(credential)
    if decoded is None:
        raise AuthError(BAD_CREDENTIAL)
    return decoded


class FailureCounter(Protocol):
    """Failure counts that several processes share (a store's, see
    :meth:`FailureBrake.for_store`).  A client's window starts with its first failure and
    lasts ``window`` seconds; each call is one atomic update of the shared count."""

    #: the counter's time base, the same in every process (POSIX seconds)
    clock: Callable[[], float]

    def count_failure(self, client: str, window: float) -> tuple[float, int]:
        """Count one failure of ``client`` now: its window's start and the failures in it,
        this one included.  May raise :class:`~omeapi.StoreError`."""

    def forget(self, client: str) -> None:
        """Forget ``client``'s failures.  May raise :class:`~omeapi.StoreError`."""


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

    @property
    def tracked_clients(self) -> int:
        """How many clients have failures on record (each table bounded by ``max_clients``)."""
        return self.backend.tracked_clients

    def __repr__(self) -> str:
        return (
            f"FailureBrake(limit={self.limit}, window={self.window}, {type(self.backend).__name__})"
        )


class AuthVerifier:
    """Checks ``Authorization`` headers against the ``<AccessToken>``.

    Only SHA-256 digests of the token are kept.  The usual header (``Basic`` + padded base64)
    is recognised with one digest comparison; any other form is parsed step by step.  Both
    comparisons are constant-time with respect to the token.
    """

    __slots__ = ("_header_digest", "_token_digest", "brake")

    def __init__(self, token: str, *, brake: FailureBrake | None = None) -> None:
        if not token:
            raise ConfigError(EMPTY_TOKEN)
        raw = token.encode("utf-8", "surrogatepass")
        self._token_digest = _digest(raw)
        self._header_digest = _digest(b"Basic " + base64.b64encode(raw))
        self.brake = brake

    @classmethod
    def from_config(
        cls,
        token: str | None,
        *,
        api_enabled: bool = True,
        allow_no_auth: bool = False,
        brake: FailureBrake | bool = True,
    ) -> AuthVerifier | None:
        """The verifier for ``<Managers><API><AccessToken>``, or None for "no authentication".

        A non-empty token is always enforced.  An empty or missing one is a
        :class:`~omeapi.ConfigError` (``Empty <AccessToken> is not allowed``) while the
        API is enabled, unless the embedding program passes ``allow_no_auth=True``.
        ``brake``: True for a default :class:`FailureBrake`, False for none, or one to use.
        """
        if not token:
            if api_enabled and not allow_no_auth:
                raise ConfigError(EMPTY_TOKEN)
            return None
        if isinstance(brake, FailureBrake):
            return cls(token, brake=brake)
        return cls(token, brake=FailureBrake() if brake else None)

    def verify(self, authorization: str | None, client: str = "") -> None:
        """Return if ``authorization`` carries the token, else raise.

        Raises :class:`~omeapi._errors.AuthError` with OME's message, or
        :class:`~omeapi._errors.TooManyAttempts` when ``client`` (its address) is braked.  A
        missing header does not count as a failed attempt: it guesses nothing.
        """
        brake = self.brake
        if brake is not None:
            brake.check(client)
        if authorization is not None and hmac.compare_digest(
            _digest(authorization.encode("utf-8", "surrogatepass")), self._header_digest
        ):
            if brake is not None:
                brake.succeeded(client)
            return
        try:
            self._verify_slowly(authorization)
        except AuthError as error:
            if brake is not None and error.text != MISSING_HEADER:
                wait = brake.failed(client)
                if wait is not None:
                    # Other processes used up the window meanwhile: not one more 401.
                    raise TooManyAttempts(max(1, math.ceil(wait))) from None
            raise
        if brake is not None:
            brake.succeeded(client)

    def _verify_slowly(self, authorization: str | None) -> None:
        value = (authorization or "").strip(_OWS)
        if not value:
            raise AuthError(MISSING_HEADER)
        decoded = parse_credential(value)
        if not hmac.compare_digest(_digest(decoded), self._token_digest):
            raise AuthError(BAD_CREDENTIAL)

    def __repr__(self) -> str:
        return f"AuthVerifier(brake={self.brake!r})"
