"""The engine host: the one process of a machine that owns the engine for ``omeapi serve``.

It builds the engine (the simulated one, ``--engine module:factory``, or a
:class:`~omeapi_remote.RemoteEngine` for ``--engine unix:PATH``), opens the API on the
shared store with that engine (starting Server.xml's and the store's vhosts and apps on
it, and following other machines' changes), and answers on a private socket: requests the
HTTP workers forward (every route that reaches the engine or changes config) and direct
engine calls.  ``omeapi serve`` starts it before the workers and starts it again if it
dies (the workers answer ``503`` meanwhile, and config reads as usual).

Run as ``python -m omeapi_remote.host`` with the spec as JSON in ``OMEAPI_HOST_SPEC``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from omeapi import (
    ConfigError,
    EngineError,
    EngineUnavailable,
    MediaEngine,
    ServerConfig,
    SimulatedEngine,
    load_server_config,
    open_api,
)
from omeapi_remote.engine import publish_engine, remote_engine

__all__ = [
    "ENV_SPEC",
    "EXIT_CANNOT_START",
    "EXIT_UNREACHABLE",
    "HostProcess",
    "build_engine",
    "main",
]

ENV_SPEC = "OMEAPI_HOST_SPEC"

#: Exit statuses of a host that cannot start: its config or engine is wrong; the engine
#: it fronts (``--engine unix:PATH``) cannot be reached.
EXIT_CANNOT_START = 3
EXIT_UNREACHABLE = 4


def build_engine(where: str | None, config: ServerConfig, on_restart: Any = None) -> MediaEngine:
    """The engine ``--engine`` names: None for the simulated one, ``unix:PATH`` for an
    engine another process publishes, ``module:factory`` for ``factory()`` (a
    :class:`~omeapi.MediaEngine`)."""
    if not where:
        return SimulatedEngine(config_dir=config.config_dir)
    if where.startswith("unix:"):
        return remote_engine(where.removeprefix("unix:"), on_restart=on_restart)
    module_name, _, attribute = where.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--engine {where}: expected unix:PATH or module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--engine {where}: {exc}") from None
    engine = factory()
    if not isinstance(engine, MediaEngine):
        raise ConfigError(f"--engine {where}: {type(engine).__name__} is not a MediaEngine")
    return engine


def main() -> int:
    spec: dict[str, Any] = json.loads(os.environ[ENV_SPEC])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    resume: list[Any] = []

    def on_restart() -> None:
        # Called on a request's thread, maybe under an app lock: resume elsewhere.
        if resume:
            threading.Thread(target=resume[0], name="omeapi-resume", daemon=True).start()

    try:
        config = load_server_config(spec["file"])
        engine = build_engine(spec.get("engine"), config, on_restart)
        api = open_api(
            config,
            engine,
            store=spec["store"],
            brake=False,
            health=False,
            **spec.get("options", {}),
        )
    except ConfigError as exc:
        print(f"omeapi engine host: {exc.located()}", file=sys.stderr, flush=True)
        return EXIT_CANNOT_START
    except EngineError as exc:
        print(f"omeapi engine host: the engine does not start: {exc}", file=sys.stderr, flush=True)
        return EXIT_CANNOT_START
    except EngineUnavailable as exc:
        print(f"omeapi engine host: {exc.text}: {exc.detail}", file=sys.stderr, flush=True)
        return EXIT_UNREACHABLE
    resume.append(api.coordinator.resume)
    try:
        api.start()
        publication = publish_engine(api.engine, spec["socket"], api=api)
    except BaseException:
        api.close()
        raise
    parent = os.getppid()
    try:
        # Ends with its serve process, even one killed with SIGKILL.
        while not stop.wait(1.0):
            if os.getppid() != parent:
                break
    finally:
        publication.close()
        api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


class HostProcess:
    """The engine host as ``omeapi serve`` runs it: started before the workers, started
    again whenever it dies (after a pause that grows while it keeps dying), stopped after
    them.  ``spec``: ``file``, ``store``, ``socket``, ``engine`` (the ``--engine``
    value, or None) and ``options`` (more :func:`~omeapi.open_api` options)."""

    #: pauses before a restart: the first at once, then longer while it keeps failing
    BACKOFF = (0.0, 0.25, 0.5, 1.0, 2.0, 5.0)

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.socket = str(spec["socket"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._failures = 0
        self._started = 0.0
        self._due: float | None = None

    def start(self) -> None:
        """Start the process (it is ready once :meth:`ready` says so)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "omeapi_remote.host"],
            env={**os.environ, ENV_SPEC: json.dumps(self.spec)},
        )
        self._started = time.monotonic()

    def ready(self) -> bool:
        """Whether the host answers on its socket (it greets every connection)."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(self.socket)
            return bool(probe.recv(64))
        except OSError:
            return False
        finally:
            probe.close()

    def wait_ready(self, timeout: float = 60.0) -> int | None:
        """Wait until the host answers: None, or its exit status if it ended first (it
        has said why on stderr).  Bounded by ``timeout`` (then 1)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc is not None
            status = self.proc.poll()
            if status is not None:
                return status
            if self.ready():
                return None
            time.sleep(0.05)
        return 1

    def watch(self) -> None:
        """Called every few tenths of a second by the supervisor: start the host again if
        it has died (never blocks)."""
        proc = self.proc
        now = time.monotonic()
        if self._due is not None:
            if now >= self._due:
                self._due = None
                self.restarts += 1
                self.start()
            return
        if proc is None or proc.poll() is None:
            return
        # A host that ran for a while before dying starts again at once; one that keeps
        # dying right after its start waits longer each time.
        self._failures = 0 if now - self._started > 10.0 else self._failures + 1
        pause = self.BACKOFF[min(self._failures, len(self.BACKOFF) - 1)]
        print(
            f"omeapi: the engine host ended ({_describe(proc.returncode)}); "
            f"starting it again{f' in {pause:g} s' if pause else ''}",
            file=sys.stderr,
            flush=True,
        )
        self._due = now + pause

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the host (SIGTERM, then SIGKILL after ``timeout``)."""
        self._due = None
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _describe(status: int) -> str:
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"exit status {status}"
