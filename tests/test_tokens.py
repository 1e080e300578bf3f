"""Scoped access tokens (docs/compatibility.md, "Extensions"): how they are made and stored,
who they make a request, and what that identity may call (403 beyond it)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omeapi._access.auth import AuthVerifier
from omeapi._access.tokens import (
    ADMIN,
    READING_ACTIONS,
    TOKEN_PREFIX,
    Identity,
    StoredToken,
    check_scope,
    identity_of,
    new_token,
    token_digest,
    token_table,
)
from omeapi._errors import ApiError

# --- making one -------------------------------------------------------------------------------

#: What ``omeapi token add`` prints: the prefix, the id, then 32 random bytes (URL-safe base64,
#: unpadded), so that a leaked token is recognisable by a secret scanner.
SECRET = re.compile(r"omeapi_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


def test_a_new_token_and_what_the_store_keeps() -> None:
    secret, stored = new_token("ops", read_only=True, vhosts=["b", "a", "b"], clock=lambda: 42.5)
    match = SECRET.fullmatch(secret)
    assert match is not None, secret
    assert secret.startswith(TOKEN_PREFIX)
    assert stored.id == match[1]
    assert len(base64.urlsafe_b64decode(match[2] + "=")) == 32
    assert stored == StoredToken(
        match[1], "ops", hashlib.sha256(secret.encode()).hexdigest(), True, ("a", "b"), 42.5
    )


def test_a_new_token_is_unlimited_unless_asked() -> None:
    _, stored = new_token("ops", clock=lambda: 7.0)
    assert (stored.read_only, stored.vhosts, stored.created) == (False, (), 7.0)
    assert identity_of(stored).unlimited


def test_new_tokens_differ() -> None:
    made = [new_token("ops") for _ in range(20)]
    assert len({secret for secret, _ in made}) == len({s.id for _, s in made}) == 20
    assert len({s.digest for _, s in made}) == 20


@pytest.mark.parametrize("name", ["", " ", "two words", "tab\tbed", "new\nline", "nbsp\xa0"])
def test_a_token_name_is_one_word(name: str) -> None:
    with pytest.raises(ValueError, match="a token name is one word: ") as info:
        new_token(name)
    assert repr(name) in str(info.value)


def test_the_stored_digest_is_not_shown() -> None:
    secret, stored = new_token("ops")
    assert stored.digest not in repr(stored) and secret not in repr(stored)


# --- digests ----------------------------------------------------------------------------------


@given(st.text())
def test_token_digest_of_text_is_its_utf8_sha256(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    assert token_digest(text) == token_digest(raw) == hashlib.sha256(raw).digest()


def test_token_digest_takes_lone_surrogates_as_bytes() -> None:
    # what AuthVerifier hashes for a decoded credential or a header an ASGI server passes on
    assert token_digest("a\ud800") == hashlib.sha256(b"a\xed\xa0\x80").digest()


@given(st.binary())
def test_token_digest_of_bytes(raw: bytes) -> None:
    assert token_digest(raw) == hashlib.sha256(raw).digest()


# --- who a stored token is --------------------------------------------------------------------


def stored(
    name: str, secret: str, read_only: bool = False, vhosts: tuple[str, ...] = ()
) -> StoredToken:
    return StoredToken(name, name, token_digest(secret).hex(), read_only, vhosts)


IDENTITY_ROWS = [
    (stored("all", "s1"), Identity("all", False, None)),
    (stored("reader", "s2", read_only=True), Identity("reader", True, None)),
    (stored("ops", "s3", vhosts=("a", "b")), Identity("ops", False, frozenset({"a", "b"}))),
    (stored("both", "s4", True, ("a",)), Identity("both", True, frozenset({"a"}))),
]


@pytest.mark.parametrize(("token", "identity"), IDENTITY_ROWS)
def test_identity_of(token: StoredToken, identity: Identity) -> None:
    assert identity_of(token) == identity


def test_token_table_finds_each_token_by_its_digest() -> None:
    tokens = [token for token, _ in IDENTITY_ROWS]
    table = token_table(tokens)
    assert table == {
        token_digest(f"s{n}"): identity for n, (_, identity) in enumerate(IDENTITY_ROWS, 1)
    }


def test_token_table_skips_a_digest_it_cannot_read() -> None:
    odd = StoredToken("x", "odd", "not hex")
    tokens = [stored("first", "s1"), odd, stored("last", "s2")]
    assert token_table(tokens) == {
        token_digest("s1"): Identity("first"),
        token_digest("s2"): Identity("last"),
    }
    assert token_table([]) == {}


def test_a_new_token_authenticates_as_its_identity() -> None:
    secret, kept = new_token("monitor", read_only=True, vhosts=["v2"])
    table = token_table([kept])
    header = "Basic " + base64.b64encode(secret.encode()).decode()
    who = AuthVerifier("admin-token").verify(header, lookup=lambda d, _: table.get(d))
    assert who == Identity("monitor", True, frozenset({"v2"}))
    assert AuthVerifier("admin-token").identify(header, None) is None  # no lookup: not known


# --- identities -------------------------------------------------------------------------------


def test_identity_may_see() -> None:
    limited = Identity("ops", vhosts=frozenset({"a", "b"}))
    assert limited.may_see("a") and limited.may_see("b")
    assert not limited.may_see("c") and not limited.may_see("")
    assert Identity("ops", vhosts=frozenset()).may_see("a") is False
    assert ADMIN.may_see("any") and Identity("reader", read_only=True).may_see("any")


def test_identity_unlimited() -> None:
    assert ADMIN.unlimited and Identity("admin") == ADMIN
    assert not Identity("r", read_only=True).unlimited
    assert not Identity("v", vhosts=frozenset({"a"})).unlimited


# --- scope ------------------------------------------------------------------------------------

READER = Identity("monitor", read_only=True)
OPS = Identity("ops", vhosts=frozenset({"v2"}))
BOTH = Identity("both", read_only=True, vhosts=frozenset({"v2"}))

READ_ONLY = "[HTTP] The access token is read-only: [{}] (403)"
SERVER_WIDE = (
    "[HTTP] The access token is limited to some virtual hosts and cannot call this: [{}] (403)"
)
NOT_FOR_VHOST = "[HTTP] The access token may not reach the virtual host: [{}] [{}] (403)"
ALLOWED = None

SCOPE_ROWS = [
    # (identity, method, action, vhost, write, the 403's message or ALLOWED)
    (ADMIN, "DELETE", "delete_vhost", None, None, ALLOWED),
    (ADMIN, "POST", "create_apps", "v1", True, ALLOWED),
    # read-only: GET and HEAD read, anything else writes, except the POSTs that only read
    (READER, "GET", "get_vhost", "v1", None, ALLOWED),
    (READER, "HEAD", "get_vhost", "v1", None, ALLOWED),
    (READER, "GET", "stats_server", None, None, ALLOWED),
    (READER, "POST", "create_apps", "v1", None, READ_ONLY.format("monitor")),
    (READER, "PATCH", "patch_app", "v1", None, READ_ONLY.format("monitor")),
    (READER, "DELETE", "delete_app", "v1", None, READ_ONLY.format("monitor")),
    (READER, "DELETE", "disconnect_session", "v1", None, READ_ONLY.format("monitor")),
    *[(READER, "POST", action, "v1", None, ALLOWED) for action in sorted(READING_ACTIONS)],
    # write= overrides what the method says
    (READER, "GET", "get_vhost", "v1", True, READ_ONLY.format("monitor")),
    (READER, "POST", "create_apps", "v1", False, ALLOWED),
    (READER, "POST", "list_records", "v1", True, READ_ONLY.format("monitor")),
    # vhost-limited: its vhosts, and the server-wide routes whose answer is filtered
    (OPS, "POST", "create_apps", "v2", None, ALLOWED),
    (OPS, "GET", "get_vhost", "v2", None, ALLOWED),
    (OPS, "GET", "get_vhost", "v1", None, NOT_FOR_VHOST.format("ops", "v1")),
    (OPS, "DELETE", "delete_vhost", "V2", None, NOT_FOR_VHOST.format("ops", "V2")),
    (OPS, "GET", "stats_server", None, None, SERVER_WIDE.format("ops")),
    (OPS, "POST", "create_vhosts", None, None, SERVER_WIDE.format("ops")),
    (OPS, "GET", "metrics", None, None, SERVER_WIDE.format("ops")),
    (OPS, "GET", "events", None, None, ALLOWED),
    (OPS, "GET", "events", "v1", None, ALLOWED),
    # both: the read-only check comes first
    (BOTH, "GET", "get_vhost", "v2", None, ALLOWED),
    (BOTH, "POST", "list_pushes", "v2", None, ALLOWED),
    (BOTH, "POST", "create_apps", "v2", None, READ_ONLY.format("both")),
    (BOTH, "POST", "create_apps", "v1", None, READ_ONLY.format("both")),
    (BOTH, "GET", "get_vhost", "v1", None, NOT_FOR_VHOST.format("both", "v1")),
    (BOTH, "GET", "stats_server", None, None, SERVER_WIDE.format("both")),
]


@pytest.mark.parametrize(("identity", "method", "action", "vhost", "write", "refused"), SCOPE_ROWS)
def test_check_scope(
    identity: Identity,
    method: str,
    action: str,
    vhost: str | None,
    write: bool | None,
    refused: str | None,
) -> None:
    try:
        check_scope(identity, method, action, vhost, write=write)
    except ApiError as error:
        assert error.status == 403
        assert error.message == refused
    else:
        assert refused is ALLOWED


def test_the_reading_posts_are_the_documented_ones() -> None:
    # docs/compatibility.md: POSTs that only read (:records, :pushes, :hlsDumps) are reads
    assert {"list_records", "list_pushes", "hls_dumps"} <= READING_ACTIONS
