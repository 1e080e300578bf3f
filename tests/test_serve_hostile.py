"""``omeapi serve`` against slow and hostile clients, on granian and gunicorn (127.0.0.1).

What is decided from the headers is answered before any body byte is awaited; trickling
clients do not starve a normal one; a method in the wrong letter case gets a framed answer;
a killed granian worker is replaced.  docs/deployment.md says what each server withstands.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from robust_report import record
from servers import free_port, stop, wait_for

TOKEN = "hostile-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()
ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]
    ),
}
VERSION = f"GET /v1/version HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n\r\n"


def server_xml(port: int) -> str:
    return f"""<?xml version="1.0"?>
<Server version="8">
  <Name>hostile</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>{port}</Port><WorkerCount>4</WorkerCount></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name></Names></Host>
    <API><AccessToken>{TOKEN}</AccessToken></API>
  </Managers>
  <VirtualHosts><VirtualHost><Name>default</Name></VirtualHost></VirtualHosts>
</Server>
"""


def start(directory: Path, server: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = directory / "Server.xml"
    config.write_text(server_xml(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "omeapi.cli", "serve", str(config), "--server", server, *extra],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(port, proc)
    except AssertionError:
        stop(proc)
        raise
    return proc, port


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    proc, port = start(tmp_path_factory.mktemp(request.param), request.param)
    try:
        yield request.param, port, proc
    finally:
        stop(proc)
        log = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in log, log


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One response framed by its Content-Length: (head, body, bytes read past it)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(found.group(1)) if found else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"body cut short: {len(rest)} of {length} bytes")
        rest += chunk
    return head, rest[:length], rest[length:]


def status_of(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def normal_client_is_served(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(VERSION.encode())
        head, body, _ = read_response(sock)
    assert status_of(head) == 200, head
    assert json.loads(body)["statusCode"] == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Content-Length: 50000000", 401),
        (f"Authorization: {AUTH}\r\nContent-Length: 50000000", 413),
        (f"Authorization: {AUTH}\r\nContent-Length: 18446744073709551616", None),
        ("Authorization: Basic d3Jvbmc=\r\nContent-Length: 10", 401),
    ],
)
def test_decided_from_the_headers_without_waiting_for_the_body(
    served: tuple[str, int, subprocess.Popen[bytes]], headers: str, status: int | None
) -> None:
    _, port, _ = served
    with connect(port) as sock:
        # The body is never sent: the answer must not wait for it.
        sock.sendall(f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n\r\n".encode())
        head, body, _ = read_response(sock)
    if status is None:  # a length past 64 bits: the server or the body limit refuses it
        assert status_of(head) in (400, 413), head
    else:
        assert status_of(head) == status, head
        assert json.loads(body)["statusCode"] == status


def test_wrong_host_is_refused_before_the_body(
    served: tuple[str, int, subprocess.Popen[bytes]],
) -> None:
    _, port, _ = served
    with connect(port) as sock:
        sock.sendall(
            b"POST /v1/vhosts HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 10\r\n\r\n["
        )
        head, body, _ = read_response(sock)
    assert status_of(head) == 403
    assert json.loads(body)["message"] == "[HTTP] Host is not allowed: [evil.example] (403)"


def test_short_bodies_do_not_starve_a_normal_client(
    served: tuple[str, int, subprocess.Popen[bytes]],
) -> None:
    _, port, _ = served
    # More stalled bodies than <WorkerCount>, from clients that hold the token.
    stalled = [connect(port) for _ in range(8)]
    try:
        for sock in stalled:
            sock.sendall(
                f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
                "Content-Length: 10\r\n\r\n[".encode()
            )
        time.sleep(0.5)
        normal_client_is_served(port)
    finally:
        for sock in stalled:
            sock.close()


def test_slowloris_does_not_starve_a_normal_client(
    served: tuple[str, int, subprocess.Popen[bytes]],
) -> None:
    _, port, _ = served
    loris: list[socket.socket] = []
    try:
        for _ in range(200):
            sock = connect(port)
            sock.sendall(b"GET /v1/version HTTP/1.1\r\nHost: localhost\r\n")
            loris.append(sock)
        for _ in range(3):
            time.sleep(0.5)
            for sock in loris:
                # OSError: dropped by the server, which is what a header timeout is for.
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Trickle: 1\r\n")
            normal_client_is_served(port)
        record(
            f"slowloris on {served[0]}",
            f"{len(loris)} trickling connections, the normal client served 3 of 3 times",
        )
    finally:
        for sock in loris:
            sock.close()


@pytest.mark.parametrize("method", ["head", "Head", "gEt", "post"])
def test_method_in_another_letter_case_gets_a_framed_answer(
    served: tuple[str, int, subprocess.Popen[bytes]], method: str
) -> None:
    server, port, _ = served
    with connect(port) as sock:
        # Pipelined: the second request must be answered after a correctly framed first.
        sock.sendall(
            f"{method} /v1/version HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}"
            f"\r\n\r\n{VERSION}".encode()
        )
        head, body, rest = read_response(sock)
        status = status_of(head)
        if server == "gunicorn":
            # gunicorn refuses unconventional methods itself and closes the connection.
            assert status == 400
            assert re.search(rb"(?im)^connection:\s*close", head)
            return
        assert status == 405, head
        assert json.loads(body)["message"] == f"[HTTP] Method not allowed: {method} (405)"
        head, body, _ = read_response(sock, rest)
    assert status_of(head) == 200
    assert json.loads(body)["statusCode"] == 200


def test_gunicorn_drops_a_stalled_body_after_the_read_timeout(tmp_path: Path) -> None:
    from omeapi_werkzeug.limits import READ_TIMEOUT

    proc, port = start(tmp_path, "gunicorn")
    try:
        with connect(port, timeout=READ_TIMEOUT + 15) as sock:
            sock.sendall(
                f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
                "Content-Length: 10\r\n\r\n[".encode()
            )
            began = time.monotonic()
            assert sock.recv(100) == b""  # closed, not answered
            assert time.monotonic() - began < READ_TIMEOUT + 10
    finally:
        stop(proc)
    log = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in log, log


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def granian_main(pid: int, timeout: float = 30.0) -> int:
    """granian's main process under ``omeapi serve`` ``pid``: with several workers, serve
    supervises it (and the engine host) from a process of its own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(pid):
            with contextlib.suppress(OSError):
                if b"omeapi_werkzeug.serve" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
        time.sleep(0.1)
    raise AssertionError("no granian main process")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_granian_replaces_a_killed_worker(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    proc, port = start(tmp_path, "granian", "--workers", "4", "--store", str(store))
    try:
        main = granian_main(proc.pid)
        deadline = time.monotonic() + 30
        while len(workers := children(main)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) >= 4, workers
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = children(main)
            if victim not in now and len(now) >= 4:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the server stopped"
        now = children(main)
        assert victim not in now and len(now - workers) >= 1, (workers, now)
        for _ in range(8):  # every worker answers (connections spread over them)
            normal_client_is_served(port)
    finally:
        stop(proc)


@pytest.mark.parametrize("server", ["granian", "gunicorn", "uvicorn"])
def test_a_body_of_tiny_chunks_is_cut_off_at_the_body_timeout(server: str, tmp_path: Path) -> None:
    # 150,000 one-byte chunks (under granian, tens of µs of decoding a chunk), sent over
    # twice the body timeout: however fast a machine decodes them, the body is still
    # arriving when its time is up.
    timeout = 1.0
    proc, port = start(tmp_path, server, "--body-timeout", str(timeout))
    try:
        batch = b"1\r\n[\r\n" * 7_500
        with connect(port, timeout=timeout + 15) as sock:
            began = time.monotonic()
            sock.sendall(
                f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            with contextlib.suppress(OSError):  # answered and closed before all was sent
                for _ in range(20):
                    sock.sendall(batch)
                    time.sleep(2 * timeout / 20)
                sock.sendall(b"0\r\n\r\n")
            head, body, _ = read_response(sock)
            took = time.monotonic() - began
        status = status_of(head)
        if server == "granian":
            assert status == 408, (head, body)
            assert json.loads(body) == {
                "message": f"[HTTP] Request body was not received within {timeout:g} seconds (408)",
                "statusCode": 408,
            }
        else:  # these may decode the chunks faster: the body may be read whole, and refused
            assert status in (400, 408), (head, body)
        assert took < timeout + 5, took
        normal_client_is_served(port)
    finally:
        stop(proc)
    log = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in log, log


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_stalled_bodies_of_token_holders_cannot_take_every_thread(
    server: str, tmp_path: Path
) -> None:
    from omeapi_werkzeug.limits import body_readers

    readers = body_readers(4)  # the config's <WorkerCount>
    proc, port = start(tmp_path, server, "--workers", "1")
    stalled: list[socket.socket] = []
    try:
        for _ in range(readers):
            sock = connect(port, timeout=10)
            sock.sendall(
                f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
                "Content-Length: 10\r\n\r\n[".encode()
            )
            stalled.append(sock)
        time.sleep(1.0)  # every one of them is being read now
        with connect(port) as sock:
            began = time.monotonic()
            sock.sendall(
                f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
                'Content-Length: 16\r\n\r\n[{"name":"one"}]'.encode()
            )
            head, body, _ = read_response(sock)
        assert status_of(head) == 429, (head, body)
        assert time.monotonic() - began < 2
        assert b"Retry-After: 1" in head or b"retry-after: 1" in head
        normal_client_is_served(port)  # the threads left answer everything else
    finally:
        for sock in stalled:
            sock.close()
        stop(proc)
    log = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in log, log
