"""Scoped access tokens: who a request is, and what it may do (an omeapi extension).

Server.xml's ``<AccessToken>`` can do everything.  Beside it, the operator may keep tokens
in the store (``omeapi token add``) that are read-only, limited to some virtual hosts, or
both.  The store keeps only their SHA-256 (:class:`StoredToken`, defined here, below the stores); a
token is a long random string, so a plain digest is as good as a slow hash here.  A request
authenticated with one gets an :class:`Identity`; :func:`check_scope` refuses (403) what
lies beyond it, before the request is routed to a controller or forwarded to the engine
host.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping

import attrs

from omeapi import _messages as msg

__all__ = [
    "ADMIN",
    "READING_ACTIONS",
    "TOKEN_PREFIX",
    "Identity",
    "StoredToken",
    "check_scope",
    "identity_of",
    "new_token",
    "token_digest",
]


@attrs.frozen
class StoredToken:
    """A scoped access token as stored: never the token itself, only the hex SHA-256 of
    it (``digest``).  ``read_only``: reads only; ``vhosts``: the vhosts it may reach
    (empty: all).  ``created`` is POSIX time."""

    id: str
    name: str
    digest: str = attrs.field(repr=False)
    read_only: bool = False
    vhosts: tuple[str, ...] = ()
    created: float = 0.0


#: Every generated token starts with this (so that a leaked one is recognisable).
TOKEN_PREFIX = "omeapi_"

#: Routes answered to ``POST`` that only read (OME lists records and pushes with a POST).
READING_ACTIONS = frozenset(
    {"list_records", "list_pushes", "hls_dumps", "stt_status", "list_sessions_action"}
)


#: Server-wide routes a vhost-limited token may call: their answer is filtered to its vhosts
#: (the event feed).
FILTERED_ACTIONS = frozenset({"events"})


@attrs.frozen
class Identity:
    """Who authenticated: ``name`` as the audit log shows it, whether it may only read,
    and the vhosts it may reach (None: all)."""

    name: str
    read_only: bool = False
    vhosts: frozenset[str] | None = None

    @property
    def unlimited(self) -> bool:
        return not self.read_only and self.vhosts is None

    def may_see(self, vhost: str) -> bool:
        return self.vhosts is None or vhost in self.vhosts


#: The identity of Server.xml's ``<AccessToken>`` (and of no authentication at all).
ADMIN = Identity("admin")


def token_digest(secret: bytes | str) -> bytes:
    """The SHA-256 of a token (what the store keeps, as hex)."""
    raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    return hashlib.sha256(raw).digest()


def new_token(
    name: str,
    *,
    read_only: bool = False,
    vhosts: Iterable[str] = (),
    clock: Callable[[], float] = time.time,
) -> tuple[str, StoredToken]:
    """A new random token: the secret to hand out once, and what the store keeps."""
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"a token name is one word: {name!r}")
    token_id = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    stored = StoredToken(
        token_id,
        name,
        token_digest(secret).hex(),
        read_only,
        tuple(sorted(set(vhosts))),
        clock(),
    )
    return secret, stored


def identity_of(token: StoredToken) -> Identity:
    return Identity(token.name, token.read_only, frozenset(token.vhosts) or None)


def token_table(tokens: Iterable[StoredToken]) -> Mapping[bytes, Identity]:
    """Identities by token digest, for the per-request lookup."""
    table: dict[bytes, Identity] = {}
    for token in tokens:
        try:
            table[bytes.fromhex(token.digest)] = identity_of(token)
        except ValueError:
            continue  # not a digest this version wrote: never matches
    return table


def check_scope(
    identity: Identity, method: str, action: str, vhost: str | None, *, write: bool | None = None
) -> None:
    """Raise OME-style 403 if ``identity`` may not call ``action`` (the route's name)
    with ``method`` on ``vhost`` (None: a route of the whole server).  ``write``
    overrides what the method says (None: GET and HEAD read, other methods write, except
    :data:`READING_ACTIONS`)."""
    if identity.unlimited:
        return
    if write is None:
        write = method not in ("GET", "HEAD") and action not in READING_ACTIONS
    if identity.read_only and write:
        raise msg.TOKEN_READ_ONLY.error(token=identity.name)
    if identity.vhosts is not None and action not in FILTERED_ACTIONS:
        if vhost is None:
            raise msg.TOKEN_SERVER_WIDE.error(token=identity.name)
        if vhost not in identity.vhosts:
            raise msg.TOKEN_NOT_FOR_VHOST.error(token=identity.name, vhost=vhost)
