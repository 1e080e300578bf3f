"""Access-token verification (ome-rest-api.md §3.3, contract §2) and the brute-force brake."""

from __future__ import annotations

import base64
import contextlib
import hmac
import threading
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import authorization_values, basic_spellings, tokens

import omeapi._access.auth
from omeapi._access.auth import (
    BAD_CREDENTIAL,
    BAD_FORMAT,
    BAD_HEADER,
    EMPTY_TOKEN,
    MISSING_HEADER,
    AuthVerifier,
    decode_base64,
    parse_credential,
)
from omeapi._access.tokens import ADMIN, Identity, token_digest
from omeapi._errors import ApiError, AuthError, ConfigError, TooManyAttempts, WouldBlock
from omeapi._state.brake import FailureBrake, LocalFailures

TOKEN = "ome-access-token"
B64 = "b21lLWFjY2Vzcy10b2tlbg=="  # base64(TOKEN), as in ome-observed.md
REALM = ("WWW-Authenticate", 'Basic realm="OvenMediaEngine"')
OK = None


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def outcome(verifier: AuthVerifier, header: str | None, client: str = "") -> str | None:
    """None on success, else the error's wire message."""
    try:
        verifier.verify(header, client)
    except ApiError as error:
        return error.message
    return None


def msg(text: str) -> str:
    return f"[HTTP] {text} (401)"


# --- every outcome of ome-rest-api.md §3.3 ----------------------------------------------------

SPEC_ROWS = [
    # (Authorization, OME's message or OK, ours or "same", why ours differ)
    # 1. missing or empty (after trimming)
    (None, msg(MISSING_HEADER), "same", ""),
    ("", msg(MISSING_HEADER), "same", ""),
    ("  \t ", msg(MISSING_HEADER), "same", ""),
    # 2. not exactly two parts, split on single spaces
    (f"Basic  {B64}", msg(BAD_HEADER), "same", ""),
    ("Basic", msg(BAD_HEADER), "same", ""),
    ("Basic ", msg(BAD_HEADER), "same", ""),  # the trailing space is trimmed first
    (f"Basic {B64} extra", msg(BAD_HEADER), "same", ""),
    (f" Basic {B64}", OK, "same", ""),  # leading OWS trimmed too
    (f"Basic\t{B64}", msg(BAD_HEADER), "same", ""),  # a tab does not split
    # 3. scheme compared case-insensitively, echoed as sent otherwise
    (f"Bearer {B64}", msg("Not supported credential type: Bearer"), "same", ""),
    (f"basic {B64}", OK, "same", ""),
    (f"BaSiC {B64}", OK, "same", ""),
    (f"BASIC {B64}", OK, "same", ""),
    (f"Basics {B64}", msg("Not supported credential type: Basics"), "same", ""),
    (f"\u212aasic {B64}", msg("Not supported credential type: \u212aasic"), "same", ""),
    # 5. decoding
    (f"Basic {B64}", OK, "same", ""),
    ("Basic b21lLWFjY2Vzcy10b2tlbg", OK, "same", ""),  # padding optional
    ("Basic b21lLWFjY2Vzcy10b2tlbg==xyz", OK, msg(BAD_CREDENTIAL), "contract §2: strict base64"),
    ("Basic b21lLWFjY2Vzcy10b2tlbg!!", OK, msg(BAD_CREDENTIAL), "contract §2: strict base64"),
    ("Basic b21lLWFjY2Vzcy10b2tlbg=", OK, msg(BAD_CREDENTIAL), "contract §2: partial padding"),
    ("Basic b21lLWFjY2Vzcy10b2tlbg-_", OK, msg(BAD_CREDENTIAL), "contract §2: URL-safe is invalid"),
    ("Basic !!!", msg(BAD_CREDENTIAL), "same", ""),  # OME: decodes to "", a mismatch
    # 6. comparison: the whole decoded string
    (f"Basic {b64('wrong')}", msg(BAD_CREDENTIAL), "same", ""),
    (f"Basic {b64('user:' + TOKEN)}", msg(BAD_CREDENTIAL), "same", ""),
    (f"Basic {b64(TOKEN + chr(10))}", msg(BAD_CREDENTIAL), "same", ""),
    (f"Basic {b64(TOKEN[:-1])}", msg(BAD_CREDENTIAL), "same", ""),
]


@pytest.mark.parametrize(("header", "ome", "ours", "why"), SPEC_ROWS)
def test_spec_outcomes(header: str | None, ome: str | None, ours: str | None, why: str) -> None:
    expected = ome if ours == "same" else ours
    assert outcome(AuthVerifier(TOKEN), header) == expected, why
    assert (ours == "same") is (not why), "mark every difference"


def test_invalid_credential_format_is_step_four() -> None:
    # Unreachable over HTTP/1.1 (the value is trimmed first); the parsing step itself has it.
    with pytest.raises(AuthError) as info:
        parse_credential("Basic ")
    assert info.value.text == BAD_FORMAT


PARSE_ORDER = [
    # the first failing step wins
    ("Bearer  x", BAD_HEADER),  # step 2 before step 3
    ("Bearer !!!", "Not supported credential type: Bearer"),  # step 3 before step 5
    ("Basic !!!", BAD_CREDENTIAL),
]


@pytest.mark.parametrize(("value", "text"), PARSE_ORDER)
def test_first_failing_step_wins(value: str, text: str) -> None:
    with pytest.raises(AuthError) as info:
        parse_credential(value)
    assert info.value.text == text


def test_user_password_token() -> None:
    verifier = AuthVerifier("admin:s3cret")
    verifier.verify(f"Basic {b64('admin:s3cret')}")
    assert outcome(verifier, f"Basic {b64('admin')}") == msg(BAD_CREDENTIAL)
    assert outcome(verifier, f"Basic {b64('s3cret')}") == msg(BAD_CREDENTIAL)


def test_error_carries_status_and_challenge() -> None:
    with pytest.raises(AuthError) as info:
        AuthVerifier(TOKEN).verify(None)
    assert info.value.status == 401
    assert info.value.headers == (REALM,)


def test_decoded_bytes_that_are_not_utf8_do_not_match() -> None:
    token = "caf\u00e9"
    latin1 = base64.b64encode(token.encode("latin-1")).decode()
    assert outcome(AuthVerifier(token), f"Basic {latin1}") == msg(BAD_CREDENTIAL)
    invalid = base64.b64encode(b"\xff\xfe").decode()
    assert outcome(AuthVerifier(token), f"Basic {invalid}") == msg(BAD_CREDENTIAL)
    AuthVerifier(token).verify(f"Basic {b64(token)}")


def test_comparisons_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(omeapi._access.auth, "hmac", SimpleNamespace(compare_digest=spy))
    verifier = AuthVerifier(TOKEN)
    verifier.verify(f"Basic {B64}")  # usual form: one comparison
    assert len(calls) == 1
    verifier.verify(f"basic {B64.rstrip('=')}")  # other form: parsed, then compared
    assert len(calls) == 3
    assert outcome(verifier, f"Basic {b64('x')}") == msg(BAD_CREDENTIAL)
    assert len(calls) == 5
    # only fixed-length digests are compared, so not even the token's length shows
    assert all(len(a) == len(b) == 32 for a, b in calls)


def test_token_is_not_kept() -> None:
    verifier = AuthVerifier(TOKEN)
    assert TOKEN not in repr(verifier)
    assert all(TOKEN not in repr(getattr(verifier, s)) for s in AuthVerifier.__slots__)


# --- ome-observed.md, cases 1–15 --------------------------------------------------------------

OBSERVED_ROWS = [
    # (case, Authorization, OME's answer, why ours is the same)
    (1, None, msg(MISSING_HEADER), ""),
    (2, "Basic d3Jvbmc=", msg(BAD_CREDENTIAL), ""),
    (3, "Basic !!!not-base64!!!", msg(BAD_CREDENTIAL), "strict base64: invalid, same text"),
    (4, "Basic dXNlcjpvbWUtYWNjZXNzLXRva2Vu", msg(BAD_CREDENTIAL), ""),
    (5, "Bearer ome-access-token", msg("Not supported credential type: Bearer"), ""),
    (6, "basic b21lLWFjY2Vzcy10b2tlbg==", OK, ""),
    (7, "Basic", msg(BAD_HEADER), ""),
    (8, "Basic b21lLWFjY2Vzcy10b2tlbg== extra", msg(BAD_HEADER), ""),
    (9, "Basic a", msg(BAD_CREDENTIAL), "strict base64: 4n+1 characters, same text"),
    (10, "Basic ====", msg(BAD_CREDENTIAL), "strict base64: padding only, same text"),
    (11, "Basic b21lLWFjY2Vzcy10b2tlbgo=", msg(BAD_CREDENTIAL), ""),
    (12, "Basic b21lLWFjY2Vzcy10b2tlbg", OK, ""),
    (13, "Basic  b21lLWFjY2Vzcy10b2tlbg==", msg(BAD_HEADER), ""),
    (14, None, msg(MISSING_HEADER), "unknown path: auth runs before routing"),
    (15, "Basic b21lLWFjY2Vzcy10b2tlbg==", OK, ""),
]


@pytest.mark.parametrize(("case", "header", "ome", "note"), OBSERVED_ROWS)
def test_observed(case: int, header: str | None, ome: str | None, note: str) -> None:
    assert outcome(AuthVerifier(TOKEN), header) == ome, f"case {case} {note}"


# --- base64 -----------------------------------------------------------------------------------

BASE64_ROWS = [
    ("b21lLWFjY2Vzcy10b2tlbg==", TOKEN.encode()),
    ("b21lLWFjY2Vzcy10b2tlbg", TOKEN.encode()),
    ("YWJj", b"abc"),
    ("YWI=", b"ab"),
    ("YWI", b"ab"),
    ("YQ==", b"a"),
    ("YQ", b"a"),
    ("", b""),
    ("+/+/", b"\xfb\xff\xbf"),
    ("YQ=", None),  # incomplete padding
    ("YQ===", None),
    ("YWJj=", None),  # padding where none is due
    ("====", None),
    ("a", None),  # 4n+1 characters
    ("YWJjZ", None),
    ("YW Jj", None),
    ("YWJj\n", None),
    ("-_-_", None),  # URL-safe alphabet
    ("YQ==YQ==", None),
    ("\u0661\u0662\u0663\u0664", None),  # non-ASCII digits
]


@pytest.mark.parametrize(("text", "decoded"), BASE64_ROWS)
def test_decode_base64(text: str, decoded: bytes | None) -> None:
    assert decode_base64(text) == decoded


@given(st.binary())
def test_base64_round_trip(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    assert decode_base64(encoded) == data
    assert decode_base64(encoded.rstrip("=")) == data


# --- configuration ----------------------------------------------------------------------------

EMPTY = "[Config] Empty <AccessToken> is not allowed"


@pytest.mark.parametrize("token", ["", None])
def test_empty_token_is_a_config_error(token: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        AuthVerifier.from_config(token)
    assert info.value.message == EMPTY


def test_empty_token_constructor() -> None:
    with pytest.raises(ConfigError):
        AuthVerifier("")


@pytest.mark.parametrize("token", ["", None])
def test_explicit_no_auth(token: str | None) -> None:
    assert AuthVerifier.from_config(token, allow_no_auth=True) is None
    assert AuthVerifier.from_config(token, api_enabled=False) is None


def test_from_config() -> None:
    verifier = AuthVerifier.from_config(TOKEN, allow_no_auth=True)
    assert verifier is not None  # a configured token is always enforced
    assert verifier.brake is None
    verifier.verify(f"Basic {B64}")
    mine = FailureBrake(limit=3)
    chosen = AuthVerifier.from_config(TOKEN, brake=mine)
    assert chosen is not None
    assert chosen.brake is mine


# --- properties -------------------------------------------------------------------------------


@given(token=tokens(), scheme=basic_spellings(), padded=st.booleans())
def test_any_token_survives_encode_verify(token: str, scheme: str, padded: bool) -> None:
    encoded = base64.b64encode(token.encode()).decode()
    AuthVerifier(token).verify(f"{scheme} {encoded if padded else encoded.rstrip('=')}")


@given(token=tokens(), other=tokens())
def test_another_token_is_refused(token: str, other: str) -> None:
    if token == other:
        return
    header = f"Basic {base64.b64encode(other.encode()).decode()}"
    assert outcome(AuthVerifier(token), header) == msg(BAD_CREDENTIAL)


@given(header=authorization_values(), token=st.sampled_from([TOKEN, "a:b", "\u00e9\u00e8"]))
def test_arbitrary_headers_raise_only_auth_errors(header: str | None, token: str) -> None:
    try:
        AuthVerifier(token).verify(header, "client")
    except AuthError as error:
        assert error.status == 401
        assert error.headers == (REALM,)


@given(header=authorization_values())
def test_arbitrary_headers_with_a_brake(header: str | None) -> None:
    verifier = AuthVerifier(TOKEN, brake=FailureBrake(limit=2, clock=lambda: 0.0))
    for _ in range(4):
        with contextlib.suppress(AuthError, TooManyAttempts):
            verifier.verify(header, "c")


# --- the brute-force brake --------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


WRONG = f"Basic {b64('wrong')}"
RIGHT = f"Basic {B64}"


def braked(
    limit: int = 10, window: float = 60.0, max_clients: int = 10000
) -> tuple[AuthVerifier, FakeClock]:
    clock = FakeClock()
    brake = FailureBrake(limit, window, clock=clock, max_clients=max_clients)
    return AuthVerifier(TOKEN, brake=brake), clock


def test_eleventh_attempt_is_429() -> None:
    verifier, clock = braked()
    for _ in range(10):
        assert outcome(verifier, WRONG, "1.2.3.4") == msg(BAD_CREDENTIAL)
        clock.now += 1
    with pytest.raises(TooManyAttempts) as info:
        verifier.verify(RIGHT, "1.2.3.4")  # even the right token
    assert info.value.status == 429
    assert info.value.message == "[HTTP] Too many failed authentication attempts (429)"
    # the first failure was at 1000, it leaves the window at 1060; now is 1010
    assert info.value.headers == (("Retry-After", "50"),)
    verifier.verify(RIGHT, "5.6.7.8")  # other clients are not affected


def test_window_passing_allows_again() -> None:
    verifier, clock = braked()
    for _ in range(10):
        outcome(verifier, WRONG, "c")
    assert outcome(verifier, RIGHT, "c") == "[HTTP] Too many failed authentication attempts (429)"
    clock.now += 59.5
    with pytest.raises(TooManyAttempts) as info:
        verifier.verify(RIGHT, "c")
    assert info.value.headers == (("Retry-After", "1"),)  # rounded up
    clock.now += 0.5
    verifier.verify(RIGHT, "c")


def test_sliding_window() -> None:
    verifier, clock = braked(limit=3, window=10)
    for _ in range(3):
        outcome(verifier, WRONG, "c")
        clock.now += 4  # failures at 1000, 1004, 1008; now 1012
    # 1000 has left the window: one more attempt, which fails and brakes again
    assert outcome(verifier, WRONG, "c") == msg(BAD_CREDENTIAL)
    assert verifier.brake is not None
    assert verifier.brake.retry_after("c") == pytest.approx(2.0)  # until 1004 leaves


def test_success_resets_the_count() -> None:
    verifier, _ = braked()
    for _ in range(9):
        outcome(verifier, WRONG, "c")
    verifier.verify(RIGHT, "c")
    for _ in range(9):
        assert outcome(verifier, WRONG, "c") == msg(BAD_CREDENTIAL)
    verifier.verify(RIGHT, "c")


def test_missing_header_is_not_a_guess() -> None:
    verifier, _ = braked(limit=2)
    for _ in range(5):
        assert outcome(verifier, None, "c") == msg(MISSING_HEADER)
    verifier.verify(RIGHT, "c")


def test_every_other_failure_counts() -> None:
    verifier, _ = braked(limit=4)
    for header in ("Basic", "Bearer x", "Basic !!", WRONG):
        outcome(verifier, header, "c")
    with pytest.raises(TooManyAttempts):
        verifier.verify(RIGHT, "c")


def test_memory_bounded_under_a_flood_of_addresses() -> None:
    verifier, _ = braked(max_clients=100)
    for i in range(5000):
        outcome(verifier, WRONG, f"10.0.{i // 256}.{i % 256}")
    assert verifier.brake is not None
    assert verifier.brake.tracked_clients == 100


def test_eviction_drops_the_least_recently_failed() -> None:
    clock = FakeClock()
    brake = FailureBrake(limit=2, clock=clock, max_clients=2)
    brake.failed("a")
    brake.failed("b")
    brake.failed("a")  # a is now the most recent
    brake.failed("c")  # evicts b
    assert brake.tracked_clients == 2
    with pytest.raises(TooManyAttempts):
        brake.check("a")
    assert brake.retry_after("b") is None


def test_expired_entries_are_dropped_on_check() -> None:
    clock = FakeClock()
    brake = FailureBrake(limit=2, window=5, clock=clock)
    brake.failed("a")
    clock.now += 5
    brake.check("a")
    assert brake.tracked_clients == 0


@pytest.mark.parametrize(
    "kwargs", [{"limit": 0}, {"window": 0}, {"window": -1.0}, {"max_clients": 0}]
)
def test_brake_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FailureBrake(**kwargs)  # type: ignore[arg-type]


def run_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def target(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_brake_loses_no_failure_under_threads() -> None:
    brake = FailureBrake(limit=800, clock=FakeClock())

    def work(n: int) -> None:
        for _ in range(100):
            brake.failed("shared")

    run_threads(8, work)
    assert brake.retry_after("shared") == pytest.approx(60.0)  # exactly 800 failures on record
    backend = brake.backend
    assert isinstance(backend, LocalFailures)
    assert backend._clients["shared"].maxlen == 800
    assert len(backend._clients["shared"]) == 800


def test_verifier_with_brake_under_threads() -> None:
    brake = FailureBrake(limit=10, clock=FakeClock(), max_clients=50)
    verifier = AuthVerifier(TOKEN, brake=brake)
    allowed = {None, msg(BAD_CREDENTIAL), "[HTTP] Too many failed authentication attempts (429)"}
    seen: set[str | None] = set()

    def work(n: int) -> None:
        for i in range(300):
            seen.add(outcome(verifier, WRONG if i % 3 else RIGHT, f"c{(n * 300 + i) % 120}"))

    run_threads(8, work)
    assert seen <= allowed
    assert brake.tracked_clients <= 50


def test_own_clients_are_braked_after_threads() -> None:
    brake = FailureBrake(limit=10, clock=FakeClock())
    verifier = AuthVerifier(TOKEN, brake=brake)

    def work(n: int) -> None:
        for _ in range(50):
            outcome(verifier, WRONG, f"t{n}")
            outcome(verifier, WRONG, "shared")

    run_threads(8, work)
    for client in [f"t{n}" for n in range(8)] + ["shared"]:
        with pytest.raises(TooManyAttempts):
            verifier.verify(RIGHT, client)


@pytest.mark.parametrize(("brake", "kind"), [(True, FailureBrake), (False, type(None))])
def test_open_api_builds_the_brake(brake: bool, kind: type) -> None:
    from conftest import make_api

    auth = make_api(brake=brake).auth
    assert auth is not None and isinstance(auth.brake, kind)


# --- what is not trimmed ----------------------------------------------------------------------

# An HTTP parser trims only SP and HTAB from a field value; str.strip() would also take these
# (NBSP, VT, FF, NEL) and so accept a header no HTTP client sends as the token.
NOT_SPACE = ["\xa0", "\x0b", "\x0c", "\x85"]


@pytest.mark.parametrize("pad", NOT_SPACE)
def test_other_whitespace_around_authorization_is_not_trimmed(pad: str) -> None:
    verifier = AuthVerifier(TOKEN)
    scheme = f"Not supported credential type: {pad}Basic"
    assert outcome(verifier, f"{pad}Basic {B64}") == msg(scheme)
    assert outcome(verifier, f"Basic {B64}{pad}") == msg(BAD_CREDENTIAL)
    assert outcome(verifier, pad) == msg(BAD_HEADER)  # not empty: not a missing header


# --- the brake, from the verifier's side ------------------------------------------------------


def test_a_success_through_the_slow_path_resets_the_count() -> None:
    verifier, _ = braked()
    slow = "basic " + B64.rstrip("=")  # not the usual spelling: parsed step by step
    for _ in range(9):
        outcome(verifier, WRONG, "c")
    verifier.verify(slow, "c")
    for _ in range(9):
        assert outcome(verifier, WRONG, "c") == msg(BAD_CREDENTIAL)
    verifier.verify(slow, "c")


class OverLimit:
    """A brake another process filled: it lets the check pass, then says how long to wait."""

    def __init__(self, wait: float) -> None:
        self.wait = wait

    def check(self, client: str) -> None:
        pass

    def failed(self, client: str) -> float | None:
        return self.wait

    def succeeded(self, client: str) -> None:
        raise AssertionError("not a success")


@pytest.mark.parametrize(("wait", "retry_after"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.5, "2")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, retry_after: str) -> None:
    verifier = AuthVerifier(TOKEN, brake=OverLimit(wait))
    with pytest.raises(TooManyAttempts) as info:
        verifier.verify(WRONG, "c")
    assert info.value.headers == (("Retry-After", retry_after),)


def test_lone_surrogates_are_bytes_like_any_other() -> None:
    # An ASGI server can hand over a header with a lone surrogate; it must be an ordinary
    # mismatch (or match), never an encoding error.
    verifier = AuthVerifier("a\ud800")
    raw = "a\ud800".encode("utf-8", "surrogatepass")
    verifier.verify("Basic " + base64.b64encode(raw).decode())
    assert outcome(verifier, "Basic \ud800") == msg(BAD_CREDENTIAL)
    assert outcome(AuthVerifier(TOKEN), "\ud800") == msg(BAD_HEADER)


def test_an_empty_token_error_says_so() -> None:
    with pytest.raises(ConfigError) as info:
        AuthVerifier("")
    assert str(info.value) == EMPTY_TOKEN


# --- scoped tokens: the lookup ----------------------------------------------------------------

SCOPED = "omeapi_0123abcd_scoped-secret"
MONITOR = Identity("monitor", read_only=True)


class Lookup:
    """A :data:`~omeapi._access.auth.TokenLookup` over one scoped token that records its calls."""

    def __init__(self, secret: str = SCOPED, identity: Identity = MONITOR) -> None:
        self.table = {token_digest(secret): identity}
        self.calls: list[tuple[bytes, bool]] = []

    def __call__(self, digest: bytes, may_block: bool) -> Identity | None:
        self.calls.append((digest, may_block))
        return self.table.get(digest)


def outcome_with(verifier: AuthVerifier, header: str, lookup: Lookup) -> str | None:
    try:
        verifier.verify(header, "c", lookup=lookup)
    except ApiError as error:
        return error.message
    return None


@pytest.mark.parametrize("may_block", [True, False])
def test_a_scoped_token_is_found_by_its_digest(may_block: bool) -> None:
    lookup = Lookup()
    who = AuthVerifier(TOKEN).verify(f"Basic {b64(SCOPED)}", may_block=may_block, lookup=lookup)
    assert who is MONITOR
    # asked with the SHA-256 of the decoded credential, and told whether it may block
    assert lookup.calls == [(token_digest(SCOPED), may_block)]
    assert type(lookup.calls[0][1]) is bool


def test_an_unknown_scoped_token_is_an_invalid_credential() -> None:
    lookup = Lookup()
    verifier, _ = braked(limit=1)
    assert outcome_with(verifier, f"Basic {b64('omeapi_nobody')}", lookup) == msg(BAD_CREDENTIAL)
    assert lookup.calls == [(token_digest("omeapi_nobody"), True)]
    # and it is a failed attempt like any other: the brake counts it
    with pytest.raises(TooManyAttempts):
        verifier.verify(f"Basic {b64(SCOPED)}", "c", lookup=lookup)


def test_the_access_token_never_asks_the_lookup() -> None:
    lookup = Lookup(TOKEN, MONITOR)  # even a store that (wrongly) holds it as a scoped token
    verifier = AuthVerifier(TOKEN)
    assert verifier.verify(RIGHT, lookup=lookup) is ADMIN
    assert verifier.verify(f"basic {B64}", lookup=lookup) is ADMIN
    assert lookup.calls == []


# --- the brake on the non-blocking path -------------------------------------------------------


class Recording:
    """A brake that admits everyone and records what the verifier tells it.  It has no
    ``settled``: it cannot say whether a success needs bookkeeping that may block."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def check(self, client: str) -> None:
        self.calls.append(("check", client))

    def failed(self, client: str) -> float | None:
        self.calls.append(("failed", client))
        return None

    def succeeded(self, client: str) -> None:
        self.calls.append(("succeeded", client))


class Settling(Recording):
    """A brake that says, per client, whether a success needs no blocking bookkeeping."""

    def __init__(self, *settled: str) -> None:
        super().__init__()
        self.settled_clients = settled

    def settled(self, client: str) -> bool:
        self.calls.append(("settled", client))
        return client in self.settled_clients


SUCCESSES = [RIGHT, f"basic {B64.rstrip('=')}"]  # the usual form, and one parsed step by step


@pytest.mark.parametrize("header", SUCCESSES)
def test_a_success_is_recorded_when_blocking_is_allowed(header: str) -> None:
    brake = Recording()
    assert AuthVerifier(TOKEN, brake=brake).verify(header, "c") is ADMIN
    assert brake.calls == [("check", "c"), ("succeeded", "c")]


@pytest.mark.parametrize("header", SUCCESSES)
def test_a_success_that_may_need_the_store_would_block(header: str) -> None:
    brake = Recording()
    with pytest.raises(WouldBlock):
        AuthVerifier(TOKEN, brake=brake).verify(header, "c", may_block=False)
    assert brake.calls == [("check", "c")]  # nothing recorded: it is answered again, whole


@pytest.mark.parametrize("header", SUCCESSES)
def test_a_settled_client_succeeds_without_blocking(header: str) -> None:
    brake = Settling("c")
    assert AuthVerifier(TOKEN, brake=brake).verify(header, "c", may_block=False) is ADMIN
    assert brake.calls == [("check", "c"), ("settled", "c"), ("succeeded", "c")]


@pytest.mark.parametrize("header", SUCCESSES)
def test_an_unsettled_client_would_block(header: str) -> None:
    brake = Settling("someone else")
    with pytest.raises(WouldBlock):
        AuthVerifier(TOKEN, brake=brake).verify(header, "c", may_block=False)
    assert brake.calls == [("check", "c"), ("settled", "c")]


def test_a_scoped_success_goes_through_the_same_brake() -> None:
    brake = Settling("c")
    verifier = AuthVerifier(TOKEN, brake=brake)
    scoped = f"Basic {b64(SCOPED)}"
    assert verifier.verify(scoped, "c", may_block=False, lookup=Lookup()) is MONITOR
    assert brake.calls == [("check", "c"), ("settled", "c"), ("succeeded", "c")]
    with pytest.raises(WouldBlock):
        verifier.verify(scoped, "d", may_block=False, lookup=Lookup())


def test_a_failure_would_block_before_it_is_counted() -> None:
    brake = Settling("c")
    with pytest.raises(WouldBlock):
        AuthVerifier(TOKEN, brake=brake).verify(WRONG, "c", may_block=False)
    assert brake.calls == [("check", "c")]


def test_a_missing_header_needs_no_counting_so_never_blocks() -> None:
    brake = Recording()
    assert outcome(AuthVerifier(TOKEN, brake=brake), None, "c") == msg(MISSING_HEADER)
    with pytest.raises(AuthError) as info:
        AuthVerifier(TOKEN, brake=brake).verify("", "c", may_block=False)
    assert info.value.text == MISSING_HEADER
    assert brake.calls == [("check", "c"), ("check", "c")]


def test_a_request_without_a_client_address_is_counted_as_the_empty_client() -> None:
    brake = Recording()
    verifier = AuthVerifier(TOKEN, brake=brake)
    outcome(verifier, WRONG)
    verifier.verify(RIGHT)
    assert brake.calls == [("check", ""), ("failed", ""), ("check", ""), ("succeeded", "")]


# --- the quiet check (a request another process authenticated) --------------------------------


class NoBrake(Recording):
    def check(self, client: str) -> None:
        raise AssertionError("the quiet check consults no brake")


QUIET_ROWS = [
    # (Authorization, who: an identity, or the 401 message)
    (RIGHT, ADMIN),
    (f"basic {B64.rstrip('=')}", ADMIN),
    (f"  Basic {b64(SCOPED)}\t", MONITOR),
    (WRONG, BAD_CREDENTIAL),
    (f"Basic {b64('omeapi_nobody')}", BAD_CREDENTIAL),
    (f"Bearer {B64}", "Not supported credential type: Bearer"),
    ("Basic", BAD_HEADER),
    ("\ud800", BAD_HEADER),  # a lone surrogate (from an ASGI server): bytes like any other
    ("Basic \ud800", BAD_CREDENTIAL),
    (None, MISSING_HEADER),
    ("", MISSING_HEADER),
]


@pytest.mark.parametrize(("header", "who"), QUIET_ROWS)
def test_verify_quietly(header: str | None, who: Identity | str) -> None:
    brake = NoBrake()
    verifier = AuthVerifier(TOKEN, brake=brake)
    lookup = Lookup()
    if isinstance(who, Identity):
        assert verifier.verify_quietly(header, lookup) is who
        assert verifier.identify(header, lookup) is who
    else:
        with pytest.raises(AuthError) as info:
            verifier.verify_quietly(header, lookup)
        assert info.value.text == who
        assert verifier.identify(header, lookup) is None
    assert brake.calls == []
    # the lookup may always block here, and is asked only for what is not the AccessToken
    assert all(may_block is True for _, may_block in lookup.calls)
    if who is ADMIN:
        assert lookup.calls == []


def test_the_quiet_check_without_a_lookup() -> None:
    verifier = AuthVerifier(TOKEN)
    assert verifier.identify(RIGHT, None) is ADMIN
    assert verifier.identify(f"Basic {b64(SCOPED)}", None) is None
    with pytest.raises(AuthError) as info:
        verifier.verify_quietly(f"Basic {b64(SCOPED)}", None)
    assert info.value.text == BAD_CREDENTIAL
