"""Host names: OME's wildcard matching (ome-server-xml.md §3) and the API's Host check."""

from __future__ import annotations

import os
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    any_header_value,
    grouped_patterns,
    host_headers,
    host_patterns,
    near_instances,
)

from omeapi._access import hosts
from omeapi._access.hosts import HostCheck, host_matches, host_without_port, wildcard_regex
from omeapi._errors import ApiError

# Each example compiles patterns: on a loaded machine that must not become a flaky deadline.
NO_DEADLINE = settings(deadline=None)


@pytest.fixture(autouse=True)
def _fresh_matchers() -> None:
    # Each test compiles the names it asks about: a matcher an earlier test left in the cache
    # would answer for it, so a row could pass without running the compiling code at all.
    hosts._names_matcher.cache_clear()


# The spec's own Python port (ome-server-xml.md §3.4), the oracle for the optimised matcher.
_ESC = re.compile(r"([\[\\./+{}$^|])")


def reference_wildcard(s: str) -> str:
    return _ESC.sub(r"\\\1", s).replace("*", ".*").replace("?", ".?")


def reference_match(name: str, host: str) -> bool:
    try:
        return re.fullmatch(reference_wildcard(name), host) is not None
    except re.error:
        return False


# --- wildcard → regex -------------------------------------------------------------------------

WILDCARD_REGEX = [
    ("*.airensoft.com", r".*\.airensoft\.com"),
    ("ome?.com", r"ome.?\.com"),
    ("[::1]", r"\[::1]"),
    ("a/b+c{1}$^|d\\e", r"a\/b\+c\{1\}\$\^\|d\\e"),
    ("(a)", "(a)"),  # ( ) ] are not escaped
    ("*?", ".*.?"),
    ("", ""),
]


@pytest.mark.parametrize(("pattern", "regex"), WILDCARD_REGEX)
def test_wildcard_regex(pattern: str, regex: str) -> None:
    assert wildcard_regex(pattern) == regex


@NO_DEADLINE
@given(pattern_text=st.text())
def test_wildcard_regex_is_the_spec_port(pattern_text: str) -> None:
    assert wildcard_regex(pattern_text) == reference_wildcard(pattern_text)


# --- what is matched: the Host without port (§3.3) --------------------------------------------

HOST_WITHOUT_PORT = [
    # (Host header, host matched, why)
    ("www.airensoft.com:8080", "www.airensoft.com", "port removed"),
    ("www.airensoft.com", "www.airensoft.com", "no port"),
    ("WWW.Example.COM:80", "WWW.Example.COM", "case kept"),
    ("XN--BCHER-KVA.Example:443", "XN--BCHER-KVA.Example", "any other letter is host"),
    ("[::1]:8081", "[::1]", "IPv6 keeps its brackets"),
    ("[::1]", "[::1]", "IPv6 without port"),
    ("user:pass@a.example.com:8080", "a.example.com", "user:pass@ removed"),
    ("user@a.example.com", "a.example.com", "user@ removed"),
    ("a.example.com/x?y#z", "a.example.com", "the authority ends at / ? #"),
    ("a.example.com:", "a.example.com", "empty port"),
    (" a.example.com ", "a.example.com", "OWS trimmed like an HTTP parser"),
    ("", "", "empty"),
    ("[::1", "[::1", "unclosed bracket kept as is"),
    ("[::1]x]:8081", "[::1]", "an IPv6 literal ends at its first ]"),
]


@pytest.mark.parametrize(("header", "host", "why"), HOST_WITHOUT_PORT)
def test_host_without_port(header: str, host: str, why: str) -> None:
    assert host_without_port(header) == host, why


# --- matching rows of ome-server-xml.md §3.2–3.4 ----------------------------------------------

MATCH_ROWS = [
    # (name, Host header, expected, source)
    ("a.example.com:8080", "a.example.com:8080", False, "§3.3 a Name with a port never matches"),
    ("*.example.com", "example.com", False, "§3.3 *.example.com does not match example.com"),
    ("*.Example.com", "www.example.com", False, "§3.3 case-sensitive"),
    ("*", "anything.example.com", True, "§3.3 * matches anything"),
    ("*", "", True, "§3.3 * matches the empty string"),
    ("ome?.com", "ome.com", True, "§3.3 ? is zero characters"),
    ("ome?.com", "ome1.com", True, "§3.3 ? is one character"),
    ("ome?.com", "ome12.com", False, "? is at most one character"),
    ("*.airensoft.com", "www.airensoft.com", True, "§3.4 sample"),
    ("*.airensoft.com", "airensoft.com", False, "§3.4 sample"),
    ("192.168.0.1", "192x168.0.1", False, "§3.4 sample: dots are escaped"),
    ("[::1]", "[::1]", True, "§3.4 sample: ] is a literal"),
    ("[::1]", "[::1]:8081", True, "port removed from an IPv6 Host"),
    ("(abc", "(abc", False, "§3.2 unbalanced ( never matches"),
    ("abc)", "abc)", False, "§3.2 unbalanced ) never matches"),
    ("a(b)c", "abc", True, "§3.2 balanced parentheses are a group"),
    (" * ", "x", False, "§3.2 names are not trimmed"),
    ("www.example.com", "www.example.com.evil.com", False, "full match"),
    ("www.example.com", "awww.example.com", False, "full match"),
]


@pytest.mark.parametrize(("name", "header", "expected", "source"), MATCH_ROWS)
def test_host_matches_spec_rows(name: str, header: str, expected: bool, source: str) -> None:
    assert host_matches([name], host_without_port(header)) is expected, source
    assert reference_match(name, host_without_port(header)) is expected, source


def test_names_are_not_trimmed_spaces_required() -> None:
    # " * " needs a leading and trailing space in the host itself; a Host header is trimmed,
    # so only the plain function can be asked about such a host.
    assert host_matches([" * "], " x ")


def test_first_matching_name_is_enough() -> None:
    assert host_matches(["(bad", "*.example.com"], "a.example.com")
    assert not host_matches(["(bad"], "(bad")
    assert not host_matches([], "a.example.com")


def test_host_matches_accepts_any_sequence_and_caches() -> None:
    names = ["a.com", "*.b.com"]
    assert host_matches(names, "x.b.com")
    assert host_matches(tuple(names), "a.com")
    assert not host_matches(names, "c.com")


@NO_DEADLINE
@given(names=st.lists(host_patterns(), max_size=6), header=host_headers())
def test_combined_matcher_agrees_with_name_by_name(names: list[str], header: str) -> None:
    host = host_without_port(header)
    assert host_matches(names, host) == any(reference_match(n, host) for n in names)


@NO_DEADLINE
@given(names=st.lists(host_patterns(), max_size=6), host=st.text(max_size=20))
def test_combined_matcher_agrees_on_any_text(names: list[str], host: str) -> None:
    assert host_matches(names, host) == any(reference_match(n, host) for n in names)


# --- the API's Host check (contract §2) -------------------------------------------------------

LOCAL = ["localhost", "127.0.0.1", "[::1]"]

CHECK_ROWS = [
    # (names, Host header, fallback, refused host or None when allowed)
    (None, "anything:1", None, None),
    ([], "anything", None, None),
    (["*"], "evil.com", None, None),
    (["api.example.com", "*"], "evil.com", None, None),
    (LOCAL, "localhost:8081", None, None),
    (LOCAL, "127.0.0.1:8081", None, None),
    (LOCAL, "[::1]:8081", None, None),
    (LOCAL, "attacker.example:8081", None, "attacker.example"),  # DNS rebinding
    (LOCAL, "LOCALHOST", None, "LOCALHOST"),  # case-sensitive, as OME's matcher
    (["*.example.com"], "api.example.com", None, None),
    (["*.example.com"], "example.com", None, "example.com"),
    (LOCAL, None, "127.0.0.1", None),  # no Host: the local address stands in
    (LOCAL, "", "::1", None),  # a bare IPv6 fallback is bracketed
    (LOCAL, None, "[::1]", None),  # an already bracketed one is kept as it is
    (["localhost"], None, "[::1]", "[::1]"),
    (["localhost"], None, "::1", "[::1]"),
    (LOCAL, None, "10.0.0.1", "10.0.0.1"),
    (LOCAL, None, None, ""),
    (None, None, None, None),
]


@pytest.mark.parametrize(("names", "header", "fallback", "refused"), CHECK_ROWS)
def test_host_check(
    names: list[str] | None, header: str | None, fallback: str | None, refused: str | None
) -> None:
    check = HostCheck(names)
    assert check.allows(header, fallback) is (refused is None)
    if refused is None:
        check.check(header, fallback)
        return
    with pytest.raises(ApiError) as info:
        check.check(header, fallback)
    assert info.value.status == 403
    assert info.value.message == f"[HTTP] Host is not allowed: [{refused}] (403)"


def test_host_check_repr() -> None:
    assert repr(HostCheck(("a.com", "*.b.com"))) == "HostCheck(['a.com', '*.b.com'])"
    assert repr(HostCheck(None)) == "HostCheck([])"


def test_allow_all_does_no_regex_work() -> None:
    check = HostCheck(["a.com", "*"])
    assert check.allow_all
    check._matcher = None  # type: ignore[assignment]  # would fail if it were called
    check.check("anything")


@NO_DEADLINE
@given(
    names=st.none() | st.lists(host_patterns(), max_size=4),
    header=any_header_value(),
    fallback=any_header_value(),
)
def test_host_check_never_raises_anything_else(
    names: list[str] | None, header: str | None, fallback: str | None
) -> None:
    check = HostCheck(names)
    try:
        check.check(header, fallback)
    except ApiError as error:
        assert error.status == 403


def test_fallback_when_the_combined_regex_cannot_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only nesting beyond the regex compiler's limits gets there; force it.
    monkeypatch.setattr(hosts, "_emit", lambda node: "(")
    names = ("*.example.com", "a(b)c", "ome?.com")
    matcher = hosts.compile_alternatives(
        t for t in (hosts.wildcard_tokens(n) for n in names) if t is not None
    )
    for host in ("x.example.com", "abc", "ome1.com", "ome12.com", "example.com"):
        assert (matcher(host) is not None) == any(reference_match(n, host) for n in names)
    guarded = hosts.compile_alternatives([("a", ".*")], guard="ab.")
    assert guarded("abc") is not None
    assert guarded("axc") is None


# --- linear-time matching ---------------------------------------------------------------------


def automaton_for(names: list[str]) -> hosts._Automaton:
    """The bit-parallel matcher for ``names``, whatever their shape (the regex path bypassed)."""
    sequences: list[list[str]] = []
    for name in names:
        atoms = hosts.wildcard_tokens(name)
        if atoms is None:
            continue
        expanded = hosts._expansions(atoms)
        assert expanded is not None, name
        sequences.extend(expanded)
    return hosts._Automaton(sequences)


@NO_DEADLINE
@given(
    names=st.lists(host_patterns(), max_size=4),
    host=st.text(alphabet="abcxyz019-.:*?()[]\\\n", max_size=12) | st.text(max_size=12),
)
def test_automaton_agrees_with_the_regex_reference(names: list[str], host: str) -> None:
    assert (automaton_for(names)(host) is not None) == any(reference_match(n, host) for n in names)


@pytest.mark.parametrize(
    ("name", "host", "expected"),
    [
        ("*.*.*.allowed.com", "a.b.c.allowed.com", True),
        ("*.*.*.allowed.com", "a.b.allowed.com", False),
        ("*.*", "a\n.b", False),  # `*` does not cross a newline, as the regex `.`
        ("a\nb", "a\nb", True),  # but a literal newline matches itself
        ("a??b", "ab", True),
        ("a??b", "axyzb", False),
        # A `?` never takes a newline, even in a name where a literal newline can come next.
        ("a??\n??b", "a\nb", True),
        ("a??\n??b", "a\n\nb", False),
        ("(a*)(b*)", "a.b.", True),
        ("((a)", "(a", False),  # does not compile: never matches
    ],
)
def test_automaton_rows(name: str, host: str, expected: bool) -> None:
    assert (automaton_for([name])(host) is not None) is expected
    assert host_matches([name], host) is expected
    assert reference_match(name, host) is expected


def test_many_stars_use_the_automaton_and_read_each_character_once() -> None:
    names = ("*.*.*.allowed.com",)
    matcher = hosts._names_matcher(names)
    assert isinstance(matcher, hosts._Automaton)
    host = "." * 4000
    assert not host_matches(names, host)
    assert matcher.steps <= len(host)  # a structural bound: no backtracking
    assert host_matches(names, host + "allowed.com")
    assert matcher.steps == len(host) + len("allowed.com")


def test_simple_patterns_keep_the_regex() -> None:
    # One `*` per name backtracks at most len(text) times: the faster regex path is kept.
    assert not isinstance(hosts._names_matcher(("*.example.com", "localhost")), hosts._Automaton)


def test_the_automaton_stops_reading_once_no_name_can_match() -> None:
    names = ("www.*.*.example.com",)
    matcher = hosts._names_matcher(names)
    assert isinstance(matcher, hosts._Automaton)
    assert host_matches(names, "www.a.b.example.com")
    assert matcher.steps == len("www.a.b.example.com")
    assert not host_matches(names, "x" * 4000)
    assert matcher.steps == 1  # the first `x` already rules the name out


# Every character but `*`, `?` and the parentheses is a literal, escaped by OME or not: a name
# with two `*` (bare or inside a group) must still go to the automaton, and match only itself.
LITERALS = [c for c in string.printable if c not in "*?()"]


@pytest.mark.parametrize("literal", LITERALS)
def test_every_literal_character_keeps_the_automaton(literal: str) -> None:
    for name in (f"{literal}*.*", f"({literal}*.*)"):
        assert isinstance(hosts._names_matcher((name,)), hosts._Automaton), name
        for host in (f"{literal}a.b", f"{literal}{literal}.", "a.b", ".", "x"):
            assert host_matches([name], host) is reference_match(name, host), (name, host)


def test_host_check_refuses_an_overlong_host_before_matching() -> None:
    check = HostCheck(["*.*.*.allowed.com", "**"])
    longest = "a" * 255
    assert check.allows(longest)
    assert not check.allows(longest + "a")
    assert not check.allows("é" * 128)  # 256 bytes in UTF-8
    host = "." * 4000 + "allowed.com"
    with pytest.raises(ApiError) as info:
        check.check(host)
    assert info.value.status == 403


# --- compile_alternatives with any regex atoms ------------------------------------------------


def tokens_of(names: list[str]) -> list[tuple[str, ...]]:
    return [t for t in (hosts.wildcard_tokens(n) for n in names) if t is not None]


# The atoms need not come from wildcard_tokens: any regex atom is allowed, and those the
# automaton cannot read leave the list to the regex engine.  Each atom is followed by two `*`
# (so that the automaton is considered) and listed beside an alternative it can read.
REGEX_ATOMS = [
    "a",
    "\\.",
    "(?:a\\.b)",
    "(?:http.?://)?",
    "[ab]",
    "ab",
    "a+",
    "(ab)",
    "(?:a.b)",
    "(?:a.)",
    "(?:.X)",
    "(?:x|y)",
]
TEXTS = ["", "a", "b", "q", "ab", "aab", "a.b", "aXb", "aX", ".X", "X", "x", "y", "http://a", "zz"]


@pytest.mark.parametrize("atom", REGEX_ATOMS)
def test_any_regex_atom_matches_as_in_a_regex(atom: str) -> None:
    alternatives = [(atom, ".*", ".*"), ("z", ".*", "z", ".*")]
    matcher = hosts.compile_alternatives(alternatives)
    regex = re.compile("|".join("".join(atoms) for atoms in alternatives))
    for text in TEXTS:
        # The documented contract: truthy on a full match, falsy otherwise.
        assert bool(matcher(text)) is (regex.fullmatch(text) is not None), text


def test_a_list_too_deep_for_one_regex_still_matches_exactly() -> None:
    # Each name is the previous one with an `a` in front: merged, they nest one group per name,
    # deeper than the regex compiler goes, so each name gets its own regex instead.
    names = ["a" * k + "b" for k in range(700)]
    matcher = hosts.compile_alternatives(tokens_of(names))
    assert not isinstance(getattr(matcher, "__self__", None), re.Pattern)
    for host in ("b", "ab", "a" * 699 + "b", "a" * 700 + "b", "a" * 350, "abb"):
        assert (matcher(host) is not None) is (host in names), host


# --- escaped characters on the automaton path -------------------------------------------------

# Parentheses plus two `*` (or four `?`) send a pattern to the automaton: there every character
# OME escapes must still match only itself.
ESCAPED_ROWS = [
    # (name, host, expected)
    ("(*.*.example.com)", "a.b.example.com", True),
    ("(*.*.example.com)", "evilXexampleYcom", False),
    ("(*.*.example.com)", "a.b.exampleXcom", False),
    ("(*.*.example.com)", "a.bexample.com", False),
    ("a(*.*)b", "aXYb", False),
    ("a(*.*)b", "a.b", True),
    ("(a/b+c)*x*", "a/b+cx", True),
    ("(a/b+c)*x*", "aXbXcx", False),
    ("(a/b+c)*x*", "abcx", False),
    ("(x|y)*.*", "x|y.z", True),
    ("(x|y)*.*", "xAyBz", False),
    ("({$^})*.*", "{$^}a.b", True),
    ("({$^})*.*", "a.b", False),
    ("(\\[a])*.*", "\\[a].b", True),
    ("(\\[a])*.*", "Xa].b", False),
    ("(a.b)????", "a.b", True),
    ("(a.b)????", "aXb", False),
    ("(a.b)????", "ab", False),
    ("(a.b)????", "a.b1234", True),
    ("(a.b)????", "a.b12345", False),  # four `?` are at most four characters
]


@pytest.mark.parametrize(("name", "host", "expected"), ESCAPED_ROWS)
def test_escaped_characters_stay_literal_on_the_automaton_path(
    name: str, host: str, expected: bool
) -> None:
    assert reference_match(name, host) is expected, "the row must describe OME"
    assert isinstance(hosts._names_matcher((name,)), hosts._Automaton)
    assert host_matches([name], host) is expected
    # The Host header loses what follows a `/`, `?`, `#` or `:` before it is matched.
    assert HostCheck([name]).allows(host) is reference_match(name, host_without_port(host))


@NO_DEADLINE
@given(name=grouped_patterns(), data=st.data())
def test_grouped_patterns_agree_with_the_regex_reference(name: str, data: st.DataObject) -> None:
    host = data.draw(near_instances(name, ("",)))
    assert host_matches([name], host) is reference_match(name, host)
    assert HostCheck([name]).allows(host) is reference_match(name, host_without_port(host))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_starts_with_an_empty_matcher_cache() -> None:
    hosts._names_matcher(("*.*.fork.example",))
    assert hosts._names_matcher.cache_info().currsize > 0
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        os._exit(0 if hosts._names_matcher.cache_info().currsize == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert hosts._names_matcher.cache_info().currsize > 0  # the parent keeps its own


# An HTTP parser trims only SP and HTAB; str.strip() would also take NBSP, VT, FF and NEL.
NOT_SPACE = ["\xa0", "\x0b", "\x0c", "\x85"]


@pytest.mark.parametrize("pad", NOT_SPACE)
def test_other_whitespace_around_the_host_is_not_trimmed(pad: str) -> None:
    check = HostCheck(["a.example.com"])
    for header in (pad + "a.example.com", "a.example.com" + pad, f"a.example.com{pad}:80"):
        assert not check.allows(header)
    assert host_without_port(pad + "a.example.com:80") == pad + "a.example.com"
    # Not blank, so the local address does not stand in for it.
    assert not check.allows(pad, "a.example.com")
    assert check.allows(" \t", "a.example.com")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("a" * 255, True),
        ("a" * 256, False),
        ("\u00e9" * 127 + "a", True),  # 255 bytes in UTF-8, 128 characters
        ("\u00e9" * 128, False),  # 256 bytes
        ("\u20ac" * 85, True),  # 255 bytes, 3 each
        ("\u20ac" * 85 + "a", False),  # 256 bytes
        ("\ud800" * 85, True),  # a lone surrogate (ASGI can pass one) counts its 3 bytes
        ("\ud800" * 86, False),
    ],
)
def test_the_length_bound_is_in_bytes(host: str, allowed: bool) -> None:
    assert HostCheck(["**"]).allows(host) is allowed
