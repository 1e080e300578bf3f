"""Helpers for tests that start real servers: free ports, waiting for them, stopping them.

Servers listen on 127.0.0.1 only and are started in their own process group, so that
:func:`stop` can end them and everything they spawned.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

#: Ports handed out stay below this (and at or above it only without a port range of our
#: own, see :func:`_port_block`).
_LOWEST = 10_000


def _ephemeral_range() -> tuple[int, int] | None:
    """The kernel's range for ``bind(0)`` and outgoing connections (Linux), else None."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def _port_block() -> range | None:
    """The ports this process hands out: a block of its own below the ephemeral range.

    A port from ``bind(0)`` is free when asked for, but the server binds it a second or
    more later: meanwhile the kernel can give it to another ``bind(0)`` (another xdist
    worker's ``free_port``) or to an outgoing connection (every client socket of a busy
    test).  Below the ephemeral range the kernel never hands a port out by itself, and
    each xdist worker (``PYTEST_XDIST_WORKER`` ``gwN``) draws from its own block, so no
    test of this run can take another's port.  None where that range is unknown or
    leaves too little room: then ``bind(0)`` as before.
    """
    ephemeral = _ephemeral_range()
    if ephemeral is None or ephemeral[0] - _LOWEST < 1000:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), index + 1)
    size = (ephemeral[0] - _LOWEST) // count
    start = _LOWEST + index * size
    return range(start, start + size)


def _candidates() -> Iterator[int]:
    """The block's ports in turn, from a random place in it (another run of the suite at
    the same time starts elsewhere), round and round."""
    block = _port_block()
    assert block is not None
    first = random.randrange(len(block))
    while True:
        for i in range(len(block)):
            yield block[(first + i) % len(block)]


_PORTS: Iterator[int] | None = None


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now, and that no other
    :func:`free_port` of this run hands out (see :func:`_port_block`)."""
    global _PORTS
    block = _port_block()
    if block is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    if _PORTS is None:
        _PORTS = _candidates()
    for port in islice(_PORTS, len(block)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # taken (by a program outside the suite, or not yet released)
                continue
            return port
    raise AssertionError(f"no free port in {block}")


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Return once ``port`` accepts connections; fail if ``proc`` exits or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"port {port} never opened")


def stop(proc: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> int:
    """Send ``signum``; kill the process group if it has not ended within 20 s."""
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
