"""Frames over a Unix domain socket: the transport between the processes of one machine.

A frame is a 4-byte big-endian length and that many bytes of MessagePack.  A
:class:`ChannelServer` answers each connection on a thread of its own (what it answers may
block: an engine call, a store commit); a :class:`ChannelClient` keeps a few connections
and lends one to each call, so that a worker's threads call in parallel.

The socket is a control channel with no token of its own, so only its owner may reach
it: the file is created ``0600`` in a directory that is not writable by others, and a
connection from another user is closed unanswered (``SO_PEERCRED``).  Every wait is
bounded: connecting (``connect_timeout``) and each answer (``timeout``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable

__all__ = [
    "LENGTH",
    "MAX_FRAME",
    "ChannelClient",
    "ChannelClosed",
    "ChannelServer",
    "check_private",
]

log = logging.getLogger("omeapi")

#: A frame's length prefix.
LENGTH = struct.Struct(">I")
_CREDENTIALS = struct.Struct("3i")

#: The largest frame either side accepts (a request body is at most the API's body
#: limit; answers are JSON documents).
MAX_FRAME = 256 * 1024 * 1024


class ChannelClosed(Exception):
    """The other side cannot be reached, went away, or did not answer in time."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ChannelClosed("the connection was closed")
        got += n
    return bytes(buffer)


def send_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame (length and payload in one call: one wake-up on the other side)."""
    sock.sendall(LENGTH.pack(len(payload)) + payload)


#: What one read asks for: a whole frame of the usual size in one system call.
_READ = 65536


def recv_frame(sock: socket.socket) -> bytes:
    """Receive one frame; :class:`ChannelClosed` at the end of the stream.

    One read usually brings the whole frame.  It never takes bytes of the next one: each
    side sends one frame and then waits for the other's (and a greeting is read before the
    first call is sent)."""
    data = sock.recv(_READ)
    if len(data) < LENGTH.size:
        if not data:
            raise ChannelClosed("the connection was closed")
        data += _recv_exact(sock, LENGTH.size - len(data))
    (size,) = LENGTH.unpack_from(data)
    if size > MAX_FRAME:
        raise ChannelClosed(f"a frame of {size} bytes is over the limit")
    missing = LENGTH.size + size - len(data)
    if missing > 0:
        return data[LENGTH.size :] + _recv_exact(sock, missing)
    return data[LENGTH.size :]


def check_private(path: str) -> None:
    """Refuse a socket path whose directory others could write to (they could put a socket
    of their own in its place); make the directory, ``0700``, if it is missing."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.stat(directory)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise PermissionError(
            f"{directory}: others may write to this directory; "
            "put the socket in a private one (mode 0700)"
        )


class ChannelServer:
    """Answers frames on a Unix socket at ``path``: ``handle(frame) -> frame``, one thread
    per connection.  ``greeting`` (if any) is sent first on every connection."""

    def __init__(
        self,
        path: str,
        handle: Callable[[bytes], bytes],
        *,
        greeting: bytes | None = None,
        name: str = "omeapi-channel",
    ) -> None:
        check_private(path)
        self.path = path
        self._handle = handle
        self._greeting = greeting
        self._name = name
        self._uid = os.geteuid()
        self._closed = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        _remove_stale(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Created owner-only from the start: no moment where another user could connect.
        old = os.umask(0o177)
        try:
            listener.bind(path)
        finally:
            os.umask(old)
        listener.listen(256)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            try:
                _pid, uid, _gid = _CREDENTIALS.unpack(
                    conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
                )
            except OSError:
                uid = -1
            if uid != self._uid:
                log.warning("%s: refused a connection from user %d", self.path, uid)
                conn.close()
                continue
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name=self._name, daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        handle = self._handle
        try:
            if self._greeting is not None:
                send_frame(conn, self._greeting)
            while True:
                send_frame(conn, handle(recv_frame(conn)))
        except (ChannelClosed, OSError):
            pass
        except Exception:  # a bad frame ends its connection, never the server
            log.exception("%s: a connection failed", self.path)
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop accepting, close every connection and remove the socket file."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _remove_stale(path: str) -> None:
    """Remove a socket file left by a process that died (ours only: anything else stays,
    and binding then fails with a clear error)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody answers: a leftover
            return
        finally:
            probe.close()
        raise OSError(f"{path}: another process is serving on this socket")


class ChannelClient:
    """Calls a :class:`ChannelServer`: one frame out, one frame back.

    Connections are kept and lent one per call (last returned, first lent: a few hot
    connections serve a worker's threads).  A kept connection found dead before anything
    was sent is replaced once; after the frame went out, a failure is :class:`ChannelClosed`
    and the call is not repeated (the other side may have acted on it).
    """

    def __init__(
        self,
        path: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        on_greeting: Callable[[bytes], None] | None = None,
        greeted: bool = False,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._greeted = greeted or on_greeting is not None
        self._on_greeting = on_greeting
        self._idle: list[socket.socket] = []

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect(self.path)
            if self._greeted:
                greeting = recv_frame(sock)
                if self._on_greeting is not None:
                    self._on_greeting(greeting)
            sock.settimeout(self.timeout)
        except (OSError, ChannelClosed) as exc:
            sock.close()
            raise ChannelClosed(f"{self.path}: {exc}") from None
        return sock

    def call(self, frame: bytes) -> bytes:
        """Send ``frame`` and return the answer; :class:`ChannelClosed` if there is none."""
        try:
            sock = self._idle.pop()  # atomic: no lock needed
            kept = True
        except IndexError:
            sock = self._connect()
            kept = False
        try:
            send_frame(sock, frame)
        except OSError:
            sock.close()
            if not kept:
                raise ChannelClosed(f"{self.path}: the connection was closed") from None
            sock = self._connect()  # the kept one had died: nothing was sent on it
            try:
                send_frame(sock, frame)
            except OSError as exc:
                sock.close()
                raise ChannelClosed(f"{self.path}: {exc}") from None
        try:
            answer = recv_frame(sock)
        except (OSError, ChannelClosed) as exc:
            sock.close()
            raise ChannelClosed(f"{self.path}: no answer ({exc})") from None
        self._idle.append(sock)
        return answer

    def close(self) -> None:
        """Close the kept connections (calls after this open new ones)."""
        while self._idle:
            with contextlib.suppress(IndexError):
                self._idle.pop().close()
