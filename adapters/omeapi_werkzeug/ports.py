"""A port is one server's: ``omeapi serve`` claims its ports before any server starts.

granian binds with ``SO_REUSEPORT`` (each worker its own socket), and Linux lets another
process of the same user bind the same port that way: a second ``omeapi serve`` would
start without a word and take part of the connections.  So before serving, each port is
claimed twice: a lock file per port, held for the life of the server, keeps out another
``omeapi serve`` of this user (even one starting at the same moment), and a trial bind
without ``SO_REUSEPORT`` finds any other listener, whatever server it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
from collections.abc import Iterable
from typing import IO

__all__ = ["PortTaken", "claim_ports"]


class PortTaken(Exception):
    """A listener's port is in use; the message names it."""


def _lock_directory() -> str:
    directory = os.path.join(tempfile.gettempdir(), f"omeapi-ports-{os.geteuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return directory


def _trial_bind(address: str, port: int) -> None:
    infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, where = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # SO_REUSEADDR: a port whose last connections are in TIME_WAIT is free, as it is
        # for the servers themselves; a listening socket still refuses the bind.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(where)


def claim_ports(listeners: Iterable[tuple[str, int]]) -> list[IO[bytes]]:
    """Claim each ``(address, port)``; the open lock files hold the claims (keep them
    until the server stops).  :class:`PortTaken` names the first port that is not free."""
    held: list[IO[bytes]] = []
    try:
        for address, port in listeners:
            if port == 0:
                continue  # any free port: nothing to share
            lock = open(os.path.join(_lock_directory(), f"port-{port}.lock"), "ab")  # noqa: SIM115
            held.append(lock)
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PortTaken(
                    f"port {port} is in use by another omeapi serve: stop it first, "
                    "or choose another port (--port)"
                ) from None
            try:
                _trial_bind(address, port)
            except OSError as exc:
                raise PortTaken(
                    f"port {port} on {address} is not free ({exc.strerror or exc}): another "
                    "server listens there; stop it, or choose another port (--port)"
                ) from None
    except BaseException:
        for claim in held:
            with contextlib.suppress(OSError):
                claim.close()
        raise
    return held
