"""Several workers, one truth (issue 8): the real gunicorn with 4 worker processes.

``gunicorn -w 4`` (sync workers: one request at a time each, so two requests in flight
together are in two processes) on 127.0.0.1, serving ``store_worker_app`` over a shared
store; every answer names its worker.  Each request uses a new connection.

* a change answered by one worker is visible to the next request, whichever worker gets it;
* two workers creating the same vhost at once: one 200, one 409;
* changes to one app from many workers at once are serialised (no change is lost).

Then ``omeapi serve --workers`` itself serves several with a SQLite store (granian and
gunicorn); without a store, see test_serve_workers.py.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_XML, app_body, profile_body
from servers import free_port, stop, wait_for
from store_support import STORE_KINDS, fresh_location, server_xml_with_storage

from omeapi._stores.open import open_store

pytest.importorskip("gunicorn")

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
AUTH = "Basic " + base64.b64encode(b"ome-access-token").decode()
WORKERS = 4
#: How long each engine operation takes in the workers (restarts are observable).
DELAY = 0.05


def env_for(**extra: str) -> dict[str, str]:
    path = [str(ROOT), str(ROOT / "adapters"), str(TESTS), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **extra}


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
    """One request on a new connection: status, worker, decoded body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Authorization": AUTH})
        response = conn.getresponse()
        return response.status, response.getheader("X-Worker") or "", json.loads(response.read())
    finally:
        conn.close()


class Served:
    """A running gunicorn: its port and store location."""

    def __init__(self, port: int, location: str) -> None:
        self.port = port
        self.location = location

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
        return call(self.port, method, path, body)


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("workers")
    locations = fresh_location(request.param, directory)
    location = next(locations)
    config = directory / "Server.xml"
    config.write_text(SERVER_XML)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(TESTS / "store_gunicorn_conf.py"),
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "store_worker_app:app",
        ],
        env=env_for(
            OMEAPI_TEST_CONFIG=str(config),
            OMEAPI_TEST_STORE=location,
            OMEAPI_TEST_DELAY=str(DELAY),
            OMEAPI_TEST_PARENT=str(os.getpid()),
            OMEAPI_TEST_LIFETIME="600",
        ),
        cwd=directory,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(port, proc, timeout=60)
        # Until every worker has booted and answered.
        seen: set[str] = set()
        end = time.monotonic() + 60
        while len(seen) < WORKERS and time.monotonic() < end:
            status, worker, _ = call(port, "GET", "/v1/vhosts")
            assert status == 200
            seen.add(worker)
        assert len(seen) >= 2, "requests never reached a second worker"
        yield Served(port, location)
    finally:
        stop(proc, signal.SIGINT)  # gunicorn's quick shutdown
        next(locations, None)  # drop the PostgreSQL schema


def test_a_change_is_visible_to_the_next_request_on_any_worker(served: Served) -> None:
    crossed = 0
    for i in range(20):
        status, writer, _ = served.call("POST", "/v1/vhosts", [{"name": f"vis{i}"}])
        assert status == 200
        status, reader, body = served.call("GET", f"/v1/vhosts/vis{i}")
        assert (status, body["response"]["name"]) == (200, f"vis{i}")
        crossed += writer != reader
    status, _, _ = served.call("POST", "/v1/vhosts/vis0/apps", [app_body("a")])
    assert status == 200
    for i in range(20):
        change = {"publishers": {"appWorkerCount": i % 9 + 1}}
        status, writer, _ = served.call("PATCH", "/v1/vhosts/vis0/apps/a", change)
        assert status == 200
        status, reader, body = served.call("GET", "/v1/vhosts/vis0/apps/a")
        assert body["response"]["publishers"]["appWorkerCount"] == i % 9 + 1
        crossed += writer != reader
        status, reader, body = served.call("GET", "/v1/vhosts")
        assert body["response"][-1] == "vis19"
    # Reading from another worker than the writer happened, many times.
    assert crossed >= 10, crossed


def test_two_workers_creating_the_same_vhost_give_one_200_and_one_409(served: Served) -> None:
    split = 0
    for round_ in range(10):
        barrier = threading.Barrier(2)
        answers: list[tuple[int, str]] = []

        def create(name: str, out: list[tuple[int, str]], wait: threading.Barrier) -> None:
            wait.wait()
            status, worker, _ = served.call("POST", "/v1/vhosts", [{"name": name}])
            out.append((status, worker))

        threads = [
            threading.Thread(target=create, args=(f"race{round_}", answers, barrier))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(status for status, _ in answers) == [200, 409], answers
        split += answers[0][1] != answers[1][1]
    assert split >= 5, f"only {split} of 10 races reached two workers"


def test_changes_to_one_app_from_many_workers_are_serialised(served: Served) -> None:
    status, _, _ = served.call("POST", "/v1/vhosts", [{"name": "ser"}])
    assert status == 200
    status, _, _ = served.call("POST", "/v1/vhosts/ser/apps", [app_body("a")])
    assert status == 200
    count = 8
    barrier = threading.Barrier(count)
    answers: list[tuple[int, str]] = []

    def add(i: int) -> None:
        barrier.wait()
        status, worker, _ = served.call(
            "POST", "/v1/vhosts/ser/apps/a/outputProfiles", [profile_body(f"p{i}")]
        )
        answers.append((status, worker))

    started = time.monotonic()
    threads = [threading.Thread(target=add, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - started
    assert [status for status, _ in answers] == [200] * count
    assert len({worker for _, worker in answers}) >= 2
    # No change lost (a read-modify-write race would lose profiles) ...
    status, _, body = served.call("GET", "/v1/vhosts/ser/apps/a/outputProfiles")
    assert sorted(body["response"]) == sorted(["default", *(f"p{i}" for i in range(count))])
    # ... and one change after the other: each held the app for a restart at least.
    assert elapsed >= count * DELAY
    store = open_store(served.location)
    try:
        changes = [
            r.version
            for r in store.audit_log()
            if r.summary.get("change") == "update_app" and r.path.startswith("/v1/vhosts/ser/")
        ]
    finally:
        store.close()
    assert len(changes) == count and len(set(changes)) == count


# -- omeapi serve --workers ---------------------------------------------------------------------


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_runs_several_workers_over_a_sqlite_store(tmp_path: Path, server: str) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml_with_storage(SERVER_XML, "api_data"))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omeapi.cli",
            "serve",
            str(config),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--server",
            server,
            "--workers",
            "2",
        ],
        env=env_for(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(port, proc, timeout=60)
        # the workers may still be booting: retry the first request
        end = time.monotonic() + 60
        while True:
            try:
                status, _, _ = call(port, "POST", "/v1/vhosts", [{"name": "made"}])
                break
            except (ConnectionError, http.client.HTTPException):
                assert time.monotonic() < end
                time.sleep(0.1)
        assert status == 200
        for _ in range(10):
            status, _, body = call(port, "GET", "/v1/vhosts")
            assert body["response"] == ["default", "made"]
    finally:
        stop(proc)
    assert (tmp_path / "api_data" / "omeapi.sqlite3").is_file()
    # and what it made is there at the next start (read straight from the store here)
    store = open_store(str(tmp_path / "api_data"))
    try:
        assert [v.name for v in store.load().vhosts] == ["made"]
    finally:
        store.close()
