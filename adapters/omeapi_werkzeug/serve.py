"""``omeapi serve``: run the API the way OME runs its API server.

``<Bind><Managers><API><Port>`` is served as plain HTTP and ``<TLSPort>`` with the
``<Managers><Host><TLS>`` certificate, on the ``<Server><IP>`` address, with
``<WorkerCount>`` threads.  The default server is granian; ``--server gunicorn`` uses
gunicorn's threaded worker; ``--server uvicorn`` / ``hypercorn`` serve the ASGI adapter.
Each listener is one server process running ``--workers`` worker processes (one per CPU by
default), each with its own ``Api``.

One logical server whatever the listeners and workers.  When more than one process serves
(or granian serves TLS: a certificate reload replaces its workers), or ``--engine`` names
an engine, the engine lives in one process of its own, the engine host
(:mod:`omeapi_remote.host`): the workers answer the Host check, CORS, the token and config
reads themselves and forward every other route to it, so runtime state is one and every
change reaches the engine once.  ``serve`` starts the host first and again whenever it
dies.  Config is shared through the store (``<Managers><API><Storage>`` or ``--store``);
without one, ``serve`` keeps it in a private SQLite file in a temporary directory of its
own (with the engine host's socket), removed at exit, so that it lives exactly as long as
the in-memory store would (docs/deployment.md, "Workers").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omeapi import ConfigError, ServerConfig, load_server_config, store_location
from omeapi_remote import worker_options
from omeapi_werkzeug.certificates import relay_certificate_reloads, tls_context
from omeapi_werkzeug.limits import (
    BODY_TIMEOUT,
    HEADER_TIMEOUT,
    STOP_TIMEOUT,
    body_readers,
    threads_for,
)
from omeapi_werkzeug.logs import announce, log_requests, quiet_granian
from omeapi_werkzeug.ports import PortTaken, claim_ports

__all__ = ["Listener", "listeners", "run", "tls_context"]

#: Exit statuses: a broken config (1), the API switched off by the config (2).
EXIT_CONFIG = 1
EXIT_DISABLED = 2

#: The servers ``--server`` may name: WSGI ones run ``omeapi_werkzeug``, ASGI ones
#: ``omeapi_asgi``.
WSGI_SERVERS = ("granian", "gunicorn")
ASGI_SERVERS = ("uvicorn", "hypercorn")
SERVERS = WSGI_SERVERS + ASGI_SERVERS

#: The private store's directory name starts with this (under the system's temporary one).
PRIVATE_STORE_PREFIX = "omeapi-serve-"

_ENV_SPEC = "OMEAPI_SERVE_SPEC"

#: Seconds between SIGTERMs to a listener process that has not stopped yet.
_RESEND = 3.0


def default_workers() -> int:
    """Worker processes per listener when ``--workers`` is not given: one per usable CPU."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def needs_shared_state(server: str, chosen: Sequence[Listener], workers: int) -> bool:
    """Whether the API's state must live outside a worker's memory: several processes
    serve, or granian serves TLS (a certificate reload replaces its workers)."""
    if workers * len(chosen) > 1:
        return True
    return server == "granian" and any(listener.tls for listener in chosen)


def needs_engine_host(
    server: str, chosen: Sequence[Listener], workers: int, engine: str | None
) -> bool:
    """Whether the engine runs in an engine host process: several processes serve (they
    must see one engine), or ``--engine`` names one."""
    return bool(engine) or needs_shared_state(server, chosen, workers)


def api_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~omeapi.open_api` options the serve flags ask for."""
    options: dict[str, Any] = {}
    console = getattr(args, "console", None)
    if console:
        options["console"] = console
    access_log = getattr(args, "access_log", None)
    if access_log:
        options["access_log"] = access_log
    metrics_path = getattr(args, "metrics_path", None)
    if metrics_path:
        options["metrics_path"] = metrics_path
    ome_version = getattr(args, "ome_version", None)
    if ome_version:
        # Answers are made in the workers and, for engine routes, in the engine host: both
        # must speak the same version.
        options["ome_version"] = ome_version
    return options


class Listener:
    """One socket to serve: address, port, and TLS files (None for plain HTTP)."""

    def __init__(
        self, address: str, port: int, threads: int, tls: tuple[str, str, str] | None
    ) -> None:
        self.address = address
        self.port = port
        self.threads = threads
        self.tls = tls

    def __repr__(self) -> str:
        kind = "https" if self.tls else "http"
        return f"{kind}://{self.address}:{self.port}"


def _address(ip: str) -> str:
    # OME's `*` means every IPv4 address; `::` every IPv6 one.
    return "0.0.0.0" if ip in ("*", "") else ip


def listeners(
    config: ServerConfig,
    *,
    address: str | None = None,
    port: int | None = None,
    tls_port: int | None = None,
) -> list[Listener]:
    """The listeners a config asks for (overrides first); empty when the API is off."""
    binding = config.api_binding
    if binding is None:
        return []
    host = address or _address(config.ips[0] if config.ips else "*")
    threads = binding.worker_count or 4
    out: list[Listener] = []
    plain = port if port is not None else (binding.port.number if binding.port else None)
    if plain is not None:
        out.append(Listener(host, plain, threads, None))
    secure = (
        tls_port
        if tls_port is not None
        else (binding.tls_port.number if binding.tls_port else None)
    )
    if secure is not None:
        managers = config.managers
        tls = managers.host.tls if managers and managers.host else None
        if tls is None:
            raise ConfigError(
                "TLSPort is set but <Managers><Host><TLS> is not: "
                "the TLS listener has no certificate",
                file=config.file,
            )
        out.append(
            Listener(host, secure, threads, (tls.cert_path, tls.key_path, tls.chain_cert_path))
        )
    return out


def _spec(args: argparse.Namespace, listener: Listener) -> dict[str, Any]:
    return {
        "file": os.path.abspath(args.file),
        "address": listener.address,
        "port": listener.port,
        "threads": listener.threads,
        "tls": listener.tls,
        "workers": getattr(args, "workers", 1) or 1,
        "body_timeout": getattr(args, "body_timeout", None) or BODY_TIMEOUT,
        "store": getattr(args, "store_location", None),
        "engine_host": getattr(args, "engine_socket", None),
        "options": api_options(args),
        # The process that relays certificate reloads between listeners (several of them).
        "relay": getattr(args, "relay", None),
    }


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM / SIGINT; returns the exit status."""
    if getattr(args, "workers", None) is None:
        args.workers = default_workers()
    private: list[str] = []
    try:
        return _run(args, private)
    finally:
        for directory in private:
            shutil.rmtree(directory, ignore_errors=True)


def _run(args: argparse.Namespace, private: list[str]) -> int:
    server = getattr(args, "server", "granian")
    engine = getattr(args, "engine", None)
    try:
        config = load_server_config(args.file)
        chosen = listeners(config, address=args.address, port=args.port, tls_port=args.tls_port)
        override = getattr(args, "store", None)
        location = store_location(config, override)
        hosted = bool(chosen) and needs_engine_host(server, chosen, args.workers, engine)
        if hosted:
            # The engine host's socket, and without a store one private SQLite file that
            # the workers, listeners and the host share, gone with this process (as the
            # in-memory store's state would be).
            directory = tempfile.mkdtemp(prefix=PRIVATE_STORE_PREFIX)
            private.append(directory)
            args.engine_socket = os.path.join(directory, "engine.sock")
            if location is None:
                location = os.path.join(directory, "omeapi.sqlite3")
        # The workers open the store themselves ("memory": not the config's <Storage>).
        args.store_location = location or "memory"
        if chosen:
            # Build the API once here so that config problems (an empty AccessToken, a
            # store that cannot be opened …) are reported before any server starts.  It
            # is closed again: the servers fork, and a store connection must not be shared.
            from omeapi import open_api

            open_api(config, store=args.store_location, **api_options(args)).close()
    except ConfigError as exc:
        print(exc.located(), file=sys.stderr)
        return EXIT_CONFIG
    if not chosen:
        print(
            f"{args.file}: API Server is disabled by configuration "
            "(no <Bind><Managers><API> with a <Port> or <TLSPort>)",
            file=sys.stderr,
        )
        return EXIT_DISABLED
    try:
        # Held (open) until this process ends: the children inherit them.
        claims = claim_ports((listener.address, listener.port) for listener in chosen)
    except PortTaken as exc:
        print(f"omeapi serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    host = None
    if hosted:
        host = _start_host(args, engine)
        if host is None:
            return EXIT_CONFIG
    try:
        if len(chosen) == 1 and host is None:
            return _serve_one(server, _spec(args, chosen[0]))
        return _serve_many(args, chosen, host)
    finally:
        if host is not None:
            host.stop()
        for claim in claims:
            claim.close()


def _start_host(args: argparse.Namespace, engine: str | None) -> Any:
    """The engine host, started and answering; None if it could not start (said why)."""
    from omeapi_remote.host import HostProcess

    # The options that shape answers go to the host too (it answers the forwarded routes);
    # what only the workers do (console, access log, metrics) stays with them.
    shared = {
        key: value
        for key, value in api_options(args).items()
        if key not in ("console", "access_log", "metrics_path")
    }
    host = HostProcess(
        {
            "file": os.path.abspath(args.file),
            "store": args.store_location,
            "socket": args.engine_socket,
            "engine": engine,
            "options": shared,
        }
    )
    host.start()
    status = host.wait_ready()
    if status is not None:
        host.stop()
        print(
            f"omeapi serve: the engine host did not start (exit status {status})",
            file=sys.stderr,
        )
        return None
    return host


def _serve_many(args: argparse.Namespace, chosen: Sequence[Listener], host: Any = None) -> int:
    """One child process per listener; stop them all when one stops or on a signal.  The
    engine host (if any) is started again whenever it dies.

    A certificate reload that reaches a listener without TLS is relayed here (SIGUSR1) and on
    to the TLS listeners as SIGHUP: their server replaces its workers, which re-read the files.
    """
    args.relay = os.getpid()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "omeapi_werkzeug.serve", args.server],
            env={**os.environ, _ENV_SPEC: json.dumps(_spec(args, listener))},
        )
        for listener in chosen
    ]

    stopping: list[float] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(time.monotonic())
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def relay(signum: int, frame: object) -> None:
        if args.server not in WSGI_SERVERS:
            return  # uvicorn and hypercorn stop on SIGHUP (asgi_servers.py)
        for child, listener in zip(children, chosen, strict=True):
            if listener.tls and child.poll() is None:
                child.send_signal(signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, relay)
    while any(child.poll() is None for child in children):
        time.sleep(0.2)
        if host is not None and not stopping:
            host.watch()
        # granian may miss a SIGTERM that arrives while it is still starting its workers:
        # until every child has ended, say it again every few seconds.
        if stopping and time.monotonic() - stopping[-1] >= _RESEND:
            stop(signal.SIGTERM, None)
    return max((child.returncode for child in children), default=0)


def _serve_one(server: str, spec: dict[str, Any]) -> int:
    announce(server, spec)
    try:
        if server == "gunicorn":
            from omeapi_werkzeug.gunicorn import serve_gunicorn

            return serve_gunicorn(spec)
        if server in ASGI_SERVERS:
            from omeapi_werkzeug.asgi_servers import serve_asgi

            return serve_asgi(server, spec)
        import granian  # noqa: F401  (the default server: say so if it is missing)
    except ImportError as exc:
        print(
            f"omeapi serve --server {server}: {exc}; pip install 'omeapi[serve]'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return _serve_granian(spec)


# -------------------------------------------------------------------------------- granian


def granian_app() -> Any:
    """The WSGI app a granian worker loads (factory target; the spec is in the env)."""
    from omeapi_werkzeug import create_app

    spec = json.loads(os.environ[_ENV_SPEC])
    log_requests(spec)
    engine, options = worker_options(spec.get("engine_host"))

    def on_api(api: Any) -> None:
        if spec["tls"]:
            # granian re-reads the certificate files when it replaces its workers (SIGHUP to
            # the main process), keeping the listening socket open.
            api.certificates.subscribe(lambda _: os.kill(os.getppid(), signal.SIGHUP))
        else:
            relay_certificate_reloads(api, spec)

    return create_app(
        spec["file"],
        engine,
        on_api=on_api,
        close_unread=True,
        body_timeout=spec["body_timeout"],
        body_readers=body_readers(spec["threads"]),
        store=spec.get("store"),
        **options,
        **spec.get("options", {}),
    )


def _serve_granian(spec: dict[str, Any]) -> int:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    os.environ[_ENV_SPEC] = json.dumps(spec)
    options: dict[str, Any] = {}
    if spec["tls"]:
        cert, key, _chain = spec["tls"]
        options.update(ssl_cert=Path(cert), ssl_key=Path(key))
    # Only TLS listeners replace their workers (certificate reloads); the others keep
    # granian's own sockets, which spread connections over the workers.
    server = _granian_class(Granian) if spec["tls"] else Granian
    quiet_granian()
    server(
        "omeapi_werkzeug.serve:granian_app",
        address=spec["address"],
        port=spec["port"],
        interface=Interfaces.WSGI,
        workers=spec.get("workers", 1),
        # granian reads headers on its own event loop, but a WSGI body in a blocking
        # thread with no timeout: a client that stalls mid-body holds one (limits.py).
        blocking_threads=threads_for(spec["threads"]),
        http1_settings=HTTP1Settings(header_read_timeout=int(HEADER_TIMEOUT * 1000)),
        # A worker that dies is replaced, as gunicorn does; granian's default is to stop
        # the whole server.
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_TIMEOUT,
        factory=True,
        log_access=False,
        # WSGI has none; granian would say so at every start.
        websockets=False,
        **options,
    ).serve()
    return 0


def _granian_class(default: Any) -> Any:
    """granian's server, with one listening socket bound by the main process and inherited by
    the workers.

    On Linux granian lets each worker bind the port itself (``SO_REUSEPORT``), so replacing
    the workers (a certificate reload) closes the listening socket and opens another, and
    connections waiting in the old one's queue are reset.  granian's own code path for the
    other platforms shares one socket; it is used here where the worker processes are forked
    and granian's internals are as expected, else granian's default stays.

    The price: on a shared socket the worker that wakes first accepts every connection
    that is waiting, so a burst of keep-alive connections can all land on one worker
    (``SO_REUSEPORT`` spreads them by a hash of their addresses).  Hence TLS listeners only.
    """
    import importlib
    import multiprocessing

    try:
        spec_class: Any = importlib.import_module("granian.net").SocketSpec
        from granian.server import MPServer
    except (ImportError, AttributeError):
        return default
    if (
        default is not MPServer
        or multiprocessing.get_start_method() != "fork"
        or not hasattr(MPServer, "_init_shared_socket")
    ):
        return default

    class SharedSocket(MPServer):
        def _init_shared_socket(self) -> None:
            import socket

            holder = spec_class(self.bind_addr, self.bind_port, self.backlog).build()
            self._ssp, self._sfd = None, holder.get_fd()
            self._shd = holder
            self._sso = socket.socket(fileno=self._sfd)
            self._sso.set_inheritable(True)

    return SharedSocket


def _child_main(argv: Sequence[str]) -> int:
    spec = json.loads(os.environ[_ENV_SPEC])
    return _serve_one(argv[0] if argv else "granian", spec)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
