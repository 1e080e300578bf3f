"""The failed-login brake shared through the store: ``limit`` failures per window per address
in all the processes of a shared store together, with no database call for a right token."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_support import STORE_KINDS, fresh_location

from omeapi._access.auth import AuthVerifier
from omeapi._errors import AuthError, StoreError, TooManyAttempts
from omeapi._state.brake import FailureBrake, LocalFailures, SharedFailures
from omeapi._stores.base import FailureCounter
from omeapi._stores.open import open_store
from omeapi._stores.sql import SqlStore

REPO = Path(__file__).resolve().parent.parent
TOKEN = "ome-access-token"
RIGHT = "Basic " + base64.b64encode(TOKEN.encode()).decode()
WRONG = "Basic " + base64.b64encode(b"guess").decode()


@pytest.fixture(params=STORE_KINDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_location(request.param, tmp_path)


@pytest.fixture
def store(location: str) -> Iterator[SqlStore[Any]]:
    opened = open_store(location)
    assert isinstance(opened, SqlStore)
    yield opened
    opened.close()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Spy:
    """A :class:`FailureCounter` that counts its calls (and passes them on)."""

    def __init__(self, inner: FailureCounter) -> None:
        self.inner = inner
        self.clock = inner.clock
        self.calls: list[str] = []

    def count_failure(self, client: str, window: float) -> tuple[float, int]:
        self.calls.append("count")
        return self.inner.count_failure(client, window)

    def forget(self, client: str) -> None:
        self.calls.append("forget")
        self.inner.forget(client)


def attempt(verifier: AuthVerifier, header: str, client: str) -> int:
    try:
        verifier.verify(header, client)
    except TooManyAttempts:
        return 429
    except AuthError:
        return 401
    return 200


def test_for_store_shares_only_through_a_shared_store(store: SqlStore[Any]) -> None:
    assert isinstance(FailureBrake.for_store(store).backend, SharedFailures)
    assert isinstance(FailureBrake.for_store(open_store(None)).backend, LocalFailures)
    assert isinstance(FailureBrake.for_store(object()).backend, LocalFailures)
    brake = FailureBrake.for_store(store, limit=3, window=5.0)
    assert (brake.limit, brake.window) == (3, 5.0)


def test_the_counter_counts_per_window(store: SqlStore[Any]) -> None:
    clock = Clock()
    counter = store.brake_backend(clock=clock)
    assert [counter.count_failure("a", 60) for _ in range(3)] == [
        (clock.now, 1),
        (clock.now, 2),
        (clock.now, 3),
    ]
    assert counter.count_failure("b", 60) == (clock.now, 1)
    start = clock.now
    clock.now += 59.5
    assert counter.count_failure("a", 60) == (start, 4)
    clock.now += 0.5  # the window is over: a new one starts with this failure
    assert counter.count_failure("a", 60) == (clock.now, 1)
    counter.forget("a")
    assert counter.count_failure("a", 60) == (clock.now, 1)


def test_expired_rows_are_deleted(store: SqlStore[Any]) -> None:
    clock = Clock()
    counter = store.brake_backend(clock=clock)

    def clients() -> set[str]:
        return {row[0] for row in store._read("SELECT client FROM omeapi_brake", ())}

    counter.count_failure("old", 60)
    clock.now += 3600
    for i in range(99):
        counter.count_failure(f"new{i % 3}", 60)
    assert "old" in clients()
    counter.count_failure("new0", 60)  # the 101st: expired rows go
    assert clients() == {"new0", "new1", "new2"}


def test_a_right_token_never_reaches_the_store(store: SqlStore[Any]) -> None:
    spy = Spy(store.brake_backend())
    verifier = AuthVerifier(TOKEN, brake=FailureBrake(limit=3, backend=spy))
    assert [attempt(verifier, RIGHT, "a") for _ in range(50)] == [200] * 50
    assert spy.calls == []
    assert attempt(verifier, WRONG, "a") == 401
    assert spy.calls == ["count"]
    assert attempt(verifier, RIGHT, "a") == 200  # forgets a's failures, everywhere
    assert spy.calls == ["count", "forget"]
    assert [attempt(verifier, RIGHT, "a") for _ in range(5)] == [200] * 5
    assert spy.calls == ["count", "forget"]
    # Braked: the address is known here, and answered without asking the store.
    assert [attempt(verifier, WRONG, "b") for _ in range(3)] == [401] * 3
    calls = len(spy.calls)
    assert [attempt(verifier, h, "b") for h in (WRONG, RIGHT, WRONG)] == [429] * 3
    assert len(spy.calls) == calls


def test_two_brakes_on_one_store_share_the_limit(store: SqlStore[Any]) -> None:
    first = AuthVerifier(TOKEN, brake=FailureBrake.for_store(store, limit=4))
    second = AuthVerifier(TOKEN, brake=FailureBrake.for_store(store, limit=4))
    answers = [attempt(v, WRONG, "a") for v in (first, second) * 5]
    assert answers == [401, 401, 401, 401, 429, 429, 429, 429, 429, 429]
    # The second learned of the brake from the count; it says so without asking again.
    braked = first.brake
    assert braked is not None
    wait = braked.retry_after("a")
    assert wait is not None and 59 < wait <= 60


def test_threads_admit_exactly_the_limit(store: SqlStore[Any]) -> None:
    verifier = AuthVerifier(TOKEN, brake=FailureBrake.for_store(store, limit=10))
    answers: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(15):
            answer = attempt(verifier, WRONG, "203.0.113.5")
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(401) == 10
    assert answers.count(429) == 80


class Broken:
    clock = staticmethod(time.monotonic)

    def count_failure(self, client: str, window: float) -> tuple[float, int]:
        raise StoreError("the database is gone")

    def forget(self, client: str) -> None:
        raise StoreError("the database is gone")


def test_a_failing_store_falls_back_to_counting_here(caplog: pytest.LogCaptureFixture) -> None:
    verifier = AuthVerifier(TOKEN, brake=FailureBrake(limit=3, backend=Broken()))
    assert [attempt(verifier, WRONG, "a") for _ in range(5)] == [401, 401, 401, 429, 429]
    assert attempt(verifier, RIGHT, "b") == 200
    assert attempt(verifier, WRONG, "b") == 401
    assert attempt(verifier, RIGHT, "b") == 200  # forgetting fails in the store: logged only
    assert "the database is gone" in caplog.text


WORKER = """
import base64, json, sys, time
from omeapi._access.auth import AuthVerifier
from omeapi._state.brake import FailureBrake
from omeapi._errors import AuthError, TooManyAttempts
from omeapi._stores.open import open_store

location, start, tries = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
store = open_store(location)
verifier = AuthVerifier("ome-access-token", brake=FailureBrake.for_store(store, limit=10))
wrong = "Basic " + base64.b64encode(b"guess").decode()
time.sleep(max(0.0, start - time.time()))
answers = {"401": 0, "429": 0}
for _ in range(tries):
    try:
        verifier.verify(wrong, "198.51.100.20")
    except TooManyAttempts:
        answers["429"] += 1
    except AuthError:
        answers["401"] += 1
store.close()
print(json.dumps(answers))
"""


def test_processes_admit_the_limit_together(location: str) -> None:
    """Four processes, 80 wrong guesses from one address against 10 a minute: 10 get a 401
    (per process, 20–38 did before the count was shared)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.time() + 2.0  # every process is ready before the first guess
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, location, str(start), "20"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    totals = {"401": 0, "429": 0}
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        for key, value in json.loads(out).items():
            totals[key] += value
    assert totals == {"401": 10, "429": 70}
