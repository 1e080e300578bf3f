"""Helpers for tests that start real servers: free ports, waiting for them, stopping them.

Servers listen on 127.0.0.1 only and are started in their own process group, so that
:func:`stop` can end them and everything they spawned.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
