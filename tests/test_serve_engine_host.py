"""``omeapi serve`` as one logical server: the engine host under SIGKILL, one server per
port, and engines of one's own (``--engine module:factory``, ``--engine unix:PATH``).

Real servers on 127.0.0.1 on free ports, in their own process group, stopped at the end of
each test.  The differential test (every route family, 1 worker against several) is
``tests/test_one_server.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from servers import free_port, stop, wait_for
from test_serve import ENV, server_xml, start
from test_serve_workers import drain, request, when_ready

pytest.importorskip("granian")
pytest.importorskip("cattrs")

ROOT = Path(__file__).resolve().parent.parent


def _config(directory: Path, port: int) -> Path:
    path = directory / "Server.xml"
    path.write_text(server_xml(port, None, tls=False))
    return path


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def engine_host_pid(serve: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """The engine host process of an ``omeapi serve`` (a child of its main process)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for child in _children(serve.pid):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"omeapi_remote.host" in command:
                return child
        time.sleep(0.05)
    raise AssertionError("no engine host")


# -- SIGKILL of the engine host under load --------------------------------------------------


def test_engine_host_killed_under_load(tmp_path: Path) -> None:
    port = free_port()
    proc = start(_config(tmp_path, port), "--workers", "2")
    reader = drain(proc)
    try:
        wait_for(port, proc)
        when_ready(port)
        assert request(port, "POST", "/v1/vhosts", [{"name": "made"}])[0] == 200
        assert (
            request(port, "POST", "/v1/vhosts/made/apps", [{"name": "a", "type": "live"}])[0] == 200
        )
        first = engine_host_pid(proc)

        stop_load = threading.Event()
        answers: list[tuple[str, int, float]] = []

        def load(kind: str, path: str) -> None:
            while not stop_load.is_set():
                started = time.monotonic()
                try:
                    status, _ = request(port, "GET", path)
                except OSError:
                    status = -1
                answers.append((kind, status, time.monotonic() - started))

        threads = [
            threading.Thread(target=load, args=("config", "/v1/vhosts/made/apps/a")),
            threading.Thread(target=load, args=("engine", "/v1/vhosts/made/apps/a/streams")),
            threading.Thread(target=load, args=("engine", "/v1/stats/current")),
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        killed_at = len(answers)
        os.kill(first, signal.SIGKILL)
        # Until the engine answers again (bounded), then a little more load.
        end = time.monotonic() + 30
        while time.monotonic() < end:
            recent = [a for a in answers[killed_at:] if a[0] == "engine"]
            if any(a[1] == 503 for a in recent) and recent[-1][1] == 200:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        stop_load.set()
        for thread in threads:
            thread.join(30)

        config_reads = [a for a in answers if a[0] == "config"]
        engine_reads = [a for a in answers if a[0] == "engine"]
        assert config_reads and {status for _, status, _ in config_reads} == {200}
        assert {status for _, status, _ in engine_reads} <= {200, 503}, engine_reads
        down = [seconds for _, status, seconds in engine_reads if status == 503]
        assert down, "the kill was never seen"
        assert max(down) < 1.0, "a 503 must be quick"
        assert engine_reads[-1][1] == 200

        second = engine_host_pid(proc)
        assert second != first
        # Converged with the registry: the API-created app runs on the new engine.
        pull = {"name": "cam", "urls": ["rtsp://origin.example.com/app/cam"]}
        assert request(port, "POST", "/v1/vhosts/made/apps/a/streams", pull)[0] == 201
        status, body = request(port, "GET", "/v1/vhosts/made/apps/a/streams")
        assert (status, json.loads(body)["response"]) == (200, ["cam"])
    finally:
        stop(proc)
    said = b"".join(reader.lines).decode()  # type: ignore[attr-defined]
    assert "the engine host ended (signal SIGKILL); starting it again" in said
    assert not _children(proc.pid)


# -- a port is one server's -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "workers"),
    [("granian", "2"), ("granian", "1"), ("gunicorn", "2"), ("uvicorn", "1")],
)
def test_a_second_server_on_the_port_stops_at_start(
    tmp_path: Path, server: str, workers: str
) -> None:
    if server == "uvicorn":
        pytest.importorskip("uvicorn")
    port = free_port()
    config = _config(tmp_path, port)
    first = start(config, "--server", "granian", "--workers", "2")
    drain(first)
    try:
        wait_for(port, first)
        when_ready(port)
        second = start(config, "--server", server, "--workers", workers)
        try:
            _, err = second.communicate(timeout=60)
        finally:
            stop(second)
        assert second.returncode == 1
        assert f"port {port} is in use by another omeapi serve" in err.decode()
        # The first server still has every connection.
        for _ in range(8):
            assert request(port, "GET", "/v1/vhosts")[0] == 200
    finally:
        stop(first)


def test_a_port_another_program_listens_on_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        proc = start(_config(tmp_path, port), "--workers", "2")
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            stop(proc)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is not free" in err.decode()


# -- engines of one's own -----------------------------------------------------------------------

_FACTORY = """
from omeapi import SimulatedEngine


class Tagged(SimulatedEngine):
    def list_streams(self, vhost, app):
        return ["from-factory", *super().list_streams(vhost, app)]


def make():
    return Tagged()
"""


def test_engine_from_a_factory_runs_in_the_engine_host(tmp_path: Path) -> None:
    (tmp_path / "my_engine.py").write_text(_FACTORY)
    port = free_port()
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), ENV["PYTHONPATH"]])}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "omeapi.cli", "serve", str(_config(tmp_path, port))),
            *("--address", "127.0.0.1", "--workers", "1", "--engine", "my_engine:make"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    drain(proc)
    try:
        wait_for(port, proc)
        when_ready(port)
        status, body = request(port, "GET", "/v1/vhosts/default/apps/app/streams")
        assert (status, json.loads(body)["response"]) == (200, ["from-factory"])
        engine_host_pid(proc)
    finally:
        stop(proc)


def test_engine_flag_refuses_a_network_address() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "omeapi.cli", "serve", "--engine", "tcp://127.0.0.1:9000"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "never over the network" in done.stderr


# -- an engine in a process of its own (the sidecar) ---------------------------------------------


def _serve_engine_at(tmp_path: Path, socket_path: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = start(_config(tmp_path, port), "--workers", "2", "--engine", f"unix:{socket_path}")
    return proc, port


def test_a_published_engine_is_fronted_and_followed_across_its_restarts(tmp_path: Path) -> None:
    from omeapi import SimulatedEngine
    from omeapi_remote import publish_engine

    socket_path = str(tmp_path / "run" / "engine.sock")
    first = SimulatedEngine()
    publication = publish_engine(first, socket_path)
    proc, port = _serve_engine_at(tmp_path, socket_path)
    reader = drain(proc)
    try:
        wait_for(port, proc)
        when_ready(port)
        # Server.xml's vhost and app were started on the published engine.
        assert [a for _, a in first.applications()] == ["app"]
        assert request(port, "POST", "/v1/vhosts", [{"name": "made"}])[0] == 200
        assert (
            request(port, "POST", "/v1/vhosts/made/apps", [{"name": "a", "type": "live"}])[0] == 200
        )
        assert sorted(a for _, a in first.applications()) == ["a", "app"]
        pull = {"name": "cam", "urls": ["rtsp://origin.example.com/app/cam"]}
        assert request(port, "POST", "/v1/vhosts/made/apps/a/streams", pull)[0] == 201
        assert first.streams("made", "a") == ["cam"]

        # The media server goes away: engine routes answer 503 at once, config reads go on.
        publication.close()
        status, body = request(port, "GET", "/v1/vhosts/made/apps/a/streams")
        assert status == 503, body
        assert request(port, "GET", "/v1/vhosts/made/apps/a")[0] == 200

        # It comes back with a new, empty engine: everything is started on it again.
        second = SimulatedEngine()
        publication = publish_engine(second, socket_path)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            status, body = request(port, "GET", "/v1/vhosts/made/apps/a/streams")
            if status == 200 and sorted(a for _, a in second.applications()) == ["a", "app"]:
                break
            time.sleep(0.1)
        assert sorted(a for _, a in second.applications()) == ["a", "app"]
        assert request(port, "POST", "/v1/vhosts/made/apps/a/streams", pull)[0] == 201
    finally:
        stop(proc)
        publication.close()
    del reader


def test_serve_says_so_when_the_published_engine_is_not_there(tmp_path: Path) -> None:
    proc, _port = _serve_engine_at(tmp_path, str(tmp_path / "nobody.sock"))
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 1
    said = err.decode()
    assert "The media engine is unavailable" in said
    assert "the engine host did not start" in said
