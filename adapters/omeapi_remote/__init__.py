"""The API's engine in another process, over a Unix domain socket.

- :func:`publish_engine`: a media server publishes its :class:`~omeapi.MediaEngine` on a
  socket with one call; ``omeapi serve --engine unix:PATH Server.xml`` fronts it with its
  HTTP workers (docs/embedding.md, "Your engine in another process").
- :class:`RemoteEngine`: the engine as seen from another process.
- :class:`HostLink` and :func:`worker_options`: how the workers of ``omeapi serve`` reach
  the engine host (:mod:`omeapi_remote.host`), the one process of a machine that owns the
  engine, so that every worker answers alike.
"""

from __future__ import annotations

from typing import Any

from omeapi import MediaEngine
from omeapi_remote.engine import (
    AsyncHostLink,
    HostLink,
    Publication,
    RemoteEngine,
    RemoteEngineFault,
    publish_engine,
    remote_engine,
)

__all__ = [
    "AsyncHostLink",
    "HostLink",
    "Publication",
    "RemoteEngine",
    "RemoteEngineFault",
    "publish_engine",
    "remote_engine",
    "worker_options",
]


def worker_options(socket_path: str | None) -> tuple[MediaEngine | None, dict[str, Any]]:
    """The engine and :func:`~omeapi.open_api` options of an HTTP worker whose engine host
    answers on ``socket_path``: the host's engine and the forwarding link to it; the worker
    neither starts nor follows the engine (the host does), and its registry still follows
    the store.  ``(None, {})`` without a socket: the worker's own simulated engine."""
    if not socket_path:
        return None, {}
    link = HostLink(socket_path)
    return link.engine, {"forward": link.forward, "start_engine": False, "follow": False}
