"""The ASGI adapter: an ASGI 3 ``scope`` → :class:`~omeapi.ApiRequest` → ASGI messages.

It translates and nothing more: no routing, no authentication, no JSON.  What the core
answers without waiting (:meth:`~omeapi.Api.handle_nonblocking`: the Host check, CORS,
the token, config reads, kept answers) is answered on the event loop; the rest
(:meth:`~omeapi.Api.handle`: the engine, a database, changes) runs in worker threads, at
most ``threads`` at a time.

Serve it with any ASGI server (uvicorn, hypercorn …) or mount it inside another ASGI app
(Starlette's ``Mount("/ome", app=...)``: routes match the path below ``root_path``)::

    app = create_app("Server.xml")          # uvicorn --no-server-header module:app

The ``Api`` is built when the server's lifespan starts (a broken config stops the server
with the config error's location) and closed when it ends.  A host app that does not pass
lifespan events on (Starlette's ``Mount`` does not) uses :meth:`AsgiApp.lifespan` as its
own lifespan, or lets the first request build it.

uvicorn and hypercorn add a ``Server`` header of their own next to OME's unless told not to
(``--no-server-header``, ``include_server_header = false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import anyio.to_thread

from omeapi import (
    Api,
    ApiError,
    ApiRequest,
    ApiResponse,
    ConfigError,
    Deferred,
    Forwarded,
    MediaEngine,
    ServerConfig,
    open_api,
)

__all__ = [
    "AsgiApp",
    "AsyncForward",
    "Receive",
    "Scope",
    "Send",
    "create_app",
    "request_from_scope",
]

log = logging.getLogger("omeapi.asgi")

# The shapes of ASGI 3 (the same as Starlette's, so that an AsgiApp mounts there as is).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Worker threads for ``Api.handle`` when neither ``threads`` nor ``<WorkerCount>`` says.
DEFAULT_THREADS = 4

#: Sends a request to the process that owns the engine without blocking the loop
#: (``omeapi_remote.AsyncHostLink.forward``); raises :class:`~omeapi.ApiError`
#: (``EngineUnavailable``) when it cannot.
AsyncForward = Callable[[ApiRequest], Awaitable[Forwarded]]


def _route_path(scope: Scope) -> str:
    """The request path below ``root_path``, percent-decoded once as WSGI's ``PATH_INFO``.

    Servers decode ``raw_path`` as UTF-8 and replace what is not; WSGI carries those bytes
    as latin-1 instead, and the core answers both the same way only if the path is the
    same.  So where the server had to replace something, the raw bytes are decoded again.
    """
    path: str = scope["path"]
    if "\ufffd" in path:
        raw = scope.get("raw_path")
        if raw:
            decoded = unquote_to_bytes(bytes(raw).partition(b"?")[0])
            try:
                path = decoded.decode("utf-8")
            except UnicodeDecodeError:
                path = decoded.decode("latin-1")
    # ASGI's path includes the root_path the app is mounted at (Starlette's Mount, uvicorn
    # --root-path); servers that keep them apart (hypercorn) give a path without it.
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        path = path[len(root) :]
    return path


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers as the core reads them (:meth:`ApiRequest.decode_headers`)."""
    headers = ApiRequest.decode_headers(scope["headers"])
    if "host" not in headers:
        server = scope.get("server")
        if server:
            # Without a Host header (HTTP/1.0), the server's own address, as WSGI's
            # SERVER_NAME:SERVER_PORT.
            address, port = server[0], server[1]
            headers["host"] = f"{address}:{port}" if port is not None else str(address)
    return headers


def _request(scope: Scope, headers: dict[str, str], body: bytes) -> ApiRequest:
    client = scope.get("client")
    path: str = scope["path"]
    return ApiRequest(
        scope["method"].upper(),
        # Most paths are ASCII, below no root_path: as they are.
        _route_path(scope) if scope.get("root_path") or not path.isascii() else path,
        headers,
        body,
        scope.get("query_string", b"").decode("latin-1"),
        str(client[0]) if client else "",
        scope.get("scheme", "http"),
    )


def request_from_scope(scope: Scope, body: bytes) -> ApiRequest:
    """The core's request for an ASGI HTTP ``scope`` and the body read for it."""
    return _request(scope, _headers(scope), body)


def _declared_length(headers: Mapping[str, str]) -> int | None:
    length = headers.get("content-length")
    return int(length) if length is not None and length.isascii() and length.isdigit() else None


def _framed_empty(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether the request's framing says it has no body: HTTP/1.x without a length or
    chunks (RFC 9112 section 6.3), or a zero length.  Then there is nothing to read (ASGI
    does not require an app to ask for it), and nothing a client could stall."""
    if "transfer-encoding" in headers:
        return False
    length = headers.get("content-length")
    if length is None:
        return scope.get("http_version") in ("1.1", "1.0")
    return length == "0"


async def _read_body(receive: Receive, limit: int, declared: int | None) -> bytes | None:
    """The request body, up to ``limit + 1`` bytes; None if the client went away.

    One byte more than the limit is enough for the core to answer 413; the rest is never
    read (or buffered).  A declared ``Content-Length`` over the limit is not read at all:
    the core is given a zero-filled stand-in of ``limit + 1`` bytes, so that it answers
    (401, 404 or 413, in its own order) before the client has sent the body.
    """
    if declared is not None and declared > limit:
        return bytes(limit + 1)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body[: limit + 1] if size > limit else body


#: Response headers as ASGI's bytes, by the core's header tuple: most answers are given
#: again with the same headers (kept answers), and encoding them is a fair part of what
#: the adapter costs a request.  Bounded, since some headers (an echoed Origin) come from
#: clients.
_ENCODED: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
_ENCODED_MAX = 512


def _encoded(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    encoded = _ENCODED.get(headers)
    if encoded is None:
        encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[headers] = encoded
    # A copy: a server or middleware may append to the list it is given.
    return encoded.copy()


async def _send_response(send: Send, response: ApiResponse) -> None:
    """The core's answer as ASGI messages (a HEAD answer keeps its ``Content-Length``)."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": _encoded(response.headers),
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def _send_stream(receive: Receive, send: Send, response: ApiResponse) -> None:
    """The event feed on the event loop: woken from the feed's thread, no thread held."""
    stream = response.stream
    assert stream is not None
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(ready.set)

    stream.set_waker(wake)
    headers = _encoded(response.headers)
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()
        ready.set()

    watcher = asyncio.ensure_future(watch())
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.body:
            await send({"type": "http.response.body", "body": response.body, "more_body": True})
        while not gone.is_set():
            chunk = stream.poll()
            if chunk is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                continue
            if stream.ended:
                break
            ready.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ready.wait(), max(stream.due(), 0.05))
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b""})
    except OSError:
        pass
    finally:
        watcher.cancel()
        stream.close()


def _pool_size(api: Api | None) -> int:
    binding = api.config.api_binding if api is not None else None
    count = binding.worker_count if binding is not None else None
    return count or DEFAULT_THREADS


class AsgiApp:
    """An ASGI 3 application answering through an :class:`~omeapi.Api`.

    ``api`` is the ``Api`` itself or a function that builds it (called once, when the
    lifespan starts or on the first request).  ``threads`` bounds how many requests the
    ``Api`` answers at once (default: ``<Bind><Managers><API><WorkerCount>``, else 4).
    ``on_api`` is called with the ``Api`` once it is built (servers use it to hook
    certificate reloads: ``api.certificates.subscribe``).  ``body_timeout``: seconds a
    request's body may take to arrive, stalled or not; then the answer is a 408.
    ``forward``: where the ``Api`` forwards to another process that owns the engine
    (``Api(forward=…)``), the same way there without a thread (see :data:`AsyncForward`).

    The lifespan starts the ``Api`` (:meth:`~omeapi.Api.start`: the follower of a shared
    store) and closes it at the end (:meth:`~omeapi.Api.close`); an ``Api`` built here is
    built again by the next startup.
    """

    def __init__(
        self,
        api: Api | Callable[[], Api],
        *,
        threads: int | None = None,
        on_api: Callable[[Api], None] | None = None,
        body_timeout: float | None = None,
        forward: AsyncForward | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self._build = None if isinstance(api, Api) else api
        self._api = api if isinstance(api, Api) else None
        self._started = False
        self._threads = threads
        self._on_api = on_api
        self.body_timeout = body_timeout
        self._forward = forward
        self._lock = threading.Lock()
        # The pool's size is known once the Api is (its <WorkerCount>); it is applied to the
        # limiter on the event loop, which alone may touch it.
        self._size = self._applied = threads or _pool_size(self._api)
        self._limiter = anyio.CapacityLimiter(self._size)

    @property
    def api(self) -> Api:
        """The ``Api`` (built now, and started, if it has not been built yet)."""
        return self._api or self._ensure()

    def _ensure(self) -> Api:
        with self._lock:
            api = self._api
            if api is None:
                assert self._build is not None
                api = self._build()
                if self._threads is None:
                    self._size = _pool_size(api)
                if self._on_api is not None:
                    try:
                        self._on_api(api)
                    except BaseException:
                        api.close()
                        raise
            if not self._started:
                api.start()  # the server owns the follower thread of a shared store
                self._started = True
            self._api = api
            return api

    def _close(self) -> None:
        with self._lock:
            api, self._started = self._api, False
            if self._build is not None:
                self._api = None
        if api is not None:
            api.close()

    async def startup(self) -> None:
        """Build and start the ``Api`` (in a worker thread: it may open a database)."""
        await anyio.to_thread.run_sync(self._ensure)

    async def shutdown(self) -> None:
        """Close the ``Api`` (its follower thread, and a store it opened)."""
        await anyio.to_thread.run_sync(self._close)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """:meth:`startup` … :meth:`shutdown`, as a host app's lifespan (Starlette's
        ``lifespan=``); ``app`` (the host app) is not used."""
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # Not an endpoint of the API: closing before accepting is the server's 403.
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
        else:
            # ASGI: an application raises for a scope type it does not know.
            raise ValueError(f"omeapi_asgi: unsupported ASGI scope type {kind!r}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        # The HTTP request is answered here rather than in a coroutine of its own: one
        # coroutine less for every request.
        api = self._api if self._started else None
        if api is None:
            try:
                api = await anyio.to_thread.run_sync(self._ensure)
            except ConfigError as exc:
                # Without a lifespan nothing could report this earlier; the next request
                # tries again.
                log.error("cannot build the API: %s", exc.located())
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        headers = _headers(scope)
        body: bytes | None = b""
        if not _framed_empty(scope, headers):
            # A stalled or trickling body holds a coroutine, not a thread; with body_timeout
            # it is cut off, wherever the read is.  (Setting up that deadline costs more than
            # the core's answer to a GET, which has no body to wait for.)
            with anyio.move_on_after(self.body_timeout) as deadline:
                body = await _read_body(receive, api.body_limit, _declared_length(headers))
            if deadline.cancelled_caught:
                assert self.body_timeout is not None
                late = api.body_timed_out(_request(scope, headers, b""), self.body_timeout)
                with contextlib.suppress(OSError):
                    await _send_response(send, late)
                return
            if body is None:
                return  # the client went away before sending the whole body
        assert body is not None
        request = _request(scope, headers, body)
        # On the event loop when nothing of it can block (kept answers, config reads,
        # refusals); else the whole request again, on a worker thread.
        outcome = api.handle_nonblocking(request, defer_forward=self._forward is not None)
        if outcome is None:
            if self._size != self._applied:
                self._limiter.total_tokens = self._applied = self._size
            response = await anyio.to_thread.run_sync(api.handle, request, limiter=self._limiter)
        elif isinstance(outcome, Deferred):
            response = outcome.finish(await self._forwarded(request))
        else:
            response = outcome
        if response.stream is not None:
            await _send_stream(receive, send, response)
            return
        # _send_response written out (a coroutine less), and not contextlib.suppress (an
        # object less): this is every request's way out.
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": _encoded(response.headers),
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        except OSError:  # ASGI 2.4: sending to a gone client raises
            return

    async def _forwarded(self, request: ApiRequest) -> Forwarded | ApiError:
        assert self._forward is not None
        try:
            return await self._forward(request)
        except ApiError as exc:  # the engine's process cannot be reached: its 503
            return exc

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            kind = (await receive())["type"]
            if kind not in ("lifespan.startup", "lifespan.shutdown"):
                continue
            step = self.startup if kind == "lifespan.startup" else self.shutdown
            failure = None
            try:
                await step()
            except ConfigError as exc:
                failure = exc.located()
            except Exception as exc:
                log.exception("%s of the API failed", kind.removeprefix("lifespan."))
                failure = str(exc) or type(exc).__name__
            # Sent outside the handler: a server may raise from send (hypercorn does), and
            # its traceback need not carry ours.
            if failure is not None:
                await send({"type": f"{kind}.failed", "message": failure})
                return
            await send({"type": f"{kind}.complete"})
            if kind == "lifespan.shutdown":
                return


def create_app(
    config: str | os.PathLike[str] | ServerConfig | Api,
    engine: MediaEngine | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    on_api: Callable[[Api], None] | None = None,
    threads: int | None = None,
    body_timeout: float | None = None,
    forward_async: AsyncForward | None = None,
    **options: Any,
) -> AsgiApp:
    """An ASGI app serving OME's API for ``config`` (a Server.xml path or a parsed config).

    ``engine`` defaults to the simulated engine; other keyword ``options`` go to
    :func:`~omeapi.open_api` (``allow_no_auth``, ``body_limit``, ``store`` …), which runs
    when the lifespan starts (or on the first request).  An already built ``Api`` may be
    passed instead of a config.  ``on_api``, ``threads`` and ``body_timeout``: see
    :class:`AsgiApp`; ``forward_async``: its ``forward``.
    """
    settings: dict[str, Any] = {
        "threads": threads,
        "on_api": on_api,
        "body_timeout": body_timeout,
        "forward": forward_async,
    }
    if isinstance(config, Api):
        return AsgiApp(config, **settings)
    build = functools.partial(open_api, config, engine, environ=environ, **options)
    return AsgiApp(build, **settings)
