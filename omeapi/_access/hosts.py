"""Host name matching and the API's Host check.

OME turns every ``<Host><Names><Name>`` into an anchored, case-sensitive regular expression:
the characters ``[ \\ . / + { } $ ^ |`` are backslash-escaped, then ``*`` becomes ``.*`` and
``?`` becomes ``.?`` (zero or one character).  ``(``, ``)`` and ``]`` keep their regex meaning;
a name whose parentheses do not balance never matches.  The text matched is the Host header
with the port removed and the case kept (``ome-server-xml.md`` §3).

OME itself never checks the Host of an API request; omeapi does (contract §2), which also
stops DNS-rebinding attacks on an API bound to a local address.

The same matcher, :func:`host_matches`, is meant for virtual-host selection by host name.
The combined matcher built here (:func:`compile_alternatives`) is shared with
:mod:`omeapi._access.cors`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence

from omeapi._errors import ApiError

__all__ = [
    "HostCheck",
    "Matcher",
    "compile_alternatives",
    "host_matches",
    "host_without_port",
    "wildcard_regex",
    "wildcard_tokens",
]

#: A compiled set of alternatives: ``matcher(text)`` is truthy when ``text`` fully matches one.
Matcher = Callable[[str], object]

#: OME escapes exactly these characters; ``( ) ]`` and everything else stay as they are.
_ESCAPED = frozenset("[\\./+{}$^|")

#: One regex atom per pattern character (characters absent from the table stand for themselves).
_ATOMS: dict[str, str] = {c: "\\" + c for c in _ESCAPED} | {"*": ".*", "?": ".?"}

_ESCAPE_TABLE = str.maketrans({c: "\\" + c for c in _ESCAPED})

# Parentheses are the only way a pattern can form a multi-character regex construct (every
# ``?`` becomes ``.?``, so ``(?...)`` extensions cannot be written); such a pattern is kept as
# one opaque atom instead of being split character by character.
_GROUPING = frozenset("()")


def wildcard_regex(pattern: str) -> str:
    """OME's wildcard → regex body (no anchors), e.g. ``*.a.com`` → ``.*\\.a\\.com``."""
    return pattern.translate(_ESCAPE_TABLE).replace("*", ".*").replace("?", ".?")


def _compiles(body: str) -> bool:
    try:
        re.compile(body)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def wildcard_tokens(pattern: str, prefix: str = "") -> tuple[str, ...] | None:
    """Split ``pattern`` into regex atoms for :func:`compile_alternatives`.

    ``prefix`` (a regex, already valid) goes first.  A pattern that does not compile alone
    gives ``None``: OME swallows the failure and the pattern never matches.
    """
    head = (prefix,) if prefix else ()
    if _GROUPING.isdisjoint(pattern):
        return head + tuple(_ATOMS.get(c, c) for c in pattern)
    body = wildcard_regex(pattern)
    if not _compiles(body):
        return None
    return (*head, f"(?:{body})")


class _Node:
    """A trie node over regex atoms; ``end`` marks the end of one alternative."""

    __slots__ = ("children", "end")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.end = False


def _emit(node: _Node) -> str:
    parts: list[str] = []
    # Straight runs are appended in a loop, so recursion depth is the number of branch points
    # on a path, not the length of the patterns.
    while not node.end and len(node.children) == 1:
        ((atom, node),) = node.children.items()
        parts.append(atom)
    branches = [atom + _emit(child) for atom, child in node.children.items()]
    if node.end:
        branches.append("")
    if len(branches) == 1:
        parts.append(branches[0])
    elif branches:
        parts.append("(?:" + "|".join(branches) + ")")
    return "".join(parts)


def _never(_text: str) -> object:
    return None


def compile_alternatives(alternatives: Iterable[Sequence[str]], guard: str = "") -> Matcher:
    """One matcher for many atom sequences (from :func:`wildcard_tokens`).

    ``guard``, a regex, must also match the whole text (it is checked in the same regex, as a
    lookahead, so a caller that validates its input first pays no second call).

    The sequences are merged into a trie before being written as a single regex, so shared
    prefixes (``(http.?://)?``, ``https://app``, ``.*\\.``) are tried once: with Python's
    backtracking engine a flat ``p1|p2|…|pN`` costs N attempts per character, the factored
    form costs about one.  ``AB|AC`` and ``A(B|C)`` accept the same strings, so this changes
    nothing but speed.
    """
    root = _Node()
    count = 0
    for atoms in alternatives:
        node = root
        for atom in atoms:
            node = node.children.setdefault(atom, _Node())
        node.end = True
        count += 1
    if count == 0:
        return _never
    head = f"(?=(?:{guard})\\Z)" if guard else ""
    try:
        return re.compile(head + _emit(root)).fullmatch
    except (re.error, RecursionError, OverflowError):
        pass
    # Only a pathological list (nesting beyond the regex compiler's limits) gets here: fall
    # back to one regex per alternative, which is slower but exact.
    singles = [re.compile(head + "".join(atoms)).fullmatch for atoms in _sequences(root)]

    def any_of(text: str) -> object:
        return next((m for m in (f(text) for f in singles) if m is not None), None)

    return any_of


def _sequences(root: _Node) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    stack: list[tuple[_Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node.end:
            out.append(path)
        stack.extend((child, (*path, atom)) for atom, child in node.children.items())
    return out


@functools.lru_cache(maxsize=256)
def _names_matcher(names: tuple[str, ...]) -> Matcher:
    tokens = (wildcard_tokens(name) for name in names)
    return compile_alternatives(t for t in tokens if t is not None)


def host_matches(patterns: Sequence[str], host: str) -> bool:
    """Whether ``host`` (port already removed) fully matches one of the wildcard ``patterns``.

    Case-sensitive, as OME.  A pattern that is not a valid regex never matches.  The compiled
    matcher is cached per tuple of patterns, so repeated calls cost one regex match.
    """
    return _names_matcher(tuple(patterns))(host) is not None


_OWS = " \t"


def host_without_port(host_header: str) -> str:
    """The host part of a Host header: port and ``user:pass@`` removed, case and IPv6 brackets kept.

    OME parses ``scheme://<Host><target>`` as a URL, so the authority also ends at the first
    ``/``, ``?`` or ``#``.  (OME's greedy URL regex can be fooled by a ``://`` in the query
    string; only the Host header is looked at here, so that quirk cannot happen.)
    """
    authority = host_header.strip(_OWS)
    for stop in "/?#":
        authority = authority.partition(stop)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        close = host.find("]")
        return host if close < 0 else host[: close + 1]
    return host.partition(":")[0]


class HostCheck:
    """The API's Host check, built from ``<Managers><Host><Names>``.

    With no names, or with a name that is exactly ``*``, every Host is allowed and
    :meth:`check` does no work at all.  Otherwise the Host header, port removed, must fully
    match one name (see :func:`host_matches`), or the request is refused with 403
    ``Host is not allowed: [<host>]``.
    """

    __slots__ = ("_matcher", "allow_all", "names")

    def __init__(self, names: Sequence[str] | None) -> None:
        self.names: tuple[str, ...] = tuple(names or ())
        self.allow_all = not self.names or "*" in self.names
        self._matcher = _never if self.allow_all else _names_matcher(self.names)

    def allows(self, host_header: str | None, fallback: str | None = None) -> bool:
        """Whether :meth:`check` would let this request through."""
        if self.allow_all:
            return True
        return self._matcher(self._host(host_header, fallback)) is not None

    def check(self, host_header: str | None, fallback: str | None = None) -> None:
        """Raise ``ApiError(403)`` unless the request's host is allowed.

        ``host_header`` is the request's Host (HTTP/2: ``:authority``).  When it is absent or
        empty, OME uses the local socket address: pass it as ``fallback`` (an IP address or
        name without port; a bare IPv6 address is bracketed, as a Host header would carry it).
        With neither, the host is the empty string, which only ``*``-like names match.
        """
        if self.allow_all:
            return
        host = self._host(host_header, fallback)
        if self._matcher(host) is None:
            raise ApiError(403, f"Host is not allowed: [{host}]")

    @staticmethod
    def _host(host_header: str | None, fallback: str | None) -> str:
        if host_header is not None and host_header.strip(_OWS):
            return host_without_port(host_header)
        if not fallback:
            return ""
        if ":" in fallback and not fallback.startswith("["):
            return f"[{fallback}]"
        return fallback

    def __repr__(self) -> str:
        return f"HostCheck({list(self.names)!r})"
