"""One logical API whatever the listeners and workers, with no store configured: ``omeapi
serve`` keeps the state in a private SQLite file (removed at exit) that every worker process
and both listeners share; and the serve flags (``--server uvicorn|hypercorn``,
``--console``, ``--access-log``, ``--metrics-path``, ``omeapi --version``).

Real servers on 127.0.0.1 on free ports, in their own process group, stopped at the end of
each test (killed if they have not ended within 20 s).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, stop, wait_for
from test_serve import AUTH, ENV, server_xml, start, write_config

from omeapi._handler import DEFAULT_BODY_LIMIT
from omeapi._stores.open import open_store
from omeapi._version import OME_API_VERSION, __version__
from omeapi.cli import build_parser, main

trustme = pytest.importorskip("trustme")

SERVING = re.compile(r"omeapi: serving \S+ on (\S+) with (\w+), (\d+) workers, store (.*)")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def serving_lines(proc: subprocess.Popen[bytes], count: int, timeout: float = 60.0) -> list[Any]:
    """The first ``count`` "omeapi: serving …" lines on the server's stderr, parsed."""
    assert proc.stderr is not None
    found: list[Any] = []
    buffered = b""
    end = time.monotonic() + timeout
    while len(found) < count:
        left = end - time.monotonic()
        assert left > 0, f"no serving line: {buffered!r}"
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stderr.fileno(), 65536)
        assert chunk, f"server ended: {buffered!r}"
        buffered += chunk
        found = [m for m in map(SERVING.search, buffered.decode().splitlines()) if m]
    return found


def drain(proc: subprocess.Popen[bytes]) -> threading.Thread:
    """Keep reading the server's stderr (a full pipe would block its logging)."""
    lines: list[bytes] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.lines = lines  # type: ignore[attr-defined]
    thread.start()
    return thread


def request(
    port: int,
    method: str,
    path: str,
    body: object = None,
    ca: trustme.CA | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on a new connection (TLS when ``ca`` is given)."""
    conn: http.client.HTTPConnection
    if ca is not None:
        context = __import__("ssl").create_default_context()
        ca.configure_trust(context)
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Authorization": AUTH, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def names(port: int, ca: trustme.CA | None = None) -> list[str]:
    status, body = request(port, "GET", "/v1/vhosts", ca=ca)
    assert status == 200, body
    found: list[str] = json.loads(body)["response"]
    return found


def when_ready(port: int, ca: trustme.CA | None = None, timeout: float = 60.0) -> None:
    """Until a request is answered: workers may still be booting after the port opened."""
    end = time.monotonic() + timeout
    while True:
        try:
            names(port, ca)
            return
        except (OSError, http.client.HTTPException):
            assert time.monotonic() < end
            time.sleep(0.1)


def private_store(match: Any) -> str:
    location: str = match.group(4)
    assert "omeapi-serve-" in location, location
    return location


# -- workers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_several_workers_without_a_store_share_one_private_store(
    tmp_path: Path, ca: trustme.CA, server: str
) -> None:
    port = free_port()
    config = write_config(tmp_path, ca, port, None)
    proc = start(config, "--server", server, "--workers", "2")
    try:
        (line,) = serving_lines(proc, 1)
        assert line.group(3) == "2"
        location = private_store(line)
        reader = drain(proc)
        wait_for(port, proc)
        when_ready(port)
        # Each change is seen by the very next request, whichever worker answers it.
        for i in range(6):
            assert request(port, "POST", "/v1/vhosts", [{"name": f"seq{i}"}])[0] == 200
            for _ in range(3):
                assert f"seq{i}" in names(port)
        # Changes from several clients at once, through both workers, are all made by one
        # process, the engine host (the audit log names the process that made each one).
        expected = ["default", *(f"seq{i}" for i in range(6))]
        nodes: set[str] = set()
        for round_ in range(3):
            statuses: list[int] = []
            batch = [f"par{round_}-{i}" for i in range(24)]

            def post(mine: list[str], statuses: list[int] = statuses) -> None:
                for name in mine:
                    statuses.append(request(port, "POST", "/v1/vhosts", [{"name": name}])[0])

            threads = [threading.Thread(target=post, args=(batch[n::4],)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert statuses == [200] * 24
            expected += batch
            for _ in range(10):
                assert sorted(names(port)) == sorted(expected)
        store = open_store(location)
        try:
            nodes = {record.node for record in store.audit_log()}
        finally:
            store.close()
        assert len(nodes) == 1, nodes
    finally:
        stop(proc)
    assert not os.path.exists(os.path.dirname(location)), "the private store was left behind"
    del reader


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (Linux ``/proc``)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # TCP_LISTEN
            count += 1
    return count


def accepting_pids(port: int, client_ports: set[int], group: int) -> dict[int, int]:
    """Client port -> the pid (in process ``group``) holding the server's end of that
    connection to 127.0.0.1:``port`` (Linux ``/proc``)."""
    inodes: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) in client_ports:
            inodes[f"socket:[{inode}]"] = int(remote.split(":")[1], 16)
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
                if link in inodes:
                    found[inodes[link]] = int(entry)
        except OSError:  # ended meanwhile
            continue
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux /proc")
def test_keep_alive_connections_spread_over_the_workers(tmp_path: Path, ca: trustme.CA) -> None:
    # On one shared listening socket the first worker to wake accepts every waiting
    # connection; a plain listener keeps a socket per worker, and the kernel spreads them.
    port = free_port()
    config = write_config(tmp_path, ca, port, None)
    proc = start(config, "--workers", "2")
    try:
        reader = drain(proc)
        wait_for(port, proc)
        when_ready(port)
        # Both workers listening (the port answers as soon as the first one does).
        deadline = time.monotonic() + 30
        while listening_sockets(port) < 2:
            assert time.monotonic() < deadline, "the second worker never listened"
            time.sleep(0.05)
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
        try:
            for conn in connections:  # all open at once, as a load balancer's pool
                conn.connect()
            for conn in connections:
                conn.request("GET", "/v1/vhosts", headers={"Authorization": AUTH})
                response = conn.getresponse()
                assert response.status == 200
                response.read()
            clients = {conn.sock.getsockname()[1] for conn in connections}
            holders = accepting_pids(port, clients, proc.pid)
            assert len(holders) == 16, holders
            # Both workers (2 ** -15 odds that a fair hash puts all 16 on one).
            assert len(set(holders.values())) == 2, holders
        finally:
            for conn in connections:
                conn.close()
    finally:
        stop(proc)
    del reader


def test_http_and_https_listeners_are_one_api(tmp_path: Path, ca: trustme.CA) -> None:
    port, tls_port = free_port(), free_port()
    config = write_config(tmp_path, ca, port, tls_port)
    proc = start(config)  # default: one worker per CPU on each listener
    try:
        lines = serving_lines(proc, 2)
        cpus = len(os.sched_getaffinity(0))
        assert {m.group(3) for m in lines} == {str(cpus)}
        assert len({private_store(m) for m in lines}) == 1
        reader = drain(proc)
        wait_for(port, proc)
        wait_for(tls_port, proc)
        when_ready(port)
        when_ready(tls_port, ca)
        assert request(port, "POST", "/v1/vhosts", [{"name": "plain"}])[0] == 200
        assert names(tls_port, ca) == ["default", "plain"]
        assert request(tls_port, "POST", "/v1/vhosts", [{"name": "secure"}], ca)[0] == 200
        assert names(port) == ["default", "plain", "secure"]
        assert request(port, "DELETE", "/v1/vhosts/plain")[0] == 200
        assert names(tls_port, ca) == ["default", "secure"]
    finally:
        stop(proc)
    assert not os.path.exists(os.path.dirname(private_store(lines[0])))
    del reader


def test_one_worker_on_one_plain_listener_keeps_the_memory_store(
    tmp_path: Path, ca: trustme.CA
) -> None:
    port = free_port()
    proc = start(write_config(tmp_path, ca, port, None), "--workers", "1")
    try:
        (line,) = serving_lines(proc, 1)
        assert (line.group(3), line.group(4)) == ("1", "in memory")
    finally:
        stop(proc)


def test_workers_default_to_the_cpus() -> None:
    from omeapi_werkzeug.serve import default_workers

    assert build_parser().parse_args(["serve"]).workers is None  # decided by serve
    assert default_workers() == len(os.sched_getaffinity(0))
    assert build_parser().parse_args(["serve", "--workers", "1"]).workers == 1


# -- the flags --------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert __version__ in out and OME_API_VERSION in out and out.startswith("omeapi ")


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_console_access_log_and_metrics_reach_open_api(
    tmp_path: Path, ca: trustme.CA, server: str
) -> None:
    port = free_port()
    config = write_config(tmp_path, ca, port, None)
    proc = start(
        config,
        *("--server", server, "--workers", "1"),
        *("--console", "--log-format", "json", "--metrics-path", "/metrics"),
    )
    try:
        serving_lines(proc, 1)
        reader = drain(proc)
        wait_for(port, proc)
        when_ready(port)
        status, body = request(port, "GET", "/console/", headers={"Host": "localhost"})
        assert status == 200 and b"<html" in body.lower()
        status, body = request(port, "GET", "/metrics")
        assert status == 200 and b"# TYPE" in body
        end = time.monotonic() + 10
        while not any(b'"path":"/metrics"' in line for line in reader.lines):  # type: ignore[attr-defined]
            assert time.monotonic() < end, reader.lines  # type: ignore[attr-defined]
            time.sleep(0.05)
        logged = [
            json.loads(line)
            for line in reader.lines  # type: ignore[attr-defined]
            if line.startswith(b"{")
        ]
        assert {"method": "GET", "path": "/v1/vhosts", "status": 200}.items() <= logged[0].items()
    finally:
        stop(proc)


def test_a_bad_flag_value_is_refused_before_any_server_starts(
    tmp_path: Path, ca: trustme.CA, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, ca, free_port(), None)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(config), "--workers", "1", "--console=no-slash"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no-slash" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--metrics-path", "metrics"])
    assert exit_.value.code == 2
    assert "must be a path starting with '/'" in capsys.readouterr().err


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
def test_asgi_servers_serve_both_listeners_with_tls_and_the_body_limit(
    tmp_path: Path, ca: trustme.CA, server: str
) -> None:
    pytest.importorskip(server)
    port, tls_port = free_port(), free_port()
    config = write_config(tmp_path, ca, port, tls_port)
    proc = start(config, "--server", server, "--workers", "1")
    try:
        lines = serving_lines(proc, 2)
        assert {m.group(2) for m in lines} == {server}
        reader = drain(proc)
        wait_for(port, proc)
        wait_for(tls_port, proc)
        when_ready(port)
        when_ready(tls_port, ca)
        assert request(tls_port, "POST", "/v1/vhosts", [{"name": "secure"}], ca)[0] == 200
        assert names(port) == ["default", "secure"]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest("POST", "/v1/vhosts")
            conn.putheader("Authorization", AUTH)
            conn.putheader("Content-Length", str(DEFAULT_BODY_LIMIT + 1))
            conn.endheaders()
            assert conn.getresponse().status == 413
        finally:
            conn.close()
    finally:
        stop(proc)
    del reader


def test_server_xml_helper_is_shared() -> None:
    # The configs above are test_serve's, so that both files test the same server.
    assert "<TLSPort>" in server_xml(1, 2) and ENV["PYTHONPATH"]
