"""The request and response values the handler works on: plain data, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple, Protocol

import attrs

__all__ = ["ApiRequest", "ApiResponse", "ResponseStream"]


class ResponseStream(Protocol):
    """A response body that goes on (the event feed): iterate it where blocking is
    allowed, or :meth:`poll` it when woken (an event loop)."""

    ended: bool

    def poll(self) -> bytes | None:
        """What is ready now, or None (then, with ``ended``, the stream is over)."""

    def due(self) -> float:
        """Seconds after which :meth:`poll` has something (a heartbeat) at the latest."""

    def set_waker(self, waker: Callable[[], None]) -> None:
        """Call ``waker`` from any thread when :meth:`poll` has something."""

    def close(self) -> None:
        """The client has gone."""

    def __iter__(self) -> Iterator[bytes]: ...


#: What a header value is trimmed of (at both ends) before the core reads it.
_TRIMMED = " \t\r\n"


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    # A repeated header: the last value wins, as in OME's parser.
    return {name.lower(): value.strip(_TRIMMED) for name, value in pairs}


#: The headers of a request made without any: shared, so read-only.
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class ApiRequest(NamedTuple):
    """One HTTP request as plain values (immutable).

    ``path`` is the request path without the query string, percent-decoded once (as WSGI's
    ``PATH_INFO`` already is); ``headers`` has lower-case names.  Use :meth:`build` to make
    one from any header mapping.

    A named tuple rather than a frozen class: servers make one for every request, and a
    tuple is made in less than half the time (docs/performance.md).
    """

    method: str
    path: str
    headers: Mapping[str, str] = _NO_HEADERS
    body: bytes = b""
    query: str = ""
    client: str = ""
    scheme: str = "http"

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        query: str = "",
        client: str = "",
        scheme: str = "http",
    ) -> ApiRequest:
        """A request with header names lower-cased and values trimmed."""
        return cls(method.upper(), path, _lower_headers(headers), body, query, client, scheme)

    @staticmethod
    def decode_headers(pairs: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        """Header pairs as bytes (ASGI's ``scope["headers"]``, an HTTP/2 library's) as the
        ``headers`` of a request: latin-1 text (as in WSGI), names lower-cased, values
        trimmed as :meth:`build` trims them, a repeated header's last value winning.

        One pass over the bytes, for servers that call the core on every request: the
        same as :meth:`build` given the decoded pairs.
        """
        return {
            name.decode("latin-1").lower(): value.decode("latin-1").strip(_TRIMMED)
            for name, value in pairs
        }

    def header(self, name: str) -> str | None:
        """A header's value by lower-case name."""
        return self.headers.get(name)

    @property
    def host(self) -> str | None:
        """The ``Host`` header (HTTP/2's ``:authority`` maps to it)."""
        return self.headers.get("host")

    @property
    def url(self) -> str:
        """The request URL as OME rebuilds it: ``scheme://Host/path[?query]``."""
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.host or ''}{self.path}{query}"


@attrs.frozen
class ApiResponse:
    """One HTTP response: status, headers in order, body bytes.

    ``Content-Length`` is already among the headers (a HEAD answer carries the length of the
    body it leaves out); the server adds ``Date``.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    #: the name of the route that answered (``""`` when none did), for logs and metrics
    route: str = ""
    #: a body that goes on after ``body`` (the event feed), or None
    stream: ResponseStream | None = attrs.field(default=None, eq=False, repr=False)

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive)."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None
