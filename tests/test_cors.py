"""CORS: ``<CrossDomains>`` patterns and the API's two managers.

Rows come from ome-server-xml.md §4 and ome-rest-api.md §3.4 (what OME does) and
ome-observed.md cases 95–112 (what a real OME answered); rows where contract §2 makes omeapi
differ say so and carry both results.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    any_header_value,
    cors_patterns,
    cors_url_lists,
    grouped_patterns,
    near_instances,
    origins,
    pattern_instances,
    schemeless_host_patterns,
    well_formed_origins,
)

from omeapi._access.cors import (
    ALLOW_CREDENTIALS,
    ALLOW_HEADERS,
    ALLOW_METHODS,
    ALLOW_ORIGIN,
    API_METHODS,
    ApiCors,
    CorsPolicy,
    PolicyKind,
    is_origin,
)
from omeapi._access.hosts import wildcard_regex
from omeapi._errors import ApiError

# Each example compiles patterns: on a loaded machine that must not become a flaky deadline.
NO_DEADLINE = settings(deadline=None)

# The spec's Python port (ome-server-xml.md §4.2), plus contract §2's rule on the Origin form.
_ESC = re.compile(r"([\[\\./+{}$^|])")


def ome_pattern_matches(url: str, origin: str) -> bool:
    body = _ESC.sub(r"\\\1", url).replace("*", ".*").replace("?", ".?")
    if "://" not in url:
        body = r"(http.?:\/\/)?" + body
    try:
        return re.match("^" + body + "$", origin) is not None
    except re.error:
        return False


def our_pattern_matches(url: str, origin: str) -> bool:
    return is_origin(origin) and ome_pattern_matches(url, origin)


VARY = ("Vary", "Origin")
METHODS = (ALLOW_METHODS, API_METHODS)


# --- §4.3: the meaning of * and ? -------------------------------------------------------------

COMPILED = [
    ("*.airensoft.com", r".*\.airensoft\.com"),
    ("airensoft.com", r"airensoft\.com"),
    ("http://*.sub-domain.airensoft.com", r"http:\/\/.*\.sub-domain\.airensoft\.com"),
    ("http?://airensoft.*", r"http.?:\/\/airensoft\..*"),
    ("localhost:3000", "localhost:3000"),
]


@pytest.mark.parametrize(("url", "body"), COMPILED)
def test_compiled_column(url: str, body: str) -> None:
    # §4.3's "Compiled" column without OME's anchors and optional-scheme prefix.
    assert wildcard_regex(url) == body


# (pattern, Origin, OME's result, ours, why ours differs or "")
NOT_ORIGIN = "contract §2: not scheme://host[:port]"
PATTERN_ROWS = [
    ("*.airensoft.com", "https://www.airensoft.com", True, True, ""),
    ("*.airensoft.com", "www.airensoft.com", True, False, NOT_ORIGIN),
    ("*.airensoft.com", "https://a.b.airensoft.com", True, True, ""),
    ("*.airensoft.com", "https://airensoft.com", False, False, ""),
    ("*.airensoft.com", "https://www.airensoft.com:8443", False, False, ""),
    ("*.airensoft.com", "https://WWW.AIRENSOFT.COM", False, False, ""),
    ("*.airensoft.com", "ftp://x.airensoft.com", True, True, ""),
    ("*.airensoft.com", "https://evil.com/.airensoft.com", True, False, NOT_ORIGIN),
    ("*.airensoft.com", "null", False, False, ""),
    ("*.airensoft.com", "", False, False, ""),
    ("airensoft.com", "https://airensoft.com", True, True, ""),
    ("airensoft.com", "http://airensoft.com", True, True, ""),
    ("airensoft.com", "airensoft.com", True, False, NOT_ORIGIN),
    ("airensoft.com", "ftp://airensoft.com", False, False, ""),
    ("airensoft.com", "https://airensoft.com:443", False, False, ""),
    ("http://*.sub-domain.airensoft.com", "http://a.sub-domain.airensoft.com", True, True, ""),
    ("http://*.sub-domain.airensoft.com", "https://a.sub-domain.airensoft.com", False, False, ""),
    ("http://*.sub-domain.airensoft.com", "http://sub-domain.airensoft.com", False, False, ""),
    ("http?://airensoft.*", "http://airensoft.com", True, True, ""),
    ("http?://airensoft.*", "https://airensoft.com:8080", True, True, ""),
    ("http?://airensoft.*", "httpx://airensoft.com", True, True, ""),
    ("http?://airensoft.*", "https://airensoft", False, False, ""),
    ("https://demo.ovenplayer.com", "https://demo.ovenplayer.com", True, True, ""),
    ("https://demo.ovenplayer.com", "http://demo.ovenplayer.com", False, False, ""),
    ("https://demo.ovenplayer.com", "https://demo.ovenplayer.com:443", False, False, ""),
    ("localhost:3000", "http://localhost:3000", True, True, ""),
    ("localhost:3000", "http://localhost:30001", False, False, ""),
    ("", "", True, False, NOT_ORIGIN + " (a missing Origin)"),
    ("", "http://", True, False, NOT_ORIGIN + " (no host)"),
    # ? is zero or one character: http?:// accepts http://, https:// and httpx://
    ("http?://a.com", "http://a.com", True, True, ""),
    ("http?://a.com", "https://a.com", True, True, ""),
    ("http?://a.com", "httpx://a.com", True, True, ""),
    ("http?://a.com", "httpxy://a.com", False, False, ""),
    ("a.com", "httpx://a.com", True, True, "(optional scheme is http.?://)"),
    ("nul?l", "null", True, True, "null is an origin a pattern may match"),
    ("(a.com", "http://(a.com", False, False, "a pattern that does not compile never matches"),
]


@pytest.mark.parametrize(("url", "origin", "ome", "ours", "why"), PATTERN_ROWS)
def test_pattern_rows(url: str, origin: str, ome: bool, ours: bool, why: str) -> None:
    assert ome_pattern_matches(url, origin) is ome, "the row must describe OME"
    policy = CorsPolicy.compile([url])
    assert policy.kind is PolicyKind.ORIGIN
    assert policy.matches(origin) is ours, why
    assert (policy.allow_origin(origin) == origin) is ours, why
    assert (ome is ours) is (not why.startswith("contract")), "mark every difference"


# --- §4.1: compiling a <Url> list -------------------------------------------------------------

STAR = (
    "Invalid CORS settings found for API: '*' cannot be used with other CORS patterns. "
    "Other CORS patterns are ignored."
)
NULL = (
    "Invalid CORS settings found for API: 'null' cannot be used with other CORS patterns. "
    "'null' is ignored."
)

COMPILE_ROWS = [
    # (urls, kind, warnings)
    ([], PolicyKind.EMPTY, []),
    (["*"], PolicyKind.ALL, []),
    (["*", "a.com"], PolicyKind.ALL, [STAR]),
    (["a.com", "*"], PolicyKind.ALL, [STAR]),
    (["null"], PolicyKind.NULL, []),
    (["null", "a.com"], PolicyKind.ORIGIN, [NULL]),
    (["a.com", "null"], PolicyKind.ORIGIN, [NULL]),
    (["null", "null"], PolicyKind.EMPTY, [NULL, NULL]),
    (["a.com"], PolicyKind.ORIGIN, []),
    (["(a.com"], PolicyKind.ORIGIN, ["Invalid CORS pattern found for API: '(a.com' never matches"]),
    (["NULL"], PolicyKind.ORIGIN, []),  # exact, case-sensitive
    ([" *"], PolicyKind.ORIGIN, []),  # exact, not trimmed
]


@pytest.mark.parametrize(("urls", "kind", "warnings"), COMPILE_ROWS)
def test_compile(urls: list[str], kind: PolicyKind, warnings: list[str]) -> None:
    policy = CorsPolicy.compile(urls, scope="API")
    assert policy.kind is kind
    assert list(policy.warnings) == warnings


ALLOW_ORIGIN_ROWS = [
    # (urls, Origin, Allow-Origin value or None, why)
    ([], "http://a.com", None, "Empty accepts nothing"),
    (["*"], "", "*", "All without Origin"),
    (["*"], "http://a.com", "http://a.com", "contract §2: All echoes a real Origin"),
    (["*"], "null", "null", "contract §2: null is an Origin"),
    (["*"], "a.com", "*", "not an Origin: nothing to echo"),
    (["*", "b.com"], "http://a.com", "http://a.com", "other patterns ignored"),
    (["null"], "", "null", "Null accepts every request"),
    (["null"], "http://a.com", "null", "Null accepts every request"),
    (["null", "a.com"], "null", None, "null ignored beside patterns"),
    (["null", "a.com"], "http://a.com", "http://a.com", "the pattern still works"),
]


@pytest.mark.parametrize(("urls", "origin", "value", "why"), ALLOW_ORIGIN_ROWS)
def test_allow_origin(urls: list[str], origin: str, value: str | None, why: str) -> None:
    assert CorsPolicy.compile(urls).allow_origin(origin) == value, why


def test_policy_equality_and_repr() -> None:
    a = CorsPolicy.compile(["a.com"], [("X", "1")], "API")
    assert a == CorsPolicy.compile(("a.com",), (("X", "1"),), "API")
    assert a != CorsPolicy.compile(["b.com"])
    assert a != CorsPolicy.compile(["a.com"], [("X", "1")], "Defaults")  # the scope counts
    # The class and compile() build the same policy; the scope is empty unless given.
    assert CorsPolicy(["a.com"]) == CorsPolicy.compile(["a.com"], (), "")
    assert CorsPolicy.compile(["a.com"]) == CorsPolicy(["a.com"], (), "")
    assert hash(a) == hash(CorsPolicy.compile(["a.com"], [("X", "1")], "API"))
    assert "ORIGIN" in repr(a)


# --- ome-observed.md cases 95–112 -------------------------------------------------------------

OBSERVED_API = CorsPolicy.compile(["*.example.com", "http://*.sub.example.org", "http?://ome.*"])
OBSERVED = ApiCors(None, OBSERVED_API)
ASKED = "authorization, content-type"


def accepted(origin: str, asked: str | None = None) -> list[tuple[str, str]]:
    out = [(ALLOW_ORIGIN, origin), (ALLOW_CREDENTIALS, "true"), METHODS]
    if asked:
        out.append((ALLOW_HEADERS, asked))
    return [*out, VARY]


NOTHING = [VARY]

OBSERVED_ROWS = [
    # (case, Origin, Access-Control-Request-Headers, OME's headers, ours, why ours differ)
    (95, "http://a.example.com", ASKED, accepted("http://a.example.com", ASKED), None, ""),
    (96, "https://a.example.com", ASKED, accepted("https://a.example.com", ASKED), None, ""),
    (97, "a.example.com", ASKED, accepted("a.example.com", ASKED), NOTHING, NOT_ORIGIN),
    (98, "http://example.com", ASKED, NOTHING, None, ""),
    (99, "http://a.example.com:8080", ASKED, NOTHING, None, ""),
    (100, "http://x.sub.example.org", ASKED, accepted("http://x.sub.example.org", ASKED), None, ""),
    (101, "https://x.sub.example.org", ASKED, NOTHING, None, ""),
    (102, "http://ome.test", ASKED, accepted("http://ome.test", ASKED), None, ""),
    (103, "https://ome.test", ASKED, accepted("https://ome.test", ASKED), None, ""),
    (104, "httpx://ome.test", ASKED, accepted("httpx://ome.test", ASKED), None, ""),
    (105, "http://evil.com", ASKED, NOTHING, None, ""),
    (106, "null", ASKED, NOTHING, None, ""),
    (107, None, None, NOTHING, None, ""),
    (108, "http://a.example.com", None, accepted("http://a.example.com"), None, ""),
    (109, "http://a.example.com", None, accepted("http://a.example.com"), None, ""),
    (110, "http://evil.com", None, NOTHING, None, ""),
    (111, "https://ome.test", None, accepted("https://ome.test"), None, ""),
    (112, None, None, NOTHING, None, ""),
]


@pytest.mark.parametrize(("case", "origin", "asked", "ome", "ours", "why"), OBSERVED_ROWS)
def test_observed(
    case: int,
    origin: str | None,
    asked: str | None,
    ome: list[tuple[str, str]],
    ours: list[tuple[str, str]] | None,
    why: str,
) -> None:
    expected = ome if ours is None else ours
    # OME's header order varies between responses; names and values are what count.
    assert sorted(OBSERVED.headers(origin, asked)) == sorted(expected), f"case {case} {why}"


# --- §3.4 / §4.4: the two managers ------------------------------------------------------------

STAR_POLICY = CorsPolicy.compile(["*"])
EMPTY_BLOCK = CorsPolicy.compile([])
A_COM = CorsPolicy.compile(["https://a.com"])

MANAGER_ROWS = [
    # (Defaults block, API block, Origin, expected headers, why)
    (None, None, None, [METHODS, VARY], "no CORS anywhere: Allow-Methods still sent"),
    (None, None, "https://a.com", [METHODS, VARY], "no CORS anywhere"),
    (EMPTY_BLOCK, None, "https://a.com", [METHODS, VARY], "Defaults Empty, no API block"),
    (None, EMPTY_BLOCK, "https://a.com", [VARY], "API block without <Url> removes everything"),
    (
        STAR_POLICY,
        None,
        None,
        [(ALLOW_ORIGIN, "*"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "§4.4 shipped Server.xml: Defaults *, no API block",
    ),
    (
        STAR_POLICY,
        None,
        "https://b.com",
        [(ALLOW_ORIGIN, "https://b.com"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "contract §2: * echoes the Origin",
    ),
    (STAR_POLICY, A_COM, "https://b.com", [VARY], "the API block decides and removes"),
    (
        STAR_POLICY,
        A_COM,
        "https://a.com",
        [(ALLOW_ORIGIN, "https://a.com"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "the API block accepts",
    ),
    (
        A_COM,
        None,
        "https://a.com",
        [(ALLOW_ORIGIN, "https://a.com"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "Defaults accept, no API block: the result stays",
    ),
    (A_COM, None, "https://b.com", [METHODS, VARY], "Defaults refuse, API resets Allow-Methods"),
    (
        A_COM,
        STAR_POLICY,
        None,
        [(ALLOW_ORIGIN, "*"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "API * accepts what Defaults refused",
    ),
    (
        None,
        CorsPolicy.compile(["null"]),
        "https://x.com",
        [(ALLOW_ORIGIN, "null"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "Null accepts every request",
    ),
]


@pytest.mark.parametrize(("default", "api", "origin", "expected", "why"), MANAGER_ROWS)
def test_managers(
    default: CorsPolicy | None,
    api: CorsPolicy | None,
    origin: str | None,
    expected: list[tuple[str, str]],
    why: str,
) -> None:
    assert list(ApiCors(default, api).headers(origin, None)) == expected, why


# --- custom <Header> entries (§3.4 step 7, §4.2 steps 5–6) ------------------------------------


def custom(*headers: tuple[str, str], urls: tuple[str, ...] = ("https://a.com",)) -> ApiCors:
    return ApiCors(None, CorsPolicy.compile(urls, headers))


CUSTOM_ROWS = [
    # (headers, Origin, Access-Control-Request-Headers, expected, why)
    (
        [("X-Extra", "1")],
        "https://b.com",
        None,
        [("X-Extra", "1"), VARY],
        "other headers are set even when the origin is refused",
    ),
    (
        [("X-Extra", "a:b")],
        "https://a.com",
        None,
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, "true"),
            METHODS,
            ("X-Extra", "a:b"),
            VARY,
        ],
        "other headers keep a ':' in their value",
    ),
    (
        [(ALLOW_CREDENTIALS, "false")],
        "https://a.com",
        None,
        [(ALLOW_ORIGIN, "https://a.com"), (ALLOW_CREDENTIALS, "false"), METHODS, VARY],
        "Allow-Credentials override",
    ),
    (
        [("access-control-allow-methods", "GET")],
        "https://a.com",
        None,
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, "true"),
            (ALLOW_METHODS, "GET"),
            VARY,
        ],
        "Allow-Methods override, key case-insensitive",
    ),
    (
        [(ALLOW_HEADERS, "x-a")],
        "https://a.com",
        "x-b",
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, "true"),
            METHODS,
            (ALLOW_HEADERS, "x-a"),
            VARY,
        ],
        "Allow-Headers override beats the echo",
    ),
    (
        [(ALLOW_HEADERS, "x-a")],
        "https://a.com",
        None,
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, "true"),
            METHODS,
            (ALLOW_HEADERS, "x-a"),
            VARY,
        ],
        "Allow-Headers override without a request header",
    ),
    (
        [(ALLOW_HEADERS, "x-a"), (ALLOW_CREDENTIALS, "false")],
        "https://b.com",
        "x-b",
        [VARY],
        "overrides apply only when the origin is accepted",
    ),
    (
        [(ALLOW_METHODS, "GET: POST"), (ALLOW_HEADERS, "a:b"), (ALLOW_CREDENTIALS, "x:y")],
        "https://a.com",
        "x-b",
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, "true"),
            METHODS,
            (ALLOW_HEADERS, "x-b"),
            VARY,
        ],
        "an override whose value holds ':' is dropped: defaults apply",
    ),
    (
        [(ALLOW_CREDENTIALS, ""), (ALLOW_METHODS, ""), (ALLOW_HEADERS, "")],
        "https://a.com",
        "x-b",
        [
            (ALLOW_ORIGIN, "https://a.com"),
            (ALLOW_CREDENTIALS, ""),
            (ALLOW_METHODS, ""),
            (ALLOW_HEADERS, ""),
            VARY,
        ],
        "an empty value has no ':', so it overrides (sent empty)",
    ),
    (
        [(ALLOW_ORIGIN, "https://evil.com")],
        "https://a.com",
        None,
        [(ALLOW_ORIGIN, "https://a.com"), (ALLOW_CREDENTIALS, "true"), METHODS, VARY],
        "a custom Allow-Origin is ignored",
    ),
    (
        [(ALLOW_ORIGIN, "https://evil.com")],
        "https://b.com",
        None,
        [VARY],
        "a custom Allow-Origin is ignored when refused too",
    ),
    (
        [("X-A", "1"), ("x-a", "2")],
        "https://b.com",
        None,
        [("x-a", "2"), VARY],
        "keys are case-insensitive: the later entry wins",
    ),
    (
        [("X-Stra\u00dfe", "1"), ("X-STRASSE", "2")],
        "https://b.com",
        None,
        [("X-Stra\u00dfe", "1"), ("X-STRASSE", "2"), VARY],
        "keys are compared lower-cased, not case-folded: \u00df is not ss",
    ),
]


@pytest.mark.parametrize(("headers", "origin", "asked", "expected", "why"), CUSTOM_ROWS)
def test_custom_headers(
    headers: list[tuple[str, str]],
    origin: str,
    asked: str | None,
    expected: list[tuple[str, str]],
    why: str,
) -> None:
    assert list(custom(*headers).headers(origin, asked)) == expected, why


def test_default_extra_header_replaced_by_api_one() -> None:
    cors = ApiCors(
        CorsPolicy.compile(["*"], [("X-Who", "defaults"), ("X-Keep", "1")]),
        CorsPolicy.compile(["*"], [("x-who", "api")]),
    )
    got = dict(cors.headers(None, None))
    assert got["x-who"] == "api"
    assert got["X-Keep"] == "1"
    assert "X-Who" not in got
    # Lower-cased, not case-folded or upper-cased: these two keys stay apart.
    both = ApiCors(
        CorsPolicy.compile(["*"], [("X-Stra\u00dfe", "defaults")]),
        CorsPolicy.compile(["*"], [("X-STRASSE", "api")]),
    )
    got = dict(both.headers(None, None))
    assert (got["X-Stra\u00dfe"], got["X-STRASSE"]) == ("defaults", "api")


def test_api_cors_keeps_and_shows_both_blocks() -> None:
    cors = ApiCors(STAR_POLICY, A_COM)
    assert cors.default is STAR_POLICY
    assert cors.api is A_COM
    assert repr(cors) == f"ApiCors(default={STAR_POLICY!r}, api={A_COM!r})"
    assert repr(ApiCors(None, None)) == "ApiCors(default=None, api=None)"


def test_api_without_block_resets_a_defaults_methods_override() -> None:
    # Step 1 of every manager sets Allow-Methods; a manager without a block stops right after.
    cors = ApiCors(CorsPolicy.compile(["*"], [(ALLOW_METHODS, "GET")]), None)
    assert dict(cors.headers("https://a.com", None))[ALLOW_METHODS] == API_METHODS


# --- Allow-Headers echo and Vary --------------------------------------------------------------

ECHO_ROWS = [
    ("x-a, x-b", "x-a, x-b"),
    ("  x-a  ", "x-a"),  # trimmed like any field value
    ("", None),
    (None, None),
    ("x\r\nSet-Cookie: a=b", None),  # never echo a line break
    ("x\x00", None),
    ("caf\u00e9", "caf\u00e9"),  # Latin-1 is a valid field value
    ("\u2603", None),  # beyond Latin-1 a WSGI server cannot send it
]


@pytest.mark.parametrize(("asked", "echoed"), ECHO_ROWS)
def test_allow_headers_echo(asked: str | None, echoed: str | None) -> None:
    got = dict(ApiCors(None, STAR_POLICY).headers("https://a.com", asked))
    assert got.get(ALLOW_HEADERS) == echoed


@NO_DEADLINE
@given(origin=any_header_value(), asked=any_header_value())
def test_vary_always_last_once(origin: str | None, asked: str | None) -> None:
    for cors in (OBSERVED, ApiCors(None, None), ApiCors(STAR_POLICY, A_COM)):
        got = cors.headers(origin, asked)
        assert got[-1] == VARY
        assert [name for name, _ in got].count("Vary") == 1


def test_origin_is_trimmed_before_matching_and_echo() -> None:
    got = dict(ApiCors(None, A_COM).headers(" https://a.com\t", None))
    assert got[ALLOW_ORIGIN] == "https://a.com"


# An HTTP parser trims only SP and HTAB; str.strip() would also take NBSP, VT, FF and NEL.
NOT_SPACE = ["\xa0", "\x0b", "\x0c", "\x85"]


@pytest.mark.parametrize("pad", NOT_SPACE)
def test_other_whitespace_around_the_origin_is_not_trimmed(pad: str) -> None:
    for origin in (pad + "https://a.com", "https://a.com" + pad):
        got = dict(ApiCors(None, A_COM).headers(origin, None))
        assert ALLOW_ORIGIN not in got
        # The `*` policy echoes a well-formed Origin only: this one is not.
        assert dict(ApiCors(None, STAR_POLICY).headers(origin, None))[ALLOW_ORIGIN] == "*"


@pytest.mark.parametrize("pad", NOT_SPACE)
def test_other_whitespace_around_request_headers_is_not_trimmed(pad: str) -> None:
    got = dict(ApiCors(None, STAR_POLICY).headers("https://a.com", pad + "x-a" + pad))
    # Latin-1 NBSP and NEL can be sent, so they are echoed as they came; VT and FF cannot.
    assert got.get(ALLOW_HEADERS) == (pad + "x-a" + pad if pad in "\xa0\x85" else None)


def test_no_max_age_or_expose_headers() -> None:
    got = dict(ApiCors(STAR_POLICY, STAR_POLICY).headers("https://a.com", "x"))
    assert "Access-Control-Max-Age" not in got
    assert "Access-Control-Expose-Headers" not in got


# --- the decision cache -----------------------------------------------------------------------


def test_cache_is_bounded_under_a_flood_of_origins() -> None:
    cors = ApiCors(None, OBSERVED_API, cache_size=64)
    for i in range(2000):
        cors.headers(f"https://h{i}.example.com", None)
    info = cors.cache_info()
    assert info.currsize <= 64
    assert info.misses == 2000


def test_cache_hit_returns_the_same_answer() -> None:
    cors = ApiCors(None, OBSERVED_API)
    first = cors.headers("https://a.example.com", ASKED)
    assert cors.headers("https://a.example.com", ASKED) is first
    assert cors.cache_info().hits == 1


def test_huge_values_are_answered_but_not_cached() -> None:
    cors = ApiCors(STAR_POLICY, None)
    huge = "https://" + "a" * 5000 + ".com"
    got = dict(cors.headers(huge, "x" * 5000))
    assert got[ALLOW_ORIGIN] == "*"  # too long to be an origin: nothing echoed
    assert cors.cache_info().currsize == 0


# --- properties -------------------------------------------------------------------------------


HTTP_ORIGINS = well_formed_origins(st.sampled_from(["http", "https"]))


@NO_DEADLINE
@given(pattern=schemeless_host_patterns(), data=st.data())
def test_schemeless_pattern_is_http_or_https_pattern(pattern: str, data: st.DataObject) -> None:
    origin = data.draw(HTTP_ORIGINS | pattern_instances(pattern, ("http://", "https://")))
    bare = CorsPolicy.compile([pattern]).matches(origin)
    with_scheme = CorsPolicy.compile(["http://" + pattern, "https://" + pattern]).matches(origin)
    assert bare == with_scheme


@NO_DEADLINE
@given(pattern=cors_patterns(), data=st.data())
def test_schemeless_prefix_for_any_pattern(pattern: str, data: st.DataObject) -> None:
    origin = data.draw(HTTP_ORIGINS | pattern_instances(pattern, ("http://", "https://")))
    # In general OME's (http.?://)? prefix is "with http:// or https://, or the bare body on
    # the whole Origin" (a leading * swallows the scheme, kept as in OME).
    if "://" in pattern:
        return
    bare = CorsPolicy.compile([pattern]).matches(origin)
    http = CorsPolicy.compile(["http://" + pattern, "https://" + pattern]).matches(origin)
    try:
        body = re.fullmatch(wildcard_regex(pattern), origin) is not None
    except re.error:
        body = False
    assert bare == (http or (body and is_origin(origin)))


def origin_for(urls: list[str]) -> st.SearchStrategy[str]:
    """Any origin-like text, or one that a pattern of ``urls`` is likely to accept."""
    if not urls:
        return origins()
    return origins() | st.sampled_from(urls).flatmap(pattern_instances)


@NO_DEADLINE
@given(urls=st.lists(cors_patterns(), max_size=8), data=st.data())
def test_combined_matcher_agrees_with_pattern_by_pattern(
    urls: list[str], data: st.DataObject
) -> None:
    origin = data.draw(origin_for(urls))
    policy = CorsPolicy.compile(urls)
    assert policy.matches(origin) == any(our_pattern_matches(u, origin) for u in urls)


@NO_DEADLINE
@given(urls=st.lists(cors_patterns(), min_size=1, max_size=8), data=st.data())
def test_combined_matcher_agrees_on_real_origins(urls: list[str], data: st.DataObject) -> None:
    origin = data.draw(origin_for(urls).filter(is_origin))
    policy = CorsPolicy.compile(urls)
    assert policy.matches(origin) == any(ome_pattern_matches(u, origin) for u in urls)


@NO_DEADLINE
@given(
    default=st.none() | cors_url_lists(),
    api=st.none() | cors_url_lists(),
    headers=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=3),
    origin=any_header_value(),
    asked=any_header_value(),
)
def test_arbitrary_input_never_raises(
    default: list[str] | None,
    api: list[str] | None,
    headers: list[tuple[str, str]],
    origin: str | None,
    asked: str | None,
) -> None:
    try:
        cors = ApiCors(
            None if default is None else CorsPolicy.compile(default, headers),
            None if api is None else CorsPolicy.compile(api, headers),
        )
        got = cors.headers(origin, asked)
    except ApiError:
        return
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in got)
    allowed = dict(got).get(ALLOW_ORIGIN)
    if allowed not in (None, "*", "null"):
        assert is_origin(allowed)


# --- linear-time matching and the Origin length bound -----------------------------------------


def test_many_stars_decide_a_long_origin() -> None:
    from omeapi._access import hosts

    policy = CorsPolicy.compile(["*.*.*.*.allowed.com"])
    assert isinstance(policy._matcher, hosts._Automaton)
    dots = "https://" + "." * 245  # a well-formed Origin with a 245-character host
    assert is_origin(dots)
    assert not policy.matches(dots)
    assert policy._matcher.steps <= len(dots)  # read once: no backtracking
    assert policy.matches("https://a.b.c.d.allowed.com")
    assert policy.matches("a.b.c.d.allowed.com") is False  # not an Origin


def test_overlong_origin_never_matches() -> None:
    from omeapi._access.cors import MAX_ORIGIN_LENGTH

    policy = CorsPolicy.compile(["https://*"])
    origin = "https://" + "a" * (MAX_ORIGIN_LENGTH - len("https://"))
    assert policy._accept_matching(origin) is None  # not an Origin (host > 253): no match
    assert policy._accept_matching(origin + "a") is None
    assert not policy.matches(origin + "a")
    assert policy.matches("https://a")


# --- escaped characters on the automaton path -------------------------------------------------

# A group plus two `*` (or four `?`) is decided by the automaton (hosts.py); the characters OME
# escapes must stay literal there, with and without the optional scheme in front.
ESCAPED_ROWS = [
    # (pattern, Origin, expected)
    ("https://(*.*.example.com)", "https://a.b.example.com", True),
    ("https://(*.*.example.com)", "https://evilXexampleYcom", False),
    ("https://(*.*.example.com)", "https://a.b.exampleXcom", False),
    ("(*.*.example.com)", "https://a.b.example.com", True),
    ("(*.*.example.com)", "http://evilXexampleYcom", False),
    ("(*.*.example.com)", "httpx://a.bexample.com", False),
    ("http://(a+b$)*.*", "http://a+b$x.y", True),
    ("http://(a+b$)*.*", "http://aXbXx.y", False),
    ("http://(a+b$)*.*", "http://abx.y", False),
    ("(a.b)????", "http://a.b", True),
    ("(a.b)????", "http://aXb", False),
    ("https?(://)*.*", "https://a.b", True),
    ("https?(://)*.*", "httpsX//a.b", False),
]


@pytest.mark.parametrize(("url", "origin", "expected"), ESCAPED_ROWS)
def test_escaped_characters_stay_literal_on_the_automaton_path(
    url: str, origin: str, expected: bool
) -> None:
    from omeapi._access import hosts

    assert our_pattern_matches(url, origin) is expected, "the row must describe OME"
    policy = CorsPolicy.compile([url])
    assert isinstance(policy._matcher, hosts._Automaton)
    assert policy.matches(origin) is expected
    assert policy.allow_origin(origin) == (origin if expected else None)


# Characters an Origin's host may hold, so that matches are possible, plus those OME escapes.
_ORIGIN_LITERALS = "abx0-.+$"


@NO_DEADLINE
@given(
    body=grouped_patterns(_ORIGIN_LITERALS),
    scheme=st.sampled_from(["", "https://", "http?://"]),
    data=st.data(),
)
def test_grouped_patterns_agree_with_the_regex_reference(
    body: str, scheme: str, data: st.DataObject
) -> None:
    url = scheme + body
    origin = data.draw(near_instances(url, ("http://", "https://")))
    policy = CorsPolicy.compile([url])
    expected = our_pattern_matches(url, origin)
    assert policy.matches(origin) is expected
    assert policy.allow_origin(origin) == (origin if expected else None)
