"""The Werkzeug (WSGI) adapter: ``environ`` → :class:`~omeapi.ApiRequest` → WSGI.

It translates and nothing more: no routing, no authentication, no JSON.  Mount it anywhere
(``SCRIPT_NAME`` is honoured: routes match ``PATH_INFO``), serve it with any WSGI server,
and put :class:`werkzeug.middleware.proxy_fix.ProxyFix` in front of it behind a proxy.

>>> app = create_app("Server.xml")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wsgi import get_input_stream

from omeapi import (
    Api,
    ApiRequest,
    ApiResponse,
    MediaEngine,
    ServerConfig,
    load_server_config,
    open_api,
    reason_phrase,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["BodyTimeout", "EnvironHeaders", "WsgiApp", "create_app", "request_from_environ"]

_REASONS: dict[int, str] = {}


def _status_line(status: int) -> str:
    line = _REASONS.get(status)
    if line is None:
        line = _REASONS[status] = f"{status} {reason_phrase(status)}"
    return line


#: Bytes asked of the server at a time when the body's time is bounded.
_PIECE = 16384


class BodyTimeout(Exception):
    """The body did not arrive within its time (see :func:`request_from_environ`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"request body not received within {seconds:g} s")
        self.seconds = seconds


def _read_body(environ: WSGIEnvironment, limit: int, timeout: float | None) -> bytes:
    # One byte more than the limit is enough to know the body is too large, without
    # reading (or buffering) the rest of it.  Werkzeug's stream stops at CONTENT_LENGTH
    # (or at the end of a chunked body the server has terminated).
    stream = get_input_stream(environ, safe_fallback=True)
    if timeout is None:
        return stream.read(limit + 1)
    # In pieces, the clock looked at after each: a body in a great many tiny chunks costs
    # a server tens of microseconds a chunk (granian), so a megabyte of them, seconds.
    deadline = time.monotonic() + timeout
    pieces: list[bytes] = []
    left = limit + 1
    while left > 0:
        piece = stream.read(min(_PIECE, left))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
        if left > 0 and time.monotonic() > deadline:
            raise BodyTimeout(timeout)
    return b"".join(pieces)


def _has_body(environ: WSGIEnvironment) -> bool:
    """Whether there may be a body to read.

    An HTTP/1.x request without Content-Length or Transfer-Encoding has none (RFC 9112
    section 6.3), whatever ``wsgi.input_terminated`` says: granian sets that flag on every
    request, and reading its empty input cost more per GET than the core
    (docs/performance.md).  Other protocols (HTTP/2) may send a body without a length.
    """
    return bool(
        environ.get("CONTENT_LENGTH") or environ.get("HTTP_TRANSFER_ENCODING") or _unframed(environ)
    )


def _unframed(environ: WSGIEnvironment) -> bool:
    """Whether a body may come without a length or chunks: a terminated input of a protocol
    other than HTTP/1.x (HTTP/2 frames its body itself)."""
    if not environ.get("wsgi.input_terminated"):
        return False
    protocol = environ.get("SERVER_PROTOCOL")
    return not (isinstance(protocol, str) and protocol.startswith("HTTP/1"))


def _declares_body(environ: WSGIEnvironment) -> bool:
    """Whether the request says it sends a body: a non-zero length, or chunks."""
    length = environ.get("CONTENT_LENGTH")
    return bool((length and length.strip("0")) or environ.get("HTTP_TRANSFER_ENCODING"))


_SPECIAL = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_KEYS: dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        lowered = name.lower()
        key = _SPECIAL.get(lowered) or "HTTP_" + lowered.upper().replace("-", "_")
        if len(_KEYS) < 1024:  # header names come from clients: keep the memo bounded
            _KEYS[name] = key
    return key


class EnvironHeaders(Mapping[str, str]):
    """The request headers, read from ``environ`` only when asked for.

    The core looks at a handful of headers; translating every ``HTTP_*`` key of every
    request would cost more than the rest of the adapter.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: WSGIEnvironment) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        if name.lower() == "host":
            host = self._environ.get("HTTP_HOST")
            if host is None:
                server = self._environ.get("SERVER_NAME", "")
                port = self._environ.get("SERVER_PORT", "")
                host = f"{server}:{port}" if port else server
            return str(host)
        value = self._environ.get(_environ_key(name))
        if value is None:
            raise KeyError(name)
        return str(value)

    def get(self, name: str, default: Any = None) -> Any:
        # The core asks for the same few names on every request: once memoised, a name is
        # one lookup, without the exception an absent header raises in __getitem__ (see
        # docs/performance.md). Host never is memoised: it has a fallback.
        key = _KEYS.get(name)
        if key is None or key == "HTTP_HOST":
            try:
                return self[name]
            except KeyError:
                return default
        # PEP 3333: the server's HTTP_* values are native strings already.
        value = self._environ.get(key)
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def _names(self) -> list[str]:
        names = [k[5:].replace("_", "-").lower() for k in self._environ if k[:5] == "HTTP_"]
        names += [name for name, key in _SPECIAL.items() if self._environ.get(key)]
        if "host" not in names:
            names.append("host")
        return names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def request_from_environ(
    environ: WSGIEnvironment,
    body_limit: int,
    *,
    read_body: bool = True,
    body_timeout: float | None = None,
) -> ApiRequest:
    """The core's request for a WSGI ``environ`` (body read up to ``body_limit + 1``).

    With ``read_body=False`` the body is left unread (empty): what
    :meth:`~omeapi.Api.precheck` looks at.  With ``body_timeout``, a body still arriving
    after that many seconds raises :class:`BodyTimeout`.
    """
    body = b""
    if read_body and _has_body(environ):
        body = _read_body(environ, body_limit, body_timeout)
    return _request(environ, body)


def _request(environ: WSGIEnvironment, body: bytes) -> ApiRequest:
    # PEP 3333 carries the path as latin-1 text of the raw bytes; the bytes are UTF-8.
    # (Werkzeug's get_path_info does the same dance, three times slower on the ASCII
    # paths every API call has, and replaces invalid UTF-8 where this keeps the bytes.)
    path = environ.get("PATH_INFO", "")
    if not path.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            path = path.encode("latin-1").decode("utf-8")
    return ApiRequest(
        # Not upper-cased: a server frames the answer by the method it parsed, so `head`
        # answered as HEAD would promise a body it never sends.  The core refuses a
        # method it does not know with its 404/405 envelope.
        environ.get("REQUEST_METHOD", "GET"),
        path,
        EnvironHeaders(environ),
        body,
        environ.get("QUERY_STRING", ""),
        environ.get("REMOTE_ADDR", ""),
        environ.get("wsgi.url_scheme", "http"),
    )


#: Sent with an answer given before a declared body was read, where the server allows it:
#: the unread bytes would be taken for the next request, and waiting to drain them is what
#: a slow client wants.
_CLOSE = (("Connection", "close"),)


class WsgiApp:
    """A WSGI application answering through an :class:`~omeapi.Api`.

    A request that declares a body is first :meth:`~omeapi.Api.precheck`-ed from its
    headers (Host, CORS, auth, route, ``Content-Length`` against the body limit); the body
    is read only when that decides nothing.  With ``close_unread`` such an early answer
    carries ``Connection: close``: PEP 3333 forbids hop-by-hop headers (wsgiref refuses
    them), but granian and gunicorn, which ``omeapi serve`` runs, honour it.
    ``body_timeout`` bounds the seconds a body may take (408 after them, see
    :func:`request_from_environ`).  ``body_readers`` bounds how many requests of this app
    read their bodies at once: a body that stops arriving holds its server thread until
    the client closes (a blocking read cannot be interrupted), so clients holding the
    token could otherwise take every thread; past the bound the answer is a 429, and the
    threads left answer everything else.
    """

    def __init__(
        self,
        api: Api,
        *,
        close_unread: bool = False,
        body_timeout: float | None = None,
        body_readers: int | None = None,
    ) -> None:
        self.api = api
        self._close: tuple[tuple[str, str], ...] = _CLOSE if close_unread else ()
        self.body_timeout = body_timeout
        self.body_readers = body_readers
        self._readers = threading.BoundedSemaphore(body_readers) if body_readers else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        api = self.api
        if not _declares_body(environ):
            # No length and no chunks (or a length of 0): only HTTP/2 and later may still
            # carry a body.
            body = _read_body(environ, api.body_limit, None) if _unframed(environ) else b""
            return self._answer(start_response, api.handle(_request(environ, body)))
        headers_only = request_from_environ(environ, 0, read_body=False)
        early = api.precheck(headers_only)
        if early is not None:
            return self._answer(start_response, early, self._close)
        readers = self._readers
        if readers is not None and not readers.acquire(blocking=False):
            busy = api.bodies_busy(headers_only, self.body_readers or 0)
            return self._answer(start_response, busy, self._close)
        try:
            request = request_from_environ(environ, api.body_limit, body_timeout=self.body_timeout)
        except BodyTimeout as exc:
            late = api.body_timed_out(headers_only, exc.seconds)
            return self._answer(start_response, late, self._close)
        finally:
            if readers is not None:
                readers.release()
        return self._answer(start_response, api.handle(request))

    @staticmethod
    def _answer(
        start_response: StartResponse,
        response: ApiResponse,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Iterable[bytes]:
        status = response.status
        start_response(_REASONS.get(status) or _status_line(status), [*response.headers, *extra])
        if response.stream is not None:
            # The event feed: this thread is the subscriber's until the client goes (the
            # server closes the iterable then, which ends the subscription).
            return _streamed(response.body, response.stream)
        # A list, not a tuple: granian sends a list as one buffer and iterates anything else
        # chunk by chunk through a channel (see docs/performance.md).
        return [response.body]


def _streamed(first: bytes, stream: Iterable[bytes]) -> Iterator[bytes]:
    try:
        if first:
            yield first
        yield from stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def create_app(
    config: str | os.PathLike[str] | ServerConfig | Api,
    engine: MediaEngine | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    on_api: Callable[[Api], None] | None = None,
    close_unread: bool = False,
    body_timeout: float | None = None,
    body_readers: int | None = None,
    **options: Any,
) -> WsgiApp:
    """A WSGI app serving OME's API for ``config`` (a Server.xml path or a parsed config).

    ``engine`` defaults to the simulated engine; other keyword ``options`` go to
    :func:`~omeapi.open_api` (``allow_no_auth``, ``body_limit``, ``store`` …).  An already
    built ``Api`` may be passed instead of a config.  ``on_api`` is called with the ``Api``
    (servers use it to hook certificate reloads).  ``close_unread``, ``body_timeout`` and
    ``body_readers``: see :class:`WsgiApp`.
    """
    if isinstance(config, Api):
        api = config
    else:
        parsed = (
            config
            if isinstance(config, ServerConfig)
            else load_server_config(
                config,
                environ=environ,
                require_access_token=not options.get("allow_no_auth", False),
            )
        )
        api = open_api(parsed, engine, **options)
    if on_api is not None:
        on_api(api)
    api.start()  # the server owns the follower thread of a shared store
    return WsgiApp(
        api, close_unread=close_unread, body_timeout=body_timeout, body_readers=body_readers
    )
