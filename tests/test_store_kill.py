"""The kill test (issue 8): a process serving random changes, SIGKILLed at random moments.

Each round forks a child (``store_kill_child``) that opens the store, restores it and sends
random API changes through the handler, logging each request before it is sent and each
answer (with the store version and state) after it.  The round kills it with SIGKILL after
a random delay, sometimes while it is still opening the store, then checks the store:

* it opens (SQLite: ``integrity_check`` and ``foreign_key_check`` clean);
* it holds every change answered with success: its state is the one after the last
  answer, or (when a request was in flight) that state with the in-flight request applied,
  replayed on an in-memory API; never anything else;
* nothing half-written: the change counter is that state's version, and there is exactly
  one audit record per change, the last one for the last change;
* the next round's child restores exactly that state.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_XML
from robust_report import record
from store_kill_child import handle, state_of
from store_support import STORE_KINDS, fresh_location

from omeapi import open_api
from omeapi._config import parse_server_xml
from omeapi._simulated.engine import SimulatedEngine
from omeapi._stores.base import Change, StoreState
from omeapi._stores.memory import MemoryStore
from omeapi._stores.open import open_store, sqlite_file

ROOT = Path(__file__).resolve().parent.parent
#: Rounds per store; a round is a fork, a few hundred milliseconds of changes and checks.
ROUNDS = {"sqlite": 40, "postgres": 15}


@pytest.fixture(params=STORE_KINDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_location(request.param, tmp_path)


class Zygote:
    """The forking parent of the children (one interpreter start for all rounds)."""

    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "adapters"), str(ROOT / "tests")]),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "store_kill_child.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,
        )

    def start(self, location: str, seed: int, out: Path) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"run\t{location}\t{seed}\t{out}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        assert answer[0] == "pid", answer
        return int(answer[1])

    def reaped(self) -> None:
        assert self.proc.stdout is not None
        answer = self.proc.stdout.readline().split()
        assert answer and answer[0] == "done", answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def read_log(path: Path) -> list[list[Any]]:
    """Complete lines of a child's log (a line cut by the kill was never answered)."""
    text = path.read_text() if path.exists() else ""
    # The part after the last newline is incomplete.
    return [json.loads(raw) for raw in text.split("\n")[:-1]]


def parse(path: Path) -> tuple[Any, Any, Any]:
    """What READY showed, (version, state) after the last answer (or at READY), and the
    request in flight."""
    ready, version, state, inflight = None, -1, None, None
    for line in read_log(path):
        if line[0] == "READY":
            ready = line[1:]
            version, state = line[1:]
        elif line[0] == "B":
            inflight = line[1]
        else:
            _, _, version, state = line
            inflight = None
    return ready, (version, state), inflight


def stored(location: str) -> tuple[int, Any, list[int]]:
    """The store's version, state (as the child writes it) and audit versions, read with
    a store opened afresh."""
    store = open_store(location)
    try:
        loaded = store.load()
        versions = [r.version for r in store.audit_log()]
        return loaded.version, state_json(loaded), versions
    finally:
        store.close()


def state_json(state: StoreState) -> Any:
    return json.loads(
        json.dumps([[v.name, v.config, [[a.name, a.config] for a in v.apps]] for v in state.vhosts])
    )


def replay(state: Any, request: list[Any]) -> Any:
    """The state after ``request`` applied to ``state`` (an in-memory API)."""
    memory = MemoryStore()
    for name, config, apps in state:
        memory.apply(Change(Change.CREATE_VHOST, name, config=config, apps=tuple(map(tuple, apps))))
    api = open_api(
        parse_server_xml(SERVER_XML, environ={}), SimulatedEngine(), store=memory, brake=False
    )
    handle(api, *request)
    return json.loads(json.dumps(state_of(api.registry)))


def check_sqlite(location: str) -> None:
    conn = sqlite3.connect(sqlite_file(location))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_a_store_survives_sigkill_at_any_moment(location: str, tmp_path: Path) -> None:
    kind = "postgres" if "postgres" in location else "sqlite"
    rng = random.Random(8)
    zygote = Zygote()
    started = time.monotonic()
    changes = kills_in_flight = 0
    try:
        expected_version, expected_state = 0, []
        for round_ in range(ROUNDS[kind]):
            log = tmp_path / f"round{round_}.log"
            pid = zygote.start(location, round_, log)
            if rng.random() < 0.15:
                time.sleep(rng.uniform(0, 0.05))  # still starting: opening, restoring
            else:
                deadline = time.monotonic() + 20
                while "READY" not in (log.read_text() if log.exists() else ""):
                    assert time.monotonic() < deadline, "the child never got ready"
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.25))
            os.kill(pid, signal.SIGKILL)
            zygote.reaped()

            ready, (version, state), inflight = parse(log)
            if ready is None:  # killed before it was ready: nothing was answered
                version, state = expected_version, expected_state
            else:  # it restored exactly what the previous round left
                assert ready == [expected_version, expected_state]
            if kind == "sqlite":
                check_sqlite(location)
            got_version, got_state, audited = stored(location)
            if got_version == version:
                assert got_state == state
            else:
                # The request in flight was committed, but not answered: it alone.
                assert got_version == version + 1, (got_version, version)
                assert inflight is not None
                assert got_state == replay(state, inflight)
                kills_in_flight += 1
            assert audited == list(range(1, got_version + 1))
            changes = got_version
            expected_version, expected_state = got_version, got_state
    finally:
        zygote.close()
    elapsed = time.monotonic() - started
    record(
        f"SIGKILL loop, {kind} store",
        f"{ROUNDS[kind]} kills, {changes} changes kept, 0 lost, 0 half-written, "
        f"{kills_in_flight} committed but unanswered, {elapsed:.1f} s",
    )
    assert changes > ROUNDS[kind], "too few changes to mean anything"
