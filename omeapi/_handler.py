"""The API: ``Api.handle(request) -> response`` over plain values, in OME's order.

Host check → CORS headers → ``OPTIONS`` (204) → authentication (401/429) → an answer kept
for this snapshot (:mod:`omeapi._wire.answers`) → routing (404/405) → body limit (413) and
JSON parsing (400) → controller.  Every failure is an error class that
carries its status; :mod:`omeapi._wire.envelope` renders it.  No input yields a 500: an unexpected
exception is logged and answered with OME's 500 envelope, and tests look for any.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from omeapi import _messages as msg
from omeapi._access.auth import AuthVerifier, Brake
from omeapi._access.cors import ApiCors, CorsPolicy
from omeapi._access.hosts import HostCheck
from omeapi._access.tokens import ADMIN, Identity, check_scope
from omeapi._config.model import CrossDomains
from omeapi._console import Console
from omeapi._controllers.call import Call
from omeapi._errors import ApiError, ConfigError, EngineUnavailable, StoreError, WouldBlock
from omeapi._routes import RouteMatch, Router, routes_for
from omeapi._services import AuditSource, Services, current_source
from omeapi._wire.answers import Answers
from omeapi._wire.envelope import JSON_CONTENT_TYPE, Reply, config_error, error, plain
from omeapi._wire.json_body import parse_json_body
from omeapi._wire.request import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from omeapi._config import ServerConfig
    from omeapi._engine.protocol import MediaEngine
    from omeapi._state.certificates import Certificates
    from omeapi._state.follow import StoreFollower
    from omeapi._state.registry import Registry
    from omeapi._state.restart import RestartCoordinator
    from omeapi._stores.base import Store

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "HEALTH_PATH",
    "READY_PATH",
    "Api",
    "Deferred",
    "Forward",
    "Forwarded",
    "Observer",
]

#: Called after each request with the request, the response and the seconds it took.
Observer = Callable[[ApiRequest, ApiResponse, float], None]

#: What the process that owns the engine answered to a routed request
#: (:meth:`Api.answer_forwarded`): status, body, content type and extra headers.
Forwarded = tuple[int, bytes, str, tuple[tuple[str, str], ...]]

#: Sends an authenticated, routed request to the process that owns the engine and returns
#: its answer; raises :class:`~omeapi.EngineUnavailable` when that process cannot be reached.
Forward = Callable[[ApiRequest], Forwarded]

#: Liveness and readiness probes (no token, any Host).
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("omeapi")

#: Largest request body accepted by default (OME has no limit).
DEFAULT_BODY_LIMIT = 1024 * 1024

_SERVER = ("Server", "OvenMediaEngine")
_JSON_TYPE = ("Content-Type", JSON_CONTENT_TYPE)
_HTML_TYPE = ("Content-Type", "text/html")
_VARY = (("Vary", "Origin"),)
_READS = frozenset({"GET", "HEAD"})
#: Runtime changes the event feed reports (route action → event kind); config changes
#: are reported by the store with their audit record.
_RUNTIME_EVENTS = {
    "create_stream": "stream.started",
    "delete_stream": "stream.stopped",
    "start_push": "push.started",
    "stop_push": "push.stopped",
    "start_record": "record.started",
    "stop_record": "record.stopped",
    "disconnect_session": "session.disconnected",
}


class _Quiet:
    """A warning said at most once per ``interval`` seconds (an engine that is down would
    otherwise write a line per request)."""

    def __init__(self, text: str, interval: float = 5.0) -> None:
        self.text = text
        self.interval = interval
        self._last = -interval

    def say(self, detail: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            log.warning(self.text, detail)


_engine_down = _Quiet("the media engine is unavailable: %s")


class _WouldForward(WouldBlock):
    """On the non-blocking path: the answer is the engine host's, and the caller will
    forward the request itself without blocking (``handle_nonblocking(defer_forward=True)``);
    carries what the answer needs from the steps already taken."""

    def __init__(self) -> None:
        super().__init__()
        self.cors: tuple[tuple[str, str], ...] = ()
        self.action = ""


class Deferred:
    """:meth:`Api.handle_nonblocking`'s answer for a request that the process owning the
    engine answers: forward :attr:`request` without blocking (an awaitable link to the
    engine host), then pass what came back, or the :class:`~omeapi.ApiError` the link
    raised (:class:`~omeapi.EngineUnavailable`), to :meth:`finish`."""

    __slots__ = ("_finish", "request")

    def __init__(
        self, request: ApiRequest, finish: Callable[[Forwarded | ApiError], ApiResponse]
    ) -> None:
        self.request = request
        self._finish = finish

    def finish(self, answer: Forwarded | ApiError) -> ApiResponse:
        """The response to the request, with the answer of the engine's process."""
        return self._finish(answer)


class _Routed:
    """What the handling of one request learnt of its route (kept through an exception, so
    that the access log names the route of an error too)."""

    __slots__ = ("action", "of_snapshot", "refreshed")

    def __init__(self, refreshed: bool = False) -> None:
        self.action = ""
        self.of_snapshot = False
        self.refreshed = refreshed


#: Before the route is known (a failed login, say): no route learnt.
_UNROUTED = _Routed()


def _cors_asked(request: ApiRequest) -> tuple[str | None, str | None]:
    """What CORS decides on: the request's ``Origin`` and ``Access-Control-Request-Headers``."""
    headers = request.headers
    return headers.get("origin"), headers.get("access-control-request-headers")


def _cors_policy(block: CrossDomains | None, scope: str) -> CorsPolicy | None:
    return None if block is None else CorsPolicy.compile(block.urls, block.headers, scope)


class Api:
    """OME's v1 REST API over the :class:`~omeapi._services.Services` of one server.

    Build one with :func:`omeapi.open_api`, which reads the config, opens the store and
    starts the engine; this constructor only derives the request checks from the config and
    does no I/O.  ``allow_no_auth`` lets an embedding program run without an
    ``<AccessToken>`` (otherwise a config error).  ``brake`` is the failed-login brake to
    consult (:func:`omeapi.open_api` builds one for the store).  ``console_path`` serves the
    web console there (docs/console.md); None (the default) serves none.  Thread-safe:
    :meth:`handle` may be called from any number of threads.

    With a store other processes share, every request first reloads it if it changed, and
    :meth:`start` starts the thread that applies other processes' changes to the engine:
    whoever serves the API calls :meth:`start` and :meth:`close`.

    ``observers`` are called after each request with the request, the response and the
    seconds it took (the access log, metrics).  ``health`` answers ``GET /healthz`` (alive)
    and ``GET /readyz`` (the store can be read) without Host check or token.  With
    ``metrics_path``, ``GET <metrics_path>`` answers ``metrics()`` (Prometheus text) to
    authenticated requests.

    ``forward``: the engine lives in another process (``omeapi serve`` with several
    workers, or an engine of your own behind a socket).  Routes that reach the engine or
    change config are then answered there (:meth:`answer_forwarded`), through ``forward``;
    this process answers the Host check, CORS, the token and config reads itself.
    """

    def __init__(
        self,
        services: Services,
        *,
        allow_no_auth: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        brake: Brake | None = None,
        observers: Sequence[Observer] = (),
        health: bool = True,
        metrics_path: str | None = None,
        metrics: Callable[[], bytes] | None = None,
        console_path: str | None = None,
        forward: Forward | None = None,
    ) -> None:
        self.services = services
        self._forward = forward
        self.console = Console(console_path)
        self._observers = tuple(observers)
        self._probes: dict[str, Callable[[], Reply]] = (
            {HEALTH_PATH: lambda: plain(200), READY_PATH: self._ready} if health else {}
        )
        self._metrics_path = metrics_path
        self._metrics = metrics
        config = services.config
        self._shared = services.store.shared
        self._started = False
        self._closed = False
        self.router = Router(routes_for(services.wire.stream_actions))
        #: the answers of the routes that are a function of the snapshot, kept per snapshot
        self._answers = Answers()
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

    # The services, by the names embedders and servers use.
    @property
    def config(self) -> ServerConfig:
        return self.services.config

    @property
    def engine(self) -> MediaEngine:
        return self.services.engine

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def registry(self) -> Registry:
        return self.services.registry

    @property
    def coordinator(self) -> RestartCoordinator:
        return self.services.coordinator

    @property
    def certificates(self) -> Certificates:
        """TLS certificates; ``certificates.subscribe`` tells the server of a new API one."""
        return self.services.certificates

    @property
    def follower(self) -> StoreFollower | None:
        """The follower of a shared store (None without one)."""
        return self.services.follower

    def start(self) -> None:
        """Start following a shared store (idempotent; nothing to do without one)."""
        follower = self.services.follower
        if follower is not None:
            follower.start()
            self._started = True

    def close(self) -> None:
        """Stop following the store, and close it if :func:`omeapi.open_api` opened it
        (idempotent)."""
        services = self.services
        if services.events is not None:
            services.events.close()
        if services.follower is not None:
            services.follower.stop()
            self._started = False
        if services.owns_store and not self._closed:
            self._closed = True
            services.store.close()

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request.  Never raises."""
        if not self._observers:
            return self._answer(request)
        return self._observed(request, self._answer)

    def handle_nonblocking(
        self, request: ApiRequest, *, defer_forward: bool = False
    ) -> ApiResponse | Deferred | None:
        """Answer ``request`` if that needs no waiting, else None: then call :meth:`handle`
        where blocking is allowed (a worker thread).  For event loops: the Host check,
        CORS, the token, the brake's verdict, kept answers and reads of the registry
        snapshot are answered here; the engine, a store round trip, files, changes and the
        brake's counting are not, and None means that nothing of the request was done or
        counted.  The same pipeline as :meth:`handle`, step for step.  Never raises.

        With ``defer_forward`` (the caller can forward without blocking), a request that
        the engine's process answers (``Api(forward=…)``) comes back as a
        :class:`Deferred` once every check here has passed."""
        # Only an observer (a log, a metric) is told how long a request took.
        started = time.perf_counter() if self._observers else 0.0
        try:
            if not self._observers:
                return self._answer(request, False, defer_forward)
            return self._observed(request, self._answer_on_loop)
        except _WouldForward as later:
            return Deferred(
                request,
                functools.partial(self._finish_forwarded, request, later, started),
            )
        except WouldBlock:
            return None

    def _finish_forwarded(
        self,
        request: ApiRequest,
        later: _WouldForward,
        started: float,
        answer: Forwarded | ApiError,
    ) -> ApiResponse:
        if isinstance(answer, ApiError):
            reply, extra = self._failure(request, answer)
        else:
            reply = Reply(*answer)
            extra = reply.headers
        response = self._respond(request, reply, later.cors, extra, later.action)
        if self._observers:
            self._notify(request, response, time.perf_counter() - started)
        return response

    def _answer_on_loop(self, request: ApiRequest) -> ApiResponse:
        return self._answer(request, False, True)

    def body_timed_out(self, request: ApiRequest, seconds: float) -> ApiResponse:
        """The answer when a server gave up reading ``request``'s body after ``seconds``
        (408, with the CORS headers any answer carries; ``request`` is the one
        :meth:`precheck` let through, without its body).  Never raises."""
        return self._refused(request, msg.BODY_TIMEOUT.error(seconds=f"{seconds:g}"))

    def bodies_busy(self, request: ApiRequest, limit: int) -> ApiResponse:
        """The answer when a server will not start reading ``request``'s body because
        ``limit`` bodies are being read already (429 with ``Retry-After``; otherwise as
        :meth:`body_timed_out`).  Never raises."""
        return self._refused(request, msg.BODIES_BUSY.error((("Retry-After", "1"),), limit=limit))

    def _refused(self, request: ApiRequest, exc: ApiError) -> ApiResponse:
        def answer(request: ApiRequest) -> ApiResponse:
            cors = self.cors.headers(*_cors_asked(request))
            return self._respond(request, error(exc), cors, exc.headers)

        return self._observed(request, answer)

    def _observed(
        self, request: ApiRequest, answer: Callable[[ApiRequest], ApiResponse]
    ) -> ApiResponse:
        observers = self._observers
        if not observers:
            return answer(request)
        started = time.perf_counter()
        response = answer(request)
        self._notify(request, response, time.perf_counter() - started)
        return response

    def _notify(self, request: ApiRequest, response: ApiResponse, seconds: float) -> None:
        for observer in self._observers:
            try:
                observer(request, response, seconds)
            except Exception:  # a log or metric must never cost the answer
                log.exception("observer %r failed", observer)

    def precheck(self, request: ApiRequest) -> ApiResponse | None:
        """The answer decided from the headers alone, or None: then read the body.

        ``request`` is the request without its body; its ``Content-Length`` header gives
        the size.  The Host check, CORS and ``OPTIONS``, authentication, routing and the
        body limit run as :meth:`handle` runs them (the same code, in the same order, with
        the same answers; the 413 names the declared size).  A server calls this before
        reading a declared body, so that a wrong Host, a missing token or an oversized body
        is answered without waiting for (or buffering) bytes a client may never send; so is
        any request to a route that reads no body (answered in full).  Never raises.
        """
        early, cors = self._front(request, *_cors_asked(request))
        if early is not None:
            return early
        try:
            match = self._route(request)
            self._check_declared_size(request.headers.get("content-length"))
        except ApiError as exc:
            return self._respond(request, error(exc), cors, exc.headers)
        if match is None or not match.route.body:
            # A route that reads no body is answered without waiting for one: a client may
            # declare a body (chunks, a length) it never sends.
            return self.handle(request)
        return None

    def _answer(
        self, request: ApiRequest, may_block: bool = True, defer_forward: bool = False
    ) -> ApiResponse:
        probe = self._probes.get(request.path)
        if probe is not None and request.method in _READS:
            if not may_block and request.path == READY_PATH and self._shared:
                raise WouldBlock  # it reads the store
            # Health probes come from load balancers with any Host and no token; the
            # answer is a bare status, so it tells an attacker nothing.
            return self._respond(request, probe(), (), route=request.path)
        # What _cors_asked and _authenticate do, written out: this is every request's path,
        # and a Python call costs more here than what it calls (docs/performance.md).
        headers = request.headers
        origin = headers.get("origin")
        wanted = headers.get("access-control-request-headers")
        early, cors = self._front(request, origin, wanted)
        if early is not None:
            return early
        extra: tuple[tuple[str, str], ...] = ()
        # Made once a kept answer has not answered: most requests never need it.
        routed = _UNROUTED
        key = snapshot = None
        refreshed = False
        try:
            auth = self.auth
            identity = (
                ADMIN
                if auth is None
                else auth.verify(
                    headers.get("authorization"),
                    request.client,
                    may_block=may_block,
                    lookup=self._lookup_token,
                )
            )
            # A scoped token's answers are never taken from those kept for everyone: its
            # scope is checked on the route first.
            if request.method in _READS and (identity is ADMIN or identity.unlimited):
                key = self._answers.key(request, origin, wanted)
            if key is not None:
                # Fresh first: an answer is given again only while its snapshot is current.
                if self._shared:
                    self._refresh(request, may_block)
                    refreshed = True
                snapshot = self.services.registry.snapshot
                kept = self._answers.get(key, snapshot)
                if kept is not None:
                    return kept
            routed = _Routed(refreshed)
            reply = self._dispatch(request, routed, may_block, identity, defer_forward)
            extra = reply.headers
        except _WouldForward as later:
            later.cors, later.action = cors, routed.action
            raise
        except WouldBlock:
            raise
        except Exception as exc:
            reply, extra = self._failure(request, exc)
        response = self._respond(request, reply, cors, extra, routed.action)
        if key is not None and routed.of_snapshot and reply.status == 200:
            # The snapshot read before the controller's own: if a change came in between,
            # the answer is kept under an older snapshot and never given again.
            self._answers.put(key, snapshot, response)
        return response

    def answer_forwarded(self, request: ApiRequest) -> Forwarded:
        """Answer a request another process has checked and routed (``Api(forward=…)``
        there): the route's controller here, with this process's engine, as :meth:`handle`
        would run it after authentication (who is asking is found again from the request's
        ``Authorization``, for the scope and the audit log).  Never raises."""
        try:
            identity = ADMIN
            if self.auth is not None:
                identity = self.auth.verify_quietly(
                    request.headers.get("authorization"), self._lookup_token
                )
            reply = self._dispatch(request, _Routed(), True, identity)
            extra = reply.headers
        except Exception as exc:
            reply, extra = self._failure(request, exc)
        return reply.status, reply.body, reply.content_type, extra

    def _failure(
        self, request: ApiRequest, exc: Exception
    ) -> tuple[Reply, tuple[tuple[str, str], ...]]:
        """The answer to an exception raised while answering ``request`` (called from the
        ``except`` block: an unexpected one is logged with its traceback)."""
        if isinstance(exc, ApiError):
            if isinstance(exc, EngineUnavailable):
                _engine_down.say(exc.detail)
            return error(exc), exc.headers
        if isinstance(exc, ConfigError):
            return config_error(exc), ()
        if isinstance(exc, StoreError):
            log.error("the store %s failed: %s", self.services.store.location, exc)
            return error(msg.STORE_UNAVAILABLE.error()), ()
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error(msg.INTERNAL_ERROR.error()), ()

    def _front(
        self, request: ApiRequest, origin: str | None, wanted: str | None
    ) -> tuple[ApiResponse | None, tuple[tuple[str, str], ...]]:
        """The Host check, the console's files, then CORS (for the request's ``origin`` and
        ``wanted`` headers, :func:`_cors_asked`): an answer when they decide (403, a console
        file, ``OPTIONS``), and the CORS headers every later answer carries."""
        headers = request.headers
        hosts = self.hosts
        if not hosts.allow_all:  # then the Host header is not even read
            try:
                hosts.check(headers.get("host"))
            except ApiError as exc:
                return self._respond(request, error(exc), _VARY), ()
        # The console's files are public static content: answered before authentication.
        if self.console.path is not None:
            page = self.console.respond(request)
            if page is not None:
                return page, ()
        cors = self.cors.headers(origin, wanted)
        if request.method == "OPTIONS":
            return ApiResponse(204, (*cors, _SERVER, _HTML_TYPE)), cors
        return None, cors

    def _route(self, request: ApiRequest) -> RouteMatch | None:
        """Authentication, then the route (None: the metrics path), or OME's 401/404/405,
        or a scoped token's 403."""
        identity = self._authenticate(request)
        match = self._match(request)
        self._check_scope(identity, request, match)
        return match

    def _authenticate(self, request: ApiRequest, may_block: bool = True) -> Identity:
        """Who is asking; OME's 401 (or the brake's 429) unless the request carries the
        ``<AccessToken>`` or a scoped token of the store."""
        auth = self.auth
        if auth is None:
            return ADMIN
        return auth.verify(
            request.headers.get("authorization"),
            request.client,
            may_block=may_block,
            lookup=self._lookup_token,
        )

    def _lookup_token(self, digest: bytes, may_block: bool) -> Identity | None:
        """The scoped token with SHA-256 ``digest`` as the store holds it now: the
        registry is brought up to date first, so a revoked token fails at the next request
        of every process (with a store that learns of other machines' changes by
        notification, by asking the store itself)."""
        registry = self.services.registry
        if not may_block and self._shared:
            if not registry.current():
                raise WouldBlock
        else:
            try:
                registry.refresh(check=bool(getattr(self.services.store, "notifies", False)))
            except StoreError as exc:
                log.error("the store %s failed: %s", self.services.store.location, exc)
                raise msg.STORE_UNAVAILABLE.error() from None
        tokens = registry.snapshot.tokens
        return tokens.get(digest) if tokens else None

    @staticmethod
    def _check_scope(identity: Identity, request: ApiRequest, match: RouteMatch | None) -> None:
        if identity.unlimited:
            return
        if match is None:  # the metrics path: the whole server's
            check_scope(identity, "GET", "metrics", None)
            return
        check_scope(identity, request.method, match.route.action, match.params.get("vhost"))

    def _match(self, request: ApiRequest) -> RouteMatch | None:
        """The route (None: the metrics path), or OME's 404/405."""
        if (
            request.path == self._metrics_path
            and self._metrics is not None
            and request.method in _READS
        ):
            return None
        match = self.router.match(request.method, request.path)
        if match is None:
            allowed = self.router.allowed(request.path)
            if allowed:
                raise msg.METHOD_NOT_ALLOWED.error(
                    (("Allow", ", ".join([*allowed, "OPTIONS"])),), method=request.method
                )
            raise msg.CONTROLLER_NOT_FOUND.error()
        return match

    def _check_declared_size(self, declared: str | None) -> None:
        """413 for a ``Content-Length`` over the body limit (only plain digits are a length,
        RFC 9110: the server has refused anything else, or the body is chunked and its size
        is known once read)."""
        digits = (declared or "").lstrip("0") or "0"
        if digits.isascii() and digits.isdigit():
            # Compared as text first: int() refuses more than 4300 digits.
            limit = str(self.body_limit)
            if (len(digits), digits) > (len(limit), limit):
                raise msg.BODY_TOO_LARGE.error(size=digits, limit=self.body_limit)

    def _dispatch(
        self,
        request: ApiRequest,
        routed: _Routed,
        may_block: bool = True,
        identity: Identity = ADMIN,
        defer_forward: bool = False,
    ) -> Reply:
        """The controller's reply to an authenticated request; ``routed`` learns the route."""
        match = self._match(request)
        self._check_scope(identity, request, match)
        if match is None:
            routed.action = "metrics"
            return Reply(200, self._metrics(), METRICS_CONTENT_TYPE)  # type: ignore[misc]
        if len(request.body) > self.body_limit:
            raise msg.BODY_TOO_LARGE.error(size=len(request.body), limit=self.body_limit)
        route = match.route
        forward = self._forward
        forwarded = forward is not None and not route.local
        if not (may_block or route.pure):
            if forwarded and defer_forward:
                routed.action = route.action
                raise _WouldForward
            raise WouldBlock
        routed.action = route.action
        routed.of_snapshot = route.of_snapshot
        if forwarded:
            assert forward is not None
            return Reply(*forward(request))
        body = parse_json_body(request.body) if route.body else None
        if self._shared and not routed.refreshed:
            self._refresh(request, may_block)
        if request.method in _READS:
            return route.controller(Call(self.services, request, match.params, body, identity))
        # Changes are audited with the request that made them, and who made it.
        token = current_source.set(
            AuditSource(request.client, request.method, request.path, identity.name)
        )
        try:
            reply = route.controller(Call(self.services, request, match.params, body, identity))
        finally:
            current_source.reset(token)
        kind = _RUNTIME_EVENTS.get(route.action)
        events = self.services.events
        if kind is not None and events is not None and reply.status < 300:
            params = match.params
            data: dict[str, object] = {"app": params.get("app", ""), "by": identity.name}
            if "stream" in params:
                data["stream"] = params["stream"]
            if "session" in params:
                data["id"] = params["session"]
            if isinstance(body, dict):
                for key in ("id", "name"):
                    if isinstance(body.get(key), str):
                        data[key] = body[key]
            events.publish(kind, params.get("vhost", ""), data)
        return reply

    def _refresh(self, request: ApiRequest, may_block: bool = True) -> None:
        """Show what other processes changed: one counter read when nothing did."""
        if not may_block:
            if not self.services.registry.current():
                raise WouldBlock  # the store must be asked
            return
        try:
            follower = self.services.follower
            if self.services.registry.refresh() and self._started and follower is not None:
                follower.poke()  # and their changes reach this process's engine
        except StoreError as exc:
            if request.method not in _READS:
                raise
            # A read is answered from the last state seen rather than not at all.
            log.warning("the store %s cannot be read: %s", self.services.store.location, exc)

    def _ready(self) -> Reply:
        """Ready when the store can be read (always, for the in-memory one)."""
        try:
            self.services.registry.refresh()
        except StoreError:
            return plain(503)
        return plain(200)

    @staticmethod
    def _respond(
        request: ApiRequest,
        reply: Reply,
        cors: tuple[tuple[str, str], ...],
        extra: tuple[tuple[str, str], ...] = (),
        route: str = "",
    ) -> ApiResponse:
        body = reply.body
        kind = (
            _JSON_TYPE
            if reply.content_type is JSON_CONTENT_TYPE
            else ("Content-Type", reply.content_type)
        )
        stream = reply.stream
        if stream is not None:  # the event feed: no length, the body goes on
            headers = (*cors, *extra, kind, _SERVER)
            return ApiResponse(reply.status, headers, body, route, stream)
        headers = (*cors, *extra, kind, _SERVER, ("Content-Length", str(len(body))))
        if request.method == "HEAD":
            body = b""
        return ApiResponse(reply.status, headers, body, route)
