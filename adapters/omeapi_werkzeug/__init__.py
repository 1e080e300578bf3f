"""The Werkzeug (WSGI) adapter: ``environ`` → :class:`~omeapi.http.ApiRequest` → WSGI.

It translates and nothing more: no routing, no authentication, no JSON.  Mount it anywhere
(``SCRIPT_NAME`` is honoured: routes match ``PATH_INFO``), serve it with any WSGI server,
and put :class:`werkzeug.middleware.proxy_fix.ProxyFix` in front of it behind a proxy.

>>> app = create_app("Server.xml")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wsgi import get_input_stream

from omeapi.config import ServerConfig, load_server_config
from omeapi.engine import MediaEngine
from omeapi.handler import Api
from omeapi.http import ApiRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["WsgiApp", "create_app", "request_from_environ"]

_REASONS: dict[int, str] = {}


def _status_line(status: int) -> str:
    line = _REASONS.get(status)
    if line is None:
        from omeapi.envelope import reason_phrase

        line = _REASONS[status] = f"{status} {reason_phrase(status)}"
    return line


def _read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    # One byte more than the limit is enough to know the body is too large, without
    # reading (or buffering) the rest of it.
    stream = get_input_stream(environ, safe_fallback=True)
    return stream.read(limit + 1)


def request_from_environ(environ: WSGIEnvironment, body_limit: int) -> ApiRequest:
    """The core's request for a WSGI ``environ`` (body read up to ``body_limit + 1``)."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key[:5] == "HTTP_"
    }
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers["content-type"] = content_type
    length = environ.get("CONTENT_LENGTH")
    if length:
        headers["content-length"] = length
    if "host" not in headers:
        server = environ.get("SERVER_NAME", "")
        port = environ.get("SERVER_PORT", "")
        headers["host"] = f"{server}:{port}" if port else server
    # PEP 3333 carries the path as latin-1 text of the raw bytes; the bytes are UTF-8.
    path = environ.get("PATH_INFO", "")
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        path = path.encode("latin-1").decode("utf-8")
    body = b""
    if length or environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING"):
        body = _read_body(environ, body_limit)
    return ApiRequest(
        environ.get("REQUEST_METHOD", "GET").upper(),
        path,
        headers,
        body,
        environ.get("QUERY_STRING", ""),
        environ.get("REMOTE_ADDR", ""),
        environ.get("wsgi.url_scheme", "http"),
    )


class WsgiApp:
    """A WSGI application answering through an :class:`~omeapi.handler.Api`."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        api = self.api
        response = api.handle(request_from_environ(environ, api.body_limit))
        start_response(_status_line(response.status), list(response.headers))
        return (response.body,)


def create_app(
    config: str | os.PathLike[str] | ServerConfig | Api,
    engine: MediaEngine | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    on_api: Callable[[Api], None] | None = None,
    **options: Any,
) -> WsgiApp:
    """A WSGI app serving OME's API for ``config`` (a Server.xml path or a parsed config).

    ``engine`` defaults to the simulated engine; other keyword ``options`` go to
    :class:`~omeapi.handler.Api` (``allow_no_auth``, ``body_limit``, ``store`` …).  An already
    built ``Api`` may be passed instead of a config.  ``on_api`` is called with the ``Api``
    (servers use it to hook certificate reloads).
    """
    if isinstance(config, Api):
        api = config
    else:
        parsed = (
            config
            if isinstance(config, ServerConfig)
            else load_server_config(config, environ=environ)
        )
        api = Api(parsed, engine, **options)
    if on_api is not None:
        on_api(api)
    return WsgiApp(api)
