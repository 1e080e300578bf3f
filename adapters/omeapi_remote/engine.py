"""A media engine in another process: :func:`publish_engine` on the side that has it,
:class:`RemoteEngine` on the side that calls it, and request forwarding for the workers
of ``omeapi serve``.

Engine calls travel as ``[CALL, method, args]``; the arguments and the answer have the
types the :class:`~omeapi.MediaEngine` protocol declares, and cattrs turns them into plain
values and back (MessagePack through msgspec), so the wire form follows the value classes
without a converter written per class.  Configs travel as their JSON form.  An
:class:`~omeapi.EngineError` comes back as itself; anything else the engine raises comes
back as :class:`RemoteEngineFault` (answered 500, as in one process).

A forwarded request travels as ``[FORWARD, method, path, headers, body, query, client,
scheme]`` and its answer as ``[status, body, content type, headers]``
(:meth:`omeapi.Api.answer_forwarded`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import cattrs
import msgspec

from omeapi import (
    Api,
    ApiRequest,
    ApplicationConfig,
    EngineError,
    EngineResult,
    EngineUnavailable,
    Forwarded,
    MediaEngine,
    VirtualHostConfig,
    application_from_json,
    virtual_host_from_json,
)
from omeapi_remote.channel import (
    LENGTH,
    MAX_FRAME,
    ChannelClient,
    ChannelClosed,
    ChannelServer,
)

__all__ = [
    "AsyncHostLink",
    "EngineService",
    "HostLink",
    "Publication",
    "RemoteEngine",
    "RemoteEngineFault",
    "publish_engine",
]

log = logging.getLogger("omeapi")

#: Frame kinds (the first element of a request frame).
FORWARD = 0
CALL = 1
#: Answer kinds of an engine call.
_RESULT = 0
_ENGINE_ERROR = 1
_FAULT = 2


class RemoteEngineFault(Exception):
    """The remote engine raised something other than :class:`~omeapi.EngineError` (a bug
    on its side); the API answers it as it answers any unexpected error (500)."""


@attrs.frozen
class _Signature:
    params: tuple[Any, ...]
    varargs: Any | None
    returns: Any


def _signatures() -> dict[str, _Signature]:
    """Every method of the engine protocol, with the types of its parameters and answer."""
    table: dict[str, _Signature] = {}
    for name, function in inspect.getmembers(MediaEngine, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = typing.get_type_hints(function)
        params: list[Any] = []
        varargs = None
        for parameter in list(inspect.signature(function).parameters.values())[1:]:
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                varargs = hints[parameter.name]
            else:
                params.append(hints[parameter.name])
        table[name] = _Signature(tuple(params), varargs, hints.get("return"))
    return table


#: What may be called, and how its values look on the wire.
SIGNATURES = _signatures()


def _converter() -> cattrs.Converter:
    # cattrs' own converter, field by field: it writes any Mapping as a dict (an engine may
    # answer a ChainMap where the protocol says Mapping), which msgspec's shortcut does not.
    converter = cattrs.Converter()

    def vhost_out(vhost: VirtualHostConfig) -> dict[str, Any]:
        value = dict(vhost.json_value)
        value["applications"] = [app.json_value for app in vhost.applications]
        return {"json": value, "readOnly": vhost.read_only}

    def vhost_in(raw: dict[str, Any], _: Any) -> VirtualHostConfig:
        vhost = virtual_host_from_json(raw["json"])
        return attrs.evolve(vhost, read_only=bool(raw["readOnly"]))

    # Methods that answer nothing: their answer is None on the wire too.
    converter.register_structure_hook(type(None), lambda raw, _: None)
    converter.register_unstructure_hook(VirtualHostConfig, vhost_out)
    converter.register_structure_hook(VirtualHostConfig, vhost_in)
    converter.register_unstructure_hook(ApplicationConfig, lambda app: app.json_value)
    converter.register_structure_hook(ApplicationConfig, lambda raw, _: application_from_json(raw))
    return converter


def _plain(value: Any) -> Any:
    # An engine may answer any Mapping where a dict is declared (a ChainMap, a proxy).
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"{type(value).__name__} has no wire form")


_CONVERTER = _converter()
_ENCODE = msgspec.msgpack.Encoder(enc_hook=_plain).encode
_DECODE = msgspec.msgpack.Decoder().decode


def _protocol_default(name: str, engine: MediaEngine, *args: Any) -> Any:
    """A method the engine does not have: the protocol's own body answers, which for the
    optional ones (speech-to-text, sessions) is their "not supported" EngineError; a
    required method that is missing is the engine's fault."""
    getattr(MediaEngine, name)(engine, *args)
    raise AttributeError(f"the engine has no method {name!r}")


class EngineService:
    """The answering side: engine calls to ``engine``; forwarded requests to ``api``
    (None: this side only publishes an engine)."""

    def __init__(self, engine: MediaEngine, api: Api | None = None) -> None:
        self.engine = engine
        self.api = api

    def __call__(self, frame: bytes) -> bytes:
        message = _DECODE(frame)
        if message[0] == FORWARD and self.api is not None:
            _, method, path, headers, body, query, client, scheme = message
            request = ApiRequest(method, path, headers, body, query, client, scheme)
            return _ENCODE(self.api.answer_forwarded(request))
        if message[0] == CALL:
            return self._call(message[1], message[2])
        raise ValueError(f"unknown frame kind {message[0]!r}")

    def _call(self, name: str, raw_args: list[Any]) -> bytes:
        signature = SIGNATURES.get(name)
        if signature is None:
            return _ENCODE([_FAULT, f"no engine method {name!r}"])
        structure = _CONVERTER.structure
        fixed = len(signature.params)
        if len(raw_args) < fixed or (signature.varargs is None and len(raw_args) > fixed):
            return _ENCODE([_FAULT, f"{name}: {len(raw_args)} arguments"])
        args = [structure(raw, kind) for raw, kind in zip(raw_args, signature.params, strict=False)]
        if signature.varargs is not None:
            args.extend(structure(raw, signature.varargs) for raw in raw_args[fixed:])
        method = getattr(self.engine, name, None)
        if method is None:
            method = functools.partial(_protocol_default, name, self.engine)
        try:
            result = method(*args)
        except EngineError as exc:
            return _ENCODE([_ENGINE_ERROR, exc.result.value, exc.detail])
        except Exception as exc:
            log.exception("the engine failed in %s", name)
            return _ENCODE([_FAULT, f"{type(exc).__name__}: {exc}"])
        try:
            return _ENCODE([_RESULT, _CONVERTER.unstructure(result, signature.returns)])
        except (OverflowError, TypeError, ValueError, NotImplementedError) as exc:
            # Not what the protocol declares (an integer beyond 64 bits, an odd type).
            log.error("the engine's answer to %s has no wire form: %s", name, exc)
            return _ENCODE([_FAULT, f"{name} answered a value with no wire form: {exc}"])


class Publication:
    """An engine published on a socket (:func:`publish_engine`); :meth:`close` ends it."""

    def __init__(self, server: ChannelServer, instance: str) -> None:
        self._server = server
        #: changes whenever the engine is published anew (its process restarted)
        self.instance = instance

    @property
    def path(self) -> str:
        return self._server.path

    def close(self) -> None:
        """Stop answering and remove the socket."""
        self._server.close()

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def publish_engine(engine: MediaEngine, path: str, *, api: Api | None = None) -> Publication:
    """Answer calls to ``engine`` on a Unix socket at ``path`` until closed, on threads
    of their own (the engine must be thread-safe, as docs/engine.md requires anyway).

    ``omeapi serve --engine unix:PATH`` fronts it with its HTTP workers.  The socket is
    created ``0600`` (the directory is made ``0700`` if missing, and refused if others may
    write to it) and only processes of the same user are answered: it carries no token.
    """
    instance = uuid.uuid4().hex
    server = ChannelServer(
        path, EngineService(engine, api), greeting=instance.encode(), name="omeapi-engine"
    )
    return Publication(server, instance)


class RemoteEngine:
    """A :class:`~omeapi.MediaEngine` whose every call runs in the process that published
    the engine (:func:`publish_engine`).  When that process cannot be reached, calls raise
    :class:`~omeapi.EngineUnavailable` (answered 503).

    ``on_restart`` is called (on the calling thread) when a connection finds the engine
    published anew since the last one: a new engine process, which runs nothing yet.
    """

    def __init__(
        self,
        path: str,
        *,
        timeout: float = 30.0,
        on_restart: Callable[[], None] | None = None,
        client: ChannelClient | None = None,
    ) -> None:
        self._instance: bytes | None = None
        self._on_restart = on_restart
        self._client = client or ChannelClient(path, timeout=timeout, on_greeting=self._greeted)

    def _greeted(self, instance: bytes) -> None:
        previous, self._instance = self._instance, instance
        if previous is not None and previous != instance and self._on_restart is not None:
            self._on_restart()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        signature = SIGNATURES.get(name)
        if signature is None:
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            return self._call(name, signature, args)

        call.__name__ = name
        self.__dict__[name] = call  # built once per method
        return call

    def _call(self, name: str, signature: _Signature, args: tuple[Any, ...]) -> Any:
        unstructure = _CONVERTER.unstructure
        kinds = list(signature.params)
        if signature.varargs is not None:
            kinds.extend([signature.varargs] * (len(args) - len(kinds)))
        raw = [unstructure(value, kind) for value, kind in zip(args, kinds, strict=True)]
        try:
            answer = _DECODE(self._client.call(_ENCODE([CALL, name, raw])))
        except ChannelClosed as exc:
            raise EngineUnavailable(str(exc)) from None
        if answer[0] == _RESULT:
            return _CONVERTER.structure(answer[1], signature.returns)
        if answer[0] == _ENGINE_ERROR:
            raise EngineError(EngineResult(answer[1]), answer[2])
        raise RemoteEngineFault(answer[1])

    def close(self) -> None:
        """Close the kept connections."""
        self._client.close()


def remote_engine(path: str, **options: Any) -> MediaEngine:
    """:class:`RemoteEngine` as the :class:`~omeapi.MediaEngine` it stands for."""
    return cast(MediaEngine, RemoteEngine(path, **options))


class HostLink:
    """A worker's way to the engine host of ``omeapi serve``: :meth:`forward` for
    ``Api(forward=…)``, and :attr:`engine` for direct engine calls, over one set of
    connections."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self._client = ChannelClient(path, timeout=timeout, greeted=True)
        self.engine = cast(MediaEngine, RemoteEngine(path, client=self._client))

    def forward(self, request: ApiRequest) -> Forwarded:
        """The engine host's answer to ``request``; :class:`~omeapi.EngineUnavailable` when
        it cannot be reached (it is not asked twice: it may have acted)."""
        try:
            return _forwarded(self._client.call(_forward_frame(request)))
        except ChannelClosed as exc:
            raise EngineUnavailable(str(exc)) from None

    def close(self) -> None:
        self._client.close()


def _forward_frame(request: ApiRequest) -> bytes:
    headers = request.headers
    return _ENCODE(
        [
            FORWARD,
            request.method,
            request.path,
            headers if type(headers) is dict else dict(headers.items()),
            request.body,
            request.query,
            request.client,
            request.scheme,
        ]
    )


def _forwarded(frame: bytes) -> Forwarded:
    status, body, content_type, headers = _DECODE(frame)
    return status, body, content_type, tuple(map(tuple, headers))


class AsyncHostLink:
    """:meth:`HostLink.forward` for an event loop: the request goes to the engine host
    and its answer is awaited, with no thread (the ASGI adapter's ``forward=``).  The
    connections belong to the loop that opened them; every wait is bounded by
    ``timeout``."""

    def __init__(self, path: str, *, timeout: float = 30.0, connect_timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        #: kept connections and the loop they belong to (a server may run another loop
        #: later, in tests one per request: a connection never crosses loops)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self.path), self.connect_timeout
        )
        await asyncio.wait_for(_read_frame(reader), self.connect_timeout)  # the greeting
        return reader, writer

    async def forward(self, request: ApiRequest) -> Forwarded:
        """The engine host's answer to ``request``; :class:`~omeapi.EngineUnavailable`
        when it cannot be reached (a request that went out is not sent again)."""
        frame = _forward_frame(request)
        data = LENGTH.pack(len(frame)) + frame
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._idle, self._loop = [], loop
        kept = bool(self._idle)
        try:
            reader, writer = self._idle.pop() if kept else await self._connect()
            try:
                writer.write(data)
                await writer.drain()
            except OSError:
                writer.close()
                if not kept:
                    raise
                reader, writer = await self._connect()  # the kept one had died
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            raise EngineUnavailable(f"{self.path}: {exc or type(exc).__name__}") from None
        try:
            answer = await asyncio.wait_for(_read_frame(reader), self.timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise EngineUnavailable(
                f"{self.path}: no answer ({exc or type(exc).__name__})"
            ) from None
        self._idle.append((reader, writer))
        return _forwarded(answer)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    if size > MAX_FRAME:
        raise asyncio.IncompleteReadError(b"", size)
    return await reader.readexactly(size)
