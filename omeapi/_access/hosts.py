"""Host name matching and the API's Host check.

OME turns every ``<Host><Names><Name>`` into an anchored, case-sensitive regular expression:
the characters ``[ \\ . / + { } $ ^ |`` are backslash-escaped, then ``*`` becomes ``.*`` and
``?`` becomes ``.?`` (zero or one character).  ``(``, ``)`` and ``]`` keep their regex meaning;
a name whose parentheses do not balance never matches.  The text matched is the Host header
with the port removed and the case kept (docs/config.md).

OME itself never checks the Host of an API request; omeapi does (docs/compatibility.md), which also
stops DNS-rebinding attacks on an API bound to a local address.

The same matcher, :func:`host_matches`, is meant for virtual-host selection by host name.
The combined matcher built here (:func:`compile_alternatives`) is shared with
:mod:`omeapi._access.cors`.

Matching time is linear in the text whatever the patterns: Python's backtracking engine takes
time exponential in the number of ``*`` in a pattern (``*.*.*.a.com`` against a Host of a few
thousand dots runs for minutes), so patterns with more than one ``*`` (or many ``?``) are run
by a bit-parallel simulation of their automaton instead (:class:`_Automaton`), which reads each
character once.  The language is tiny: once a pattern is known to compile, ``(`` and ``)``
only group (nothing can quantify a group: every ``*`` and ``?`` becomes ``.*``/``.?``), so a
pattern is a sequence of literal characters, "any run" and "at most one" (neither crosses a
newline, as the regex ``.`` does not).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterable, Sequence

from omeapi import _messages as msg

__all__ = [
    "MAX_HOST_LENGTH",
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


#: A host name has at most 255 bytes (RFC 1035 §2.3.4): a longer Host is refused unmatched.
MAX_HOST_LENGTH = 255


class _Lit(str):
    """A literal character token (a distinct type, so a literal ``*`` is not "any run")."""

    __slots__ = ()


class _Wild(str):
    """A wildcard token: :data:`_STAR` or :data:`_OPT`."""

    __slots__ = ()


# The automaton's tokens.  Every token is a _Lit or a _Wild, never a bare str: the types make
# mypy refuse a character not marked literal (the automaton would take it for a wildcard).
_Token = _Lit | _Wild
_STAR = _Wild("*")  # any run of characters but a newline
_OPT = _Wild("?")  # zero or one character but a newline

# Backtracking stays cheap (about len(text) * len(pattern) steps) with at most one `*` and a
# few `?` per alternative; past that the automaton runs instead.
_REGEX_MAX_STARS = 1
_REGEX_MAX_OPTS = 3

#: The one optional group an atom may be (the scheme CORS adds to a pattern without ``://``).
_OPTIONAL_GROUP = re.compile(r"\(\?:(.*)\)\?", re.DOTALL)


def _body_tokens(body: str) -> list[_Token] | None:
    """A regex body written by :func:`wildcard_regex` (known to compile) as tokens."""
    out: list[_Token] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_Lit(body[i + 1]))
            i += 2
        elif c == "." and i + 1 < len(body) and body[i + 1] in "*?":
            out.append(_STAR if body[i + 1] == "*" else _OPT)
            i += 2
        elif c in "()":
            i += 1
        elif c in "*?.[{^$|+":
            return None  # not something wildcard_regex writes: leave it to the regex engine
        else:
            out.append(_Lit(c))
            i += 1
    return out


def _expansions(atoms: Sequence[str]) -> list[list[_Token]] | None:
    """The token sequences an atom sequence stands for (an optional group gives two)."""
    seqs: list[list[_Token]] = [[]]
    for atom in atoms:
        optional = None
        if atom == ".*":
            found: list[_Token] | None = [_STAR]
        elif atom == ".?":
            found = [_OPT]
        elif len(atom) == 1 and atom not in "*?.[{^$|+()":
            found = [_Lit(atom)]
        elif len(atom) == 2 and atom[0] == "\\":
            found = [_Lit(atom[1])]
        else:
            optional = _OPTIONAL_GROUP.fullmatch(atom)
            body = optional.group(1) if optional else None
            if body is None and atom.startswith("(?:") and atom.endswith(")"):
                body = atom[3:-1]
            found = None if body is None else _body_tokens(body)
        if found is None:
            return None
        tokens = found
        if optional is not None:
            seqs = [*seqs, *([*s, *tokens] for s in seqs)]
            continue
        for seq in seqs:
            seq.extend(tokens)
    return seqs


class _Automaton:
    """The union of token sequences as one bit-parallel NFA (shift-and over Python ints).

    Bit ``i`` of a sequence's block means "its first ``i`` tokens have matched".  Each text
    character costs a handful of integer operations (plus one per extra ``*``/``?`` in a row,
    for the empty matches), so a decision takes time linear in the text, never exponential.
    """

    __slots__ = ("_eps", "_final", "_guard", "_lits", "_opt", "_star", "_start", "steps")

    def __init__(self, sequences: Sequence[Sequence[_Token]], guard: str = "") -> None:
        lits: dict[str, int] = {}
        star = opt = final = start = 0
        offset = 0
        for seq in sequences:
            start |= 1 << offset
            for i, token in enumerate(seq):
                bit = 1 << (offset + i)
                if isinstance(token, _Lit):
                    lits[token] = lits.get(token, 0) | bit
                elif token == _STAR:
                    star |= bit
                else:
                    opt |= bit
            final |= 1 << (offset + len(seq))
            offset += len(seq) + 1
        # A newline is only ever matched literally; every other character may also be eaten
        # by a `?` (moving on) or a `*` (staying).
        self._lits = {c: m if c == "\n" else m | opt for c, m in lits.items()}
        self._opt = opt
        self._star = star
        self._eps = star | opt
        self._final = final
        self._start = self._close(start)
        self._guard = re.compile(guard).fullmatch if guard else None
        #: characters read by the last call (what tests bound instead of timing)
        self.steps = 0

    def _close(self, state: int) -> int:
        # `*` and `?` also match nothing: from their state, the next one is reached too.
        eps = self._eps
        while True:
            more = state | ((state & eps) << 1)
            if more == state:
                return state
            state = more

    def __call__(self, text: str) -> object:
        if self._guard is not None and self._guard(text) is None:
            return None
        state = self._start
        lits = self._lits
        opt = self._opt
        star = self._star
        eps = self._eps
        steps = 0
        for c in text:
            steps += 1
            if c == "\n":
                state = (state & lits.get(c, 0)) << 1
            else:
                state = ((state & lits.get(c, opt)) << 1) | (state & star)
            if state & eps:
                state = self._close(state)
            elif not state:
                break
        self.steps = steps
        return True if state & self._final else None


def _backtracking_is_safe(sequences: Sequence[Sequence[_Token]]) -> bool:
    return all(
        seq.count(_STAR) <= _REGEX_MAX_STARS and seq.count(_OPT) <= _REGEX_MAX_OPTS
        for seq in sequences
    )


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
    listed = [tuple(atoms) for atoms in alternatives]
    sequences: list[list[_Token]] = []
    for atoms in listed:
        expanded = _expansions(atoms)
        if expanded is None:
            sequences = []
            break
        sequences.extend(expanded)
    if sequences and not _backtracking_is_safe(sequences):
        return _Automaton(sequences, guard)
    root = _Node()
    count = 0
    for atoms in listed:
        node = root
        for atom in atoms:
            node = node.children.setdefault(atom, _Node())
        node.end = True
        count += 1
    if count == 0:
        return _never
    head = f"(?=(?:{guard})\\Z)" if guard else ""
    with contextlib.suppress(re.error, RecursionError, OverflowError):
        return re.compile(head + _emit(root)).fullmatch
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


# Each process answers with matchers it compiled itself.  A child forked from a warmed-up
# parent (a mutation tester forks one per mutant, after a run that filled this cache) would
# otherwise be handed matchers the parent's code built, and a change to the compiling code
# would go unseen; a forked server worker pays one compile per set of names.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_names_matcher.cache_clear)


def host_matches(patterns: Sequence[str], host: str) -> bool:
    """Whether ``host`` (port already removed) fully matches one of the wildcard ``patterns``.

    Case-sensitive, as OME.  A pattern that is not a valid regex never matches.  The compiled
    matcher is cached per tuple of patterns, so repeated calls cost one regex match.
    """
    return _names_matcher(tuple(patterns))(host) is not None


_OWS = " \t"


def _too_long(host: str) -> bool:
    if len(host) > MAX_HOST_LENGTH:
        return True
    return not host.isascii() and len(host.encode("utf-8", "surrogatepass")) > MAX_HOST_LENGTH


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
        host = self._host(host_header, fallback)
        return not _too_long(host) and self._matcher(host) is not None

    def check(self, host_header: str | None, fallback: str | None = None) -> None:
        """Raise ``ApiError(403)`` unless the request's host is allowed.

        ``host_header`` is the request's Host (HTTP/2: ``:authority``).  When it is absent or
        empty, OME uses the local socket address: pass it as ``fallback`` (an IP address or
        name without port; a bare IPv6 address is bracketed, as a Host header would carry it).
        With neither, the host is the empty string, which only ``*``-like names match.
        A host longer than :data:`MAX_HOST_LENGTH` bytes is refused without matching.
        """
        if self.allow_all:
            return
        host = self._host(host_header, fallback)
        if _too_long(host) or self._matcher(host) is None:
            raise msg.HOST_NOT_ALLOWED.error(host=host)

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
