"""The API: ``Api.handle(request) -> response`` over plain values, in OME's order.

Host check → CORS headers → ``OPTIONS`` (204) → authentication (401/429) → routing (404/405)
→ body limit (413) and JSON parsing (400) → controller.  Every failure is an error class that
carries its status; :mod:`omeapi.envelope` renders it.  No input yields a 500: an unexpected
exception is logged and answered with OME's 500 envelope, and tests look for any.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from omeapi import messages as msg
from omeapi.auth import AuthVerifier, FailureBrake
from omeapi.config import ServerConfig, load_server_config
from omeapi.config.model import CrossDomains
from omeapi.controllers import ACTIONS, Call
from omeapi.cors import ApiCors, CorsPolicy
from omeapi.engine import MediaEngine
from omeapi.envelope import JSON_CONTENT_TYPE, Reply, config_error, error
from omeapi.errors import ApiError, ConfigError
from omeapi.hosts import HostCheck
from omeapi.http import ApiRequest, ApiResponse
from omeapi.registry import Registry
from omeapi.restart import RestartCoordinator
from omeapi.routes import Router
from omeapi.simulated import SimulatedEngine
from omeapi.store import Store

__all__ = ["DEFAULT_BODY_LIMIT", "Api"]

log = logging.getLogger("omeapi")

#: Largest request body accepted by default (OME has no limit).
DEFAULT_BODY_LIMIT = 1024 * 1024

_SERVER = ("Server", "OvenMediaEngine")
_JSON_TYPE = ("Content-Type", JSON_CONTENT_TYPE)
_HTML_TYPE = ("Content-Type", "text/html")
_VARY = (("Vary", "Origin"),)

_JSON_REASONS = (
    ("Expecting property name enclosed in double quotes", "Missing '}' or object member name"),
    ("Expecting value", "Syntax error: value, object or array expected."),
    ("Extra data", "Extra non-whitespace after JSON value."),
    ("Expecting ',' delimiter", "Missing ',' or '}' in object declaration"),
    ("Expecting ':' delimiter", "Missing ':' after object member name"),
    ("Unterminated string", "Missing '\"' at the end of the string"),
)


def _cors_policy(block: CrossDomains | None, scope: str) -> CorsPolicy | None:
    return None if block is None else CorsPolicy.compile(block.urls, block.headers, scope)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_body(body: bytes) -> Any:
    """A request body as strict JSON (RFC 8259); no body is ``null``.

    Errors keep OME's ``[JSON] * Line L, Column C`` shape.
    """
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, msg.JSON_ERROR.format(line=1, column=exc.start + 1, reason="Invalid UTF-8")
        ) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        reason = exc.msg
        for python, ours in _JSON_REASONS:
            if reason.startswith(python):
                reason = ours
                break
        raise ApiError(
            400, msg.JSON_ERROR.format(line=exc.lineno, column=exc.colno, reason=reason)
        ) from None
    except ValueError as exc:  # NaN / Infinity
        raise ApiError(400, msg.JSON_ERROR.format(line=1, column=1, reason=str(exc))) from None
    except RecursionError:
        raise ApiError(
            400, msg.JSON_ERROR.format(line=1, column=1, reason="Nesting is too deep")
        ) from None


class Api:
    """OME's v1 REST API over a parsed Server.xml and a media engine.

    ``engine`` defaults to a :class:`~omeapi.simulated.SimulatedEngine`; ``start_engine``
    starts the config's vhosts and apps on it.  ``allow_no_auth`` lets an embedding program
    run without an ``<AccessToken>`` (otherwise a config error).  ``brake`` is the failed-auth
    brake (True: the default one).  Thread-safe: :meth:`handle` may be called from any number
    of threads.
    """

    def __init__(
        self,
        config: ServerConfig,
        engine: MediaEngine | None = None,
        *,
        store: Store | None = None,
        allow_no_auth: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        brake: FailureBrake | bool = True,
        start_engine: bool = True,
    ) -> None:
        self.config = config
        self.engine: MediaEngine = engine if engine is not None else SimulatedEngine()
        self.registry = Registry(config.virtual_hosts, store=store)
        self.coordinator = RestartCoordinator(self.registry, self.engine)
        self.router = Router()
        self.body_limit = body_limit
        manager = config.api_manager
        managers = config.managers
        self.auth = AuthVerifier.from_config(
            manager.access_token if manager else None,
            api_enabled=config.api_enabled,
            allow_no_auth=allow_no_auth,
            brake=brake,
        )
        self.cors = ApiCors(
            _cors_policy(config.defaults_cross_domains, "Defaults"),
            _cors_policy(manager.cross_domains if manager else None, "API Server"),
        )
        host = managers.host if managers else None
        self.hosts = HostCheck(host.names if host else None)
        if start_engine:
            self.coordinator.start()

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Api:
        """Load ``path`` (a Server.xml) and build the API over it."""
        return cls(load_server_config(path, environ=environ), **options)

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request.  Never raises."""
        headers = request.headers
        try:
            self.hosts.check(headers.get("host"))
        except ApiError as exc:
            return self._respond(request, error(exc), _VARY)
        cors = self.cors.headers(
            headers.get("origin"), headers.get("access-control-request-headers")
        )
        if request.method == "OPTIONS":
            return ApiResponse(204, (*cors, _SERVER, _HTML_TYPE))
        extra: tuple[tuple[str, str], ...] = ()
        try:
            reply = self._dispatch(request)
        except ApiError as exc:
            reply = error(exc)
            extra = exc.headers
        except ConfigError as exc:
            reply = config_error(exc)
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            reply = error(ApiError(500, "Internal Server Error"))
        return self._respond(request, reply, cors, extra)

    def _dispatch(self, request: ApiRequest) -> Reply:
        auth = self.auth
        if auth is not None:
            auth.verify(request.headers.get("authorization"), request.client)
        match = self.router.match(request.method, request.path)
        if match is None:
            allowed = self.router.allowed(request.path)
            if allowed:
                raise ApiError(
                    405,
                    msg.METHOD_NOT_ALLOWED.format(method=request.method),
                    (("Allow", ", ".join([*allowed, "OPTIONS"])),),
                )
            raise ApiError(404, msg.CONTROLLER_NOT_FOUND)
        if len(request.body) > self.body_limit:
            raise ApiError(
                413, msg.BODY_TOO_LARGE.format(size=len(request.body), limit=self.body_limit)
            )
        route = match.route
        body = parse_json_body(request.body) if route.body else None
        return ACTIONS[route.action](Call(self, request, match.params, body))

    @staticmethod
    def _respond(
        request: ApiRequest,
        reply: Reply,
        cors: tuple[tuple[str, str], ...],
        extra: tuple[tuple[str, str], ...] = (),
    ) -> ApiResponse:
        body = reply.body
        headers = (*cors, *extra, _JSON_TYPE, _SERVER, ("Content-Length", str(len(body))))
        if request.method == "HEAD":
            body = b""
        return ApiResponse(reply.status, headers, body)
