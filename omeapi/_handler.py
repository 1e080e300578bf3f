"""The API: ``Api.handle(request) -> response`` over plain values, in OME's order.

Host check → CORS headers → ``OPTIONS`` (204) → authentication (401/429) → routing (404/405)
→ body limit (413) and JSON parsing (400) → controller.  Every failure is an error class that
carries its status; :mod:`omeapi._wire.envelope` renders it.  No input yields a 500: an unexpected
exception is logged and answered with OME's 500 envelope, and tests look for any.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from omeapi import _messages as msg
from omeapi._access.auth import AuthVerifier, FailureBrake
from omeapi._access.cors import ApiCors, CorsPolicy
from omeapi._access.hosts import HostCheck
from omeapi._config import ServerConfig, load_server_config
from omeapi._config.model import CrossDomains
from omeapi._controllers import ACTIONS, Call
from omeapi._engine.protocol import MediaEngine
from omeapi._errors import ApiError, ConfigError
from omeapi._routes import Router
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.audit import AuditSource, current_source
from omeapi._state.certificates import Certificates
from omeapi._state.follow import StoreFollower
from omeapi._state.registry import Registry
from omeapi._state.restart import RestartCoordinator
from omeapi._stores.base import Store, StoreError, open_store, store_location
from omeapi._wire.envelope import JSON_CONTENT_TYPE, Reply, config_error, error
from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = ["DEFAULT_BODY_LIMIT", "Api"]

log = logging.getLogger("omeapi")

#: Largest request body accepted by default (OME has no limit).
DEFAULT_BODY_LIMIT = 1024 * 1024

_SERVER = ("Server", "OvenMediaEngine")
_JSON_TYPE = ("Content-Type", JSON_CONTENT_TYPE)
_HTML_TYPE = ("Content-Type", "text/html")
_VARY = (("Vary", "Origin"),)
_READS = frozenset({"GET", "HEAD"})

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


def _finite_float(text: str) -> float:
    # 1e400 would become inf, which no JSON writer can give back (it would print Infinity).
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"Number out of range: {text}")
    return value


def parse_json_body(body: bytes) -> Any:
    """A request body as strict JSON (RFC 8259); no body is ``null``.

    Errors keep OME's ``[JSON] * Line L, Column C`` shape.
    """
    if not body:
        return None
    try:
        text = body.decode("utf-8-sig")  # a leading BOM is skipped, as OME does
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, msg.JSON_ERROR.format(line=1, column=exc.start + 1, reason="Invalid UTF-8")
        ) from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
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

    ``engine`` defaults to a :class:`~omeapi.SimulatedEngine`; ``start_engine``
    starts the config's vhosts and apps on it.  ``allow_no_auth`` lets an embedding program
    run without an ``<AccessToken>`` (otherwise a config error).  ``brake`` is the failed-auth
    brake (True: the default one).  Thread-safe: :meth:`handle` may be called from any number
    of threads.

    ``store`` keeps API-created resources: a :class:`~omeapi.Store`, a location (a
    SQLite path or a ``postgresql://`` URL, ``memory``), or None for what
    ``<Managers><API><Storage>`` says (in-memory without it).  Stored vhosts come back at
    start.  With a store other processes share, every request first reloads it if it
    changed, and ``follow`` starts a thread that applies other processes' changes to the
    engine.  :meth:`close` stops it and closes a store the Api opened.
    """

    def __init__(
        self,
        config: ServerConfig,
        engine: MediaEngine | None = None,
        *,
        store: Store | str | None = None,
        allow_no_auth: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        brake: FailureBrake | bool = True,
        start_engine: bool = True,
        follow: bool = True,
    ) -> None:
        self.config = config
        self.engine: MediaEngine = (
            engine if engine is not None else SimulatedEngine(config_dir=config.config_dir)
        )
        self._owns_store = not isinstance(store, Store)
        self.store: Store = _open_store(config, store)
        try:
            self.registry = Registry(
                config.virtual_hosts, store=self.store, source=config.file or "Server.xml"
            )
        except StoreError as exc:
            self._close_store()
            raise ConfigError(f"cannot read the store {self.store.location}: {exc}") from None
        self._shared = self.store.shared
        self.coordinator = RestartCoordinator(self.registry, self.engine)
        self.follower: StoreFollower | None = None
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
        #: TLS certificates; ``certificates.subscribe`` tells the server of a new API one
        self.certificates = Certificates(config)
        if start_engine:
            self.coordinator.start()
        else:
            self.coordinator.adopt()
        if follow and self._shared:
            self.follower = StoreFollower(self.registry, self.coordinator)
            self.follower.start()

    def close(self) -> None:
        """Stop following the store and close it if the Api opened it (idempotent)."""
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        self._close_store()

    def _close_store(self) -> None:
        if self._owns_store:
            self._owns_store = False
            self.store.close()

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
        except StoreError as exc:
            log.error("the store %s failed: %s", self.store.location, exc)
            reply = error(ApiError(503, msg.STORE_UNAVAILABLE))
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            reply = error(ApiError(500, "Internal Server Error"))
        return self._respond(request, reply, cors, extra)

    def precheck(self, request: ApiRequest) -> ApiResponse | None:
        """The answer decided from the headers alone, or None: then read the body.

        ``request`` is the request without its body; its ``Content-Length`` header gives
        the size.  The Host check, CORS and ``OPTIONS``, authentication, routing and the
        body limit run as :meth:`handle` runs them, in the same order and with the same
        answers (the 413 names the declared size); the first that decides answers.  A
        server calls this before reading a declared body, so that a wrong Host, a missing
        token or an oversized body is answered without waiting for (or buffering) bytes a
        client may never send.  Never raises.
        """
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
        try:
            if self.auth is not None:
                self.auth.verify(headers.get("authorization"), request.client)
            if self.router.match(request.method, request.path) is None:
                allowed = self.router.allowed(request.path)
                if allowed:
                    raise ApiError(
                        405,
                        msg.METHOD_NOT_ALLOWED.format(method=request.method),
                        (("Allow", ", ".join([*allowed, "OPTIONS"])),),
                    )
                raise ApiError(404, msg.CONTROLLER_NOT_FOUND)
            # Only plain digits are a length (RFC 9110); the server has refused anything
            # else, or the body is chunked and its size is known only once read.
            declared = (headers.get("content-length") or "").lstrip("0") or "0"
            if declared.isascii() and declared.isdigit():
                # Compared as text first: int() refuses more than 4300 digits.
                limit = str(self.body_limit)
                if (len(declared), declared) > (len(limit), limit):
                    raise ApiError(
                        413, msg.BODY_TOO_LARGE.format(size=declared, limit=self.body_limit)
                    )
        except ApiError as exc:
            return self._respond(request, error(exc), cors, exc.headers)
        return None

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
        if self._shared:
            self._refresh(request)
        if request.method in _READS:
            return ACTIONS[route.action](Call(self, request, match.params, body))
        # Changes are audited with the request that made them.
        token = current_source.set(AuditSource(request.client, request.method, request.path))
        try:
            return ACTIONS[route.action](Call(self, request, match.params, body))
        finally:
            current_source.reset(token)

    def _refresh(self, request: ApiRequest) -> None:
        """Show what other processes changed: one counter read when nothing did."""
        try:
            if self.registry.refresh() and self.follower is not None:
                self.follower.poke()  # and their changes reach this process's engine
        except StoreError as exc:
            if request.method not in _READS:
                raise
            # A read is answered from the last state seen rather than not at all.
            log.warning("the store %s cannot be read: %s", self.store.location, exc)

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


def _open_store(config: ServerConfig, store: Store | str | None) -> Store:
    if isinstance(store, Store):
        return store
    location = store_location(config, store)
    try:
        return open_store(location)
    except StoreError as exc:
        raise ConfigError(
            f"<Managers><API><Storage>: cannot open the store {location}: {exc}",
            file=config.file,
        ) from None
