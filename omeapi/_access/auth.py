"""The API's access-token check and the brute-force brake.

Clients send ``Authorization: Basic <base64(AccessToken)>``; the whole decoded string is the
credential (a ``user:password`` token works, the ``:`` is not split).  The steps and their
five 401 messages are OME's, in OME's order.  Deliberate differences (docs/compatibility.md):

* standard base64: missing ``=`` padding is accepted, any other invalid character (or
  incomplete padding) is ``Invalid credential``; OME decodes a valid prefix and ignores the rest;
* constant-time comparison, on SHA-256 digests so that not even the token's length shows;
* an empty or missing token with the API enabled is a configuration error unless the
  embedding program explicitly opts out of authentication;
* a per-client brake (:mod:`omeapi._state.brake`): too many failures in a window answer 429
  with ``Retry-After``; with a shared store the count is shared by every process using it.
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
from collections.abc import Callable
from typing import Protocol

from omeapi import _messages as msg
from omeapi._access.tokens import ADMIN, Identity
from omeapi._errors import AuthError, ConfigError, TooManyAttempts, WouldBlock

__all__ = [
    "BAD_CREDENTIAL",
    "BAD_FORMAT",
    "BAD_HEADER",
    "EMPTY_TOKEN",
    "MISSING_HEADER",
    "UNSUPPORTED_TYPE",
    "AuthVerifier",
    "Brake",
    "TokenLookup",
    "decode_base64",
    "parse_credential",
]

# OME's texts, in the order its checks run.
MISSING_HEADER = msg.AUTH_MISSING_HEADER.text
BAD_HEADER = msg.AUTH_BAD_HEADER.text
UNSUPPORTED_TYPE = msg.AUTH_UNSUPPORTED_TYPE.text
BAD_FORMAT = msg.AUTH_BAD_FORMAT.text
BAD_CREDENTIAL = msg.AUTH_BAD_CREDENTIAL.text
EMPTY_TOKEN = msg.EMPTY_TOKEN

#: Every spelling of ``Basic`` OME accepts (its comparison is ASCII case-insensitive); a set,
#: because ``str.lower`` would also fold non-ASCII look-alikes such as the Kelvin sign.
_BASIC = frozenset("".join(p) for p in itertools.product(*zip("basic", "BASIC", strict=True)))

log = logging.getLogger("omeapi")

_BASE64 = re.compile(r"([A-Za-z0-9+/]*)(=*)")

#: HTTP's optional whitespace, which an HTTP/1.1 parser trims from a field value.
_OWS = " \t"


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _quick_digest(data: bytes) -> bytes:
    # Only ever compared with another digest of this process, never stored: BLAKE2s, built
    # into Python, costs a request less than OpenSSL's SHA-256 does (docs/performance.md).
    return hashlib.blake2s(data).digest()


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


#: Finds the scoped token whose SHA-256 digest is given (``may_block``: whether it may ask
#: the store; else it raises WouldBlock when it would have to).
TokenLookup = Callable[[bytes, bool], Identity | None]


class Brake(Protocol):
    """The brute-force brake :class:`AuthVerifier` consults (see
    :class:`~omeapi._state.brake.FailureBrake`): it keeps its own counts."""

    def check(self, client: str) -> None:
        """Raise :class:`~omeapi._errors.TooManyAttempts` if ``client`` is braked now."""

    def failed(self, client: str) -> float | None:
        """Record a failed attempt; the seconds to wait when it is beyond the limit."""

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures."""


def _succeeded(brake: Brake, client: str, may_block: bool) -> None:
    if not may_block:
        settled = getattr(brake, "settled", None)
        if settled is None or not settled(client):
            raise WouldBlock
    brake.succeeded(client)


class AuthVerifier:
    """Checks ``Authorization`` headers against the ``<AccessToken>``.

    Only digests of the token are kept: BLAKE2s of the usual header, SHA-256 of the token
    (the digest scoped tokens are stored under).  The usual header (``Basic`` + padded
    base64) is recognised with one digest comparison; any other form is parsed step by step.
    Both comparisons are constant-time with respect to the token.
    """

    __slots__ = ("_header_digest", "_token_digest", "brake")

    def __init__(self, token: str, *, brake: Brake | None = None) -> None:
        if not token:
            raise ConfigError(EMPTY_TOKEN)
        raw = token.encode("utf-8", "surrogatepass")
        self._token_digest = _digest(raw)
        self._header_digest = _quick_digest(b"Basic " + base64.b64encode(raw))
        self.brake = brake

    @classmethod
    def from_config(
        cls,
        token: str | None,
        *,
        api_enabled: bool = True,
        allow_no_auth: bool = False,
        brake: Brake | None = None,
    ) -> AuthVerifier | None:
        """The verifier for ``<Managers><API><AccessToken>``, or None for "no authentication".

        A non-empty token is always enforced.  An empty or missing one is a
        :class:`~omeapi.ConfigError` (``Empty <AccessToken> is not allowed``) while the
        API is enabled, unless the embedding program passes ``allow_no_auth=True``.
        ``brake``: the brute-force brake to consult, if any.
        """
        if not token:
            if api_enabled and not allow_no_auth:
                raise ConfigError(EMPTY_TOKEN)
            return None
        return cls(token, brake=brake)

    def verify(
        self,
        authorization: str | None,
        client: str = "",
        *,
        may_block: bool = True,
        lookup: TokenLookup | None = None,
    ) -> Identity:
        """Who ``authorization`` is: :data:`~omeapi._access.tokens.ADMIN` for the
        ``<AccessToken>``, a scoped token's identity (found by ``lookup``), else raise.
        A scoped token goes through the same brake and constant-time digest comparison.

        Raises :class:`~omeapi._errors.AuthError` with OME's message, or
        :class:`~omeapi._errors.TooManyAttempts` when ``client`` (its address) is braked.  A
        missing header does not count as a failed attempt: it guesses nothing.  Without
        ``may_block``, :class:`~omeapi._errors.WouldBlock` where the brake would count (a
        store round trip, maybe), before anything is counted.
        """
        brake = self.brake
        if brake is not None:
            brake.check(client)
        # _quick_digest written out: every request comes this way.
        if authorization is not None and hmac.compare_digest(
            hashlib.blake2s(authorization.encode("utf-8", "surrogatepass")).digest(),
            self._header_digest,
        ):
            if brake is not None:
                _succeeded(brake, client, may_block)
            return ADMIN
        try:
            identity = self._verify_slowly(authorization, lookup, may_block)
        except AuthError as error:
            if brake is not None and error.text != MISSING_HEADER:
                if not may_block:
                    raise WouldBlock from None
                wait = brake.failed(client)
                if wait is not None:
                    # Other processes used up the window meanwhile: not one more 401.
                    raise TooManyAttempts(max(1, math.ceil(wait))) from None
            raise
        if brake is not None:
            _succeeded(brake, client, may_block)
        return identity

    def identify(self, authorization: str | None, lookup: TokenLookup | None) -> Identity | None:
        """Who ``authorization`` is, with no brake and no error (None: nobody); for a
        process that answers requests another one has authenticated already."""
        try:
            return self.verify_quietly(authorization, lookup)
        except AuthError:
            return None

    def verify_quietly(self, authorization: str | None, lookup: TokenLookup | None) -> Identity:
        if authorization is not None and hmac.compare_digest(
            _quick_digest(authorization.encode("utf-8", "surrogatepass")), self._header_digest
        ):
            return ADMIN
        return self._verify_slowly(authorization, lookup, True)

    def _verify_slowly(
        self, authorization: str | None, lookup: TokenLookup | None, may_block: bool
    ) -> Identity:
        value = (authorization or "").strip(_OWS)
        if not value:
            raise AuthError(MISSING_HEADER)
        digest = _digest(parse_credential(value))
        if hmac.compare_digest(digest, self._token_digest):
            return ADMIN
        if lookup is not None:
            found = lookup(digest, may_block)
            if found is not None:
                return found
        raise AuthError(BAD_CREDENTIAL)

    def __repr__(self) -> str:
        return f"AuthVerifier(brake={self.brake!r})"
