"""CORS: ``<CrossDomains>`` policies and the API's two-manager evaluation.

A :class:`CorsPolicy` is one ``<CrossDomains>`` block compiled once; :class:`ApiCors` runs the
``<Server><Defaults>`` policy and then the ``<Managers><API>`` one, as OME does for every API
request (OME's ``<CrossDomains>`` rules, docs/config.md), and returns the headers to add.

Two deliberate differences from OME (docs/compatibility.md):

* with the ``*`` policy and a well-formed Origin, the Origin is echoed instead of ``*``, so that
  credentialed browser calls work (OME sends ``*`` together with ``Allow-Credentials: true``,
  which browsers refuse);
* an Origin that is not ``scheme://host[:port]`` or exactly ``null`` never matches a pattern
  (OME matches the header as free text, so ``*.example.com`` accepts ``a.example.com`` or
  ``https://evil.com/.example.com``).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Sequence

from omeapi._access.hosts import compile_alternatives, wildcard_tokens

__all__ = [
    "ALLOW_CREDENTIALS",
    "ALLOW_HEADERS",
    "ALLOW_METHODS",
    "ALLOW_ORIGIN",
    "API_METHODS",
    "MAX_ORIGIN_LENGTH",
    "ApiCors",
    "CorsPolicy",
    "PolicyKind",
    "is_origin",
]

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"
ALLOW_METHODS = "Access-Control-Allow-Methods"
ALLOW_HEADERS = "Access-Control-Allow-Headers"

#: OME's method list for the API, in its order and spelling.
API_METHODS = "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE"

VARY = ("Vary", "Origin")

_ALLOW_ORIGIN = ALLOW_ORIGIN.lower()
_ALLOW_CREDENTIALS = ALLOW_CREDENTIALS.lower()
_ALLOW_METHODS = ALLOW_METHODS.lower()
_ALLOW_HEADERS = ALLOW_HEADERS.lower()

#: Custom ``<Header>`` keys that only override a default, and only when the origin is accepted.
_OVERRIDABLE = frozenset({_ALLOW_CREDENTIALS, _ALLOW_METHODS, _ALLOW_HEADERS})

#: OME's optional scheme for a pattern without ``://`` (``http://``, ``https://``, ``httpx://``…).
_OPTIONAL_SCHEME = "(?:http.?://)?"

#: An Origin longer than this never matches a pattern: it is refused before any matching.
#: (A well-formed one is far shorter: a 32-character scheme, 253 of host, a port.)
MAX_ORIGIN_LENGTH = 2048

_STAR_WARNING = (
    "Invalid CORS settings found for {scope}: '*' cannot be used with other CORS patterns. "
    "Other CORS patterns are ignored."
)
_NULL_WARNING = (
    "Invalid CORS settings found for {scope}: 'null' cannot be used with other CORS patterns. "
    "'null' is ignored."
)
_PATTERN_WARNING = "Invalid CORS pattern found for {scope}: {url!r} never matches"

# RFC 6454 serialised origin: scheme "://" host [":" port]; host is a registered name (RFC 3986
# reg-name, non-empty) or a bracketed IPv6 literal.  253 is the longest DNS name; the length
# cap also bounds the regex work an attacker can cause with one header.
_ORIGIN_FORM = (
    r"null|[A-Za-z][A-Za-z0-9+.\-]{0,31}://"
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9\-._~%!$&'()*+,;=]{1,253})"
    r"(?::[0-9]{1,5})?"
)
_ORIGIN = re.compile(_ORIGIN_FORM)

# What may be echoed into a response header: visible ASCII, Latin-1 and SP / HTAB.  Anything
# else (CR, LF, NUL, other controls, code points a WSGI server cannot send) is not echoed.
_FIELD_VALUE = re.compile("[\t\x20-\x7e\x80-\xff]*")

_OWS = " \t"


def is_origin(origin: str) -> bool:
    """Whether ``origin`` may match a pattern: ``scheme://host[:port]`` or exactly ``null``."""
    return _ORIGIN.fullmatch(origin) is not None


class PolicyKind(enum.Enum):
    """What a ``<CrossDomains>`` block's ``<Url>`` list compiles to."""

    EMPTY = "empty"  # no <Url>: no origin is accepted
    ALL = "all"  # a `*` entry
    NULL = "null"  # exactly one entry, `null`
    ORIGIN = "origin"  # patterns


class CorsPolicy:
    """One compiled ``<CrossDomains>`` block (see :meth:`compile`).

    ``warnings`` holds OME's warnings for the block (``*`` or ``null`` mixed with patterns,
    patterns that never match); the caller decides whether to log them.
    """

    __slots__ = (
        "_accept",
        "_allow_headers",
        "_credentials",
        "_matcher",
        "_methods",
        "extra_headers",
        "headers",
        "kind",
        "overrides",
        "scope",
        "urls",
        "warnings",
    )

    def __init__(
        self,
        urls: Sequence[str],
        headers: Sequence[tuple[str, str]] = (),
        scope: str = "",
    ) -> None:
        self.urls = tuple(urls)
        self.headers = tuple((key, value) for key, value in headers)
        self.scope = scope
        kind, alternatives, warnings = _compile_urls(self.urls, scope)
        self.kind = kind
        self.warnings = tuple(warnings)
        # The Origin form is checked inside the patterns' regex: one call per decision.
        self._matcher = compile_alternatives(alternatives, _ORIGIN_FORM)
        self.overrides, self.extra_headers = _split_headers(self.headers)
        # What an accepted origin gets, worked out once.
        self._credentials = self.overrides.get(_ALLOW_CREDENTIALS, "true")
        self._methods = self.overrides.get(_ALLOW_METHODS, API_METHODS)
        self._allow_headers = self.overrides.get(_ALLOW_HEADERS)
        # The per-kind decision, chosen once so a request pays no dispatch on the kind.
        self._accept: Callable[[str], str | None] = {
            PolicyKind.EMPTY: _refuse,
            PolicyKind.ALL: _accept_all,
            PolicyKind.NULL: _accept_null,
            PolicyKind.ORIGIN: self._accept_matching,
        }[kind]

    @classmethod
    def compile(
        cls,
        urls: Sequence[str],
        headers: Sequence[tuple[str, str]] = (),
        scope: str = "",
    ) -> CorsPolicy:
        """Compile the ``<Url>`` patterns and ``<Header>`` (key, value) pairs of one block.

        A block without ``<Url>`` is the Empty policy (no origin accepted).  ``*`` anywhere
        makes it All, ignoring the rest; ``null`` counts only when it is the sole entry; every
        other entry is a wildcard pattern.  All patterns become one matcher, so matching costs
        about the same for 1 or 100 patterns.  ``scope`` only names the block in warnings.
        """
        return cls(urls, headers, scope)

    def matches(self, origin: str) -> bool:
        """Whether a pattern of this policy accepts ``origin`` (Origin policy only).

        An Origin longer than :data:`MAX_ORIGIN_LENGTH` never matches (it is not even read).
        """
        return len(origin) <= MAX_ORIGIN_LENGTH and self._matcher(origin) is not None

    def allow_origin(self, origin: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for ``origin``, or None when not accepted.

        ``origin`` is the trimmed header, ``""`` when absent.  With the ``*`` policy a
        well-formed Origin is echoed (docs/compatibility.md) and anything else gets ``*``.
        """
        return self._accept(origin)

    def _accept_matching(self, origin: str) -> str | None:
        if len(origin) > MAX_ORIGIN_LENGTH:
            return None
        return origin if self._matcher(origin) is not None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CorsPolicy):
            return NotImplemented
        return (self.urls, self.headers, self.scope) == (other.urls, other.headers, other.scope)

    def __hash__(self) -> int:
        return hash((self.urls, self.headers, self.scope))

    def __repr__(self) -> str:
        return f"CorsPolicy({self.kind.name}, urls={list(self.urls)!r})"


def _refuse(origin: str) -> str | None:
    return None


def _accept_all(origin: str) -> str | None:
    # docs/compatibility.md: echo a real Origin so that credentialed calls work; `*` without one.
    return origin if _ORIGIN.fullmatch(origin) is not None else "*"


def _accept_null(origin: str) -> str | None:
    return "null"


def _compile_urls(
    urls: tuple[str, ...], scope: str
) -> tuple[PolicyKind, list[tuple[str, ...]], list[str]]:
    warnings: list[str] = []
    if "*" in urls:
        if len(urls) > 1:
            warnings.append(_STAR_WARNING.format(scope=scope))
        return PolicyKind.ALL, [], warnings
    if urls == ("null",):
        return PolicyKind.NULL, [], warnings
    kind = PolicyKind.EMPTY
    alternatives: list[tuple[str, ...]] = []
    for url in urls:
        if url == "null":
            warnings.append(_NULL_WARNING.format(scope=scope))
            continue
        kind = PolicyKind.ORIGIN
        atoms = wildcard_tokens(url, "" if "://" in url else _OPTIONAL_SCHEME)
        if atoms is None:
            warnings.append(_PATTERN_WARNING.format(scope=scope, url=url))
        else:
            alternatives.append(atoms)
    return kind, alternatives, warnings


def _split_headers(
    headers: tuple[tuple[str, str], ...],
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    # OME keeps custom headers in a table keyed on the lower-cased key (a later entry with the
    # same key replaces an earlier one).  The three overridable Allow-* headers are looked up
    # by splitting the stored "Key:Value" on ':' and need exactly two parts, so a value with
    # a ':' in it silently drops the override.  A custom Allow-Origin is never used.
    table: dict[str, tuple[str, str]] = {}
    for key, value in headers:
        table[key.lower()] = (key, value)
    overrides: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for lower, (key, value) in table.items():
        if lower in _OVERRIDABLE:
            if ":" not in value:
                overrides[lower] = value
        elif lower != _ALLOW_ORIGIN:
            extra.append((key, value))
    return overrides, tuple(extra)


_EMPTY = CorsPolicy.compile(())

#: Keys longer than this are not cached, so a flood of huge headers cannot pin memory.
_MAX_CACHED_KEY = 512


def _sendable(value: str) -> bool:
    return _FIELD_VALUE.fullmatch(value) is not None


class ApiCors:
    """The CORS headers of an API response: the Defaults policy, then the API's own.

    ``default`` is ``<Server><Defaults><CrossDomains>`` (None when absent: OME still runs that
    manager, with the Empty policy).  ``api`` is ``<Managers><API><CrossDomains>`` (None when
    absent: that manager then only resets ``Access-Control-Allow-Methods``, leaving the Defaults
    result in place).  When present, the API's block decides fully and can remove headers the
    Defaults step set.

    Decisions are memoised in a bounded LRU cache keyed by (Origin, Access-Control-Request-
    Headers), so the usual handful of origins costs one dictionary lookup.
    """

    __slots__ = ("_cached", "_policies", "_tail", "api", "default")

    def __init__(
        self,
        default: CorsPolicy | None,
        api: CorsPolicy | None,
        *,
        cache_size: int = 1024,
    ) -> None:
        self.default = default
        self.api = api
        self._policies = (default or _EMPTY,) if api is None else (default or _EMPTY, api)
        # Custom headers other than Allow-* do not depend on the request: both managers set
        # them on every response, the API's replacing the Defaults' of the same name.
        extra: dict[str, tuple[str, str]] = {}
        for policy in self._policies:
            for key, value in policy.extra_headers:
                extra[key.lower()] = (key, value)
        self._tail = (*extra.values(), VARY)
        self._cached = functools.lru_cache(maxsize=cache_size)(self._decide)

    def headers(
        self, origin: str | None, request_headers: str | None
    ) -> tuple[tuple[str, str], ...]:
        """The response headers to add, ``Vary: Origin`` included (always last).

        ``origin`` and ``request_headers`` are the raw ``Origin`` and
        ``Access-Control-Request-Headers`` values, None when absent.  Never raises.
        """
        origin = origin or ""
        request_headers = request_headers or ""
        if len(origin) + len(request_headers) > _MAX_CACHED_KEY:
            return self._decide(origin, request_headers)
        return self._cached(origin, request_headers)

    def _decide(self, origin: str, request_headers: str) -> tuple[tuple[str, str], ...]:
        origin = origin.strip(_OWS)
        # The four Allow-* headers as the managers leave them (None: absent).  Every manager
        # first sets Allow-Methods; one that refuses the origin then removes all four.
        allow_origin = credentials = allow_headers = None
        methods: str | None = API_METHODS
        for policy in self._policies:
            methods = API_METHODS
            value = policy._accept(origin)
            if value is None:
                allow_origin = credentials = methods = allow_headers = None
                continue
            allow_origin = value
            credentials = policy._credentials
            methods = policy._methods
            if policy._allow_headers is not None:
                allow_headers = policy._allow_headers
            else:
                # Echo Access-Control-Request-Headers, unless empty or not sendable as is.
                echo = request_headers.strip(_OWS)
                if echo and ((echo.isascii() and echo.isprintable()) or _sendable(echo)):
                    allow_headers = echo
        if self.api is None:
            # The API manager without a block only sets Allow-Methods, then stops.
            methods = API_METHODS
        if allow_origin is None:  # then Credentials and Allow-Headers are absent too
            return self._tail if methods is None else ((ALLOW_METHODS, methods), *self._tail)
        head = (
            (ALLOW_ORIGIN, allow_origin),
            (ALLOW_CREDENTIALS, credentials or ""),
            (ALLOW_METHODS, methods or ""),
        )
        if allow_headers is None:
            return head + self._tail
        return (*head, (ALLOW_HEADERS, allow_headers), *self._tail)

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses and size of the decision cache."""
        return self._cached.cache_info()

    def __repr__(self) -> str:
        return f"ApiCors(default={self.default!r}, api={self.api!r})"
