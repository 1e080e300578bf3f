"""Concurrent writers and readers on one API (issue 4: "Tests that must hold", concurrency).

The stress test runs 8 writer threads × 200 random POST / PATCH / DELETE requests on 4 apps
(and their output profiles) of an API-created vhost, with reader threads polling the apps.
Every request is stamped with two numbers from one global counter, taken just before it is
sent and just after its answer came back: ``a.end < b.start`` means that ``a`` finished
before ``b`` began (real-time order).  Writes to one app are serialised by the coordinator,
so they have *some* commit order; a recording store (the coordinator applies an app's
changes to it under that app's lock) logs it.  The checks:

* no answer is a 5xx, and every status is one the request can legitimately get;
* registry, engine (``SimulatedEngine.applications()``) and the API's GET answers agree;
* the commit log ends with each app's final config; replaying it, every commit is exactly
  one successful write (each write sets a unique value, so a commit names its write), every
  successful write is committed exactly once, nothing else is, and a write that finished
  before another began was committed first;
* the final state of each app is the one left by its last write: per app "register"
  (existence, ``appWorkerCount``, each output profile), the final value was written by a
  successful write that no other successful write on that register strictly followed;
* every answer a reader got was a whole config the engine ran (old or new, never half-made);
* no reader saw an app missing between two successful writes that both kept it: a read
  that found the app missing, after a write W1 that left it in place had finished and
  before a write W2 that needed it had begun, is an error unless some successful DELETE of
  the app could have happened between W1 and the read.

Two smaller tests measure what the locks promise: different apps restart in parallel, the
same app's changes never overlap.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from conftest import Client, make_api, profile_body

from omeapi._config import ApplicationConfig
from omeapi._engine.protocol import RestartOutcome
from omeapi._simulated.engine import SimulatedEngine
from omeapi._stores.base import Change
from omeapi._stores.memory import MemoryStore

VHOST = "cc"
APPS = ("a0", "a1", "a2", "a3")
PROFILES = ("p0", "p1", "p2")
WRITERS = 8
WRITES_PER_WRITER = 200
READERS = 3

#: What each kind of write may answer (an app or profile may be gone, or already there).
ALLOWED = {
    "create_app": {200, 409},
    "delete_app": {200, 404},
    "patch_app": {200, 404},
    "post_profile": {200, 404, 409},
    "patch_profile": {200, 404},
    "delete_profile": {200, 404},
}
WEIGHTS = {
    "create_app": 2,
    "delete_app": 1,
    "patch_app": 3,
    "post_profile": 3,
    "patch_profile": 3,
    "delete_profile": 2,
}
#: writes that leave the app in place when they succeed / that need it to exist
KEEPS = {"create_app", "patch_app", "post_profile", "patch_profile", "delete_profile"}
NEEDS = {"patch_app", "post_profile", "patch_profile", "delete_profile"}


class Write(NamedTuple):
    kind: str
    app: str
    profile: str
    value: int  # unique per write: the appWorkerCount or the outputStreamName suffix
    start: int
    end: int
    status: int
    body: bytes


class Read(NamedTuple):
    app: str
    start: int
    end: int
    present: bool
    config: str | None  # canonical JSON of the app as answered (without "dynamic")


class RecordingStore(MemoryStore):
    """Logs every app change it applies.  The coordinator applies an app's changes under
    that app's lock, so per app the log is the commit order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str, str | None]] = []  # (vhost, app, json or None)

    def apply(self, change: Change) -> int:
        version = super().apply(change)
        if change.kind in (Change.CREATE_APP, Change.UPDATE_APP):
            self.log.append((change.vhost, change.app, canonical(change.config)))
        elif change.kind == Change.DELETE_APP:
            self.log.append((change.vhost, change.app, None))
        return version


class RecordingEngine(SimulatedEngine):
    """Remembers every app config it was asked to run."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: dict[str, set[str]] = defaultdict(set)

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        self.ran[app.name].add(canonical(app.to_json()))
        super().create_application(vhost, app)

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        self.ran[new.name].add(canonical(new.to_json()))
        return super().restart_application(vhost, old, new)

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        self.ran[new.name].add(canonical(new.to_json()))
        super().apply_live(vhost, old, new)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _path(app: str, profile: str | None = None) -> str:
    path = f"/v1/vhosts/{VHOST}/apps/{app}"
    return path if profile is None else f"{path}/outputProfiles/{profile}"


def _request(kind: str, app: str, profile: str, value: int) -> tuple[str, str, Any]:
    if kind == "create_app":
        return "POST", f"/v1/vhosts/{VHOST}/apps", [{"name": app, "type": "live"}]
    if kind == "delete_app":
        return "DELETE", _path(app), None
    if kind == "patch_app":
        return "PATCH", _path(app), {"publishers": {"appWorkerCount": value}}
    if kind == "post_profile":
        return "POST", _path(app) + "/outputProfiles", [profile_body(profile, f"s{value}")]
    if kind == "patch_profile":
        body = profile_body(profile, f"s{value}")
        del body["name"]
        return "PATCH", _path(app, profile), body
    assert kind == "delete_profile"
    return "DELETE", _path(app, profile), None


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads often, so that requests interleave at many points."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def test_concurrent_writers_and_readers(fast_switching: None) -> None:
    store = RecordingStore()
    engine_log = RecordingEngine()
    client = Client(make_api(engine_log, store=store))
    client.create_vhost(VHOST, *APPS)
    initial = {
        app: canonical({k: v for k, v in client.ok("GET", _path(app)).items() if k != "dynamic"})
        for app in APPS
    }
    del store.log[:]  # from here on, the log holds the stress test's commits only
    clock = itertools.count()  # next() on a count is atomic
    values = itertools.count(1)
    writes: list[Write] = []
    reads: list[Read] = []
    done = threading.Event()
    errors: list[BaseException] = []
    start_line = threading.Barrier(WRITERS + READERS)

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        mine: list[Write] = []
        start_line.wait()
        for _ in range(WRITES_PER_WRITER):
            kind = rng.choices(kinds, weights)[0]
            app, profile, value = rng.choice(APPS), rng.choice(PROFILES), next(values)
            method, path, body = _request(kind, app, profile, value)
            start = next(clock)
            response = client.request(method, path, body)
            end = next(clock)
            mine.append(
                Write(kind, app, profile, value, start, end, response.status, response.body)
            )
        writes.extend(mine)

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[Read] = []
        start_line.wait()
        while not done.is_set():
            app = rng.choice(APPS)
            if rng.random() < 0.5:
                start = next(clock)
                response = client.get(_path(app))
                end = next(clock)
                assert response.status in (200, 404), response.body
                config = None
                if response.status == 200:
                    answer = json.loads(response.body)["response"]
                    assert answer.pop("dynamic") is False
                    assert answer["name"] == app
                    config = canonical(answer)
                mine.append(Read(app, start, end, response.status == 200, config))
            else:
                start = next(clock)
                response = client.get(f"/v1/vhosts/{VHOST}/apps")
                end = next(clock)
                assert response.status == 200
                names = json.loads(response.body)["response"]
                assert len(set(names)) == len(names)
                mine.extend(Read(a, start, end, a in names, None) for a in APPS)
        reads.extend(mine)

    def guarded(target: Any, seed: int) -> None:
        try:
            target(seed)
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)
            done.set()

    writers = [threading.Thread(target=guarded, args=(writer, i)) for i in range(WRITERS)]
    readers = [threading.Thread(target=guarded, args=(reader, 100 + i)) for i in range(READERS)]
    began = time.monotonic()
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    for thread in readers:
        thread.join(60)
    elapsed = time.monotonic() - began
    if errors:
        raise errors[0]
    assert len(writes) == WRITERS * WRITES_PER_WRITER
    assert elapsed < 20, f"took {elapsed:.1f} s"

    # 1. No 5xx; every status is one this request can get.
    for write in writes:
        assert write.status < 500, write
        assert write.status in ALLOWED[write.kind], write

    # 2. Registry, engine and GET answers agree.
    registry = client.api.registry.vhost(VHOST)
    assert registry is not None
    final = {name: entry.config.to_json() for name, entry in registry.apps.items()}
    assert not any(client.api.coordinator.failed(VHOST, name) for name in registry.apps)
    engine = client.engine.applications()
    assert {app: c.to_json() for (vh, app), c in engine.items() if vh == VHOST} == final
    listed = client.ok("GET", f"/v1/vhosts/{VHOST}/apps")
    assert sorted(listed) == sorted(final)
    for app, app_json in final.items():
        assert client.ok("GET", _path(app)) == {**app_json, "dynamic": False}

    # 3. The commit log ends with each app's final config, and replaying it gives exactly
    #    the successful writes, each once, in an order that respects real time.
    last: dict[str, str | None] = {}
    for vhost, app, logged in store.log:
        if vhost == VHOST:
            last[app] = logged
    for app in APPS:
        expected = canonical(final[app]) if app in final else None
        assert last.get(app, initial[app]) == expected, app
    check_commit_log(writes, store.log, initial)

    # 4. Each register holds the value of a write that no other write strictly followed.
    check_last_writes(writes, final)

    # 5. Readers saw whole configs that the engine ran (old or new, never half-made).
    for read in reads:
        if read.config is not None:
            assert read.config in engine_log.ran[read.app], read

    # 6. No app missing between two writes that both kept it.
    check_no_gap(writes, reads)
    successes = sum(w.status == 200 for w in writes)
    assert successes > len(writes) // 4, "too few writes succeeded to prove anything"
    assert sum(not r.present for r in reads) < len(reads), "readers never saw an app"


def _register_values(write: Write) -> dict[str, Any]:
    """What a successful write sets, per register of its app."""
    if write.kind == "create_app":
        return {"exists": True, "workers": None, **{p: None for p in PROFILES}}
    if write.kind == "delete_app":
        return {"exists": False}
    if write.kind == "patch_app":
        return {"workers": write.value}
    if write.kind in ("post_profile", "patch_profile"):
        return {write.profile: f"s{write.value}"}
    assert write.kind == "delete_profile"
    return {write.profile: None}


def _final_registers(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {"exists": False}
    listed = config.get("outputProfiles", {}).get("outputProfile", [])
    profiles = {p["name"]: p["outputStreamName"] for p in listed}
    return {
        "exists": True,
        "workers": config.get("publishers", {}).get("appWorkerCount"),
        **{p: profiles.get(p) for p in PROFILES},
    }


def _split(config: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An app config as its registers and the canonical JSON of everything else."""
    registers = _final_registers(config)
    rest = json.loads(canonical(config))
    rest.get("publishers", {}).pop("appWorkerCount", None)
    holder = rest.setdefault("outputProfiles", {})
    kept = [p for p in holder.get("outputProfile", []) if p["name"] not in PROFILES]
    holder["outputProfile"] = kept
    return registers, canonical(rest)


def check_commit_log(
    writes: list[Write], log: list[tuple[str, str, str | None]], initial: dict[str, str]
) -> None:
    """Infer one write from each commit; they must be the successful writes, each once."""
    fresh = {app: _split(json.loads(config)) for app, config in initial.items()}
    state: dict[str, tuple[dict[str, Any], str] | None] = dict(fresh)
    inferred: list[tuple[str, str, str, Any]] = []  # (kind, app, profile, value)
    position: dict[tuple[str, str, str, Any], int] = {}
    for index, (vhost, app, config) in enumerate(log):
        if vhost != VHOST or app not in state:
            continue
        before = state[app]
        after = None if config is None else _split(json.loads(config))
        state[app] = after
        op: tuple[str, str, str, Any]
        if before is None or after is None:
            if before is None and after is None:
                raise AssertionError(f"commit {index}: {app} deleted twice")
            if after is not None:  # a create: OME's defaults, nothing else
                assert after == fresh[app], f"commit {index}: {app} created with {after}"
            op = ("create_app" if before is None else "delete_app", app, "", None)
        else:
            assert after[1] == before[1], f"commit {index}: {app} changed outside the registers"
            changed = [r for r in after[0] if after[0][r] != before[0].get(r)]
            assert len(changed) == 1, f"commit {index}: {app} changed {changed}"
            register = changed[0]
            old, new = before[0][register], after[0][register]
            if register == "workers":
                op = ("patch_app", app, "", int(new))
            elif new is None:
                op = ("delete_profile", app, register, None)
            else:
                kind = "post_profile" if old is None else "patch_profile"
                op = (kind, app, register, int(new[1:]))
        inferred.append(op)
        if op[3] is not None:
            position[op] = index
    successes = [
        (w.kind, w.app, w.profile if "profile" in w.kind else "", w.value)
        for w in writes
        if w.status == 200
    ]

    def unvalued(op: tuple[str, str, str, Any]) -> tuple[str, str, str, Any]:
        return op if op[0] in ("patch_app", "post_profile", "patch_profile") else (*op[:3], None)

    assert sorted(map(unvalued, successes), key=repr) == sorted(inferred, key=repr)
    # real time: a write that finished before another began was committed first
    for app in APPS:
        valued = [
            w
            for w in writes
            if w.app == app and w.status == 200 and unvalued(_op(w))[3] is not None
        ]
        for first in valued:
            for second in valued:
                if first.end < second.start:
                    assert position[_op(first)] < position[_op(second)], (first, second)


def _op(write: Write) -> tuple[str, str, str, Any]:
    return (write.kind, write.app, write.profile if "profile" in write.kind else "", write.value)


def check_last_writes(writes: list[Write], final: dict[str, dict[str, Any]]) -> None:
    initial_registers = {"exists": True, "workers": None, **{p: None for p in PROFILES}}
    for app in APPS:
        registers = _final_registers(final.get(app))
        for register, value in registers.items():
            setters = [
                (w, v)
                for w in writes
                if w.app == app and w.status == 200
                for r, v in _register_values(w).items()
                if r == register
            ]
            if not setters:
                assert value == initial_registers[register], (app, register)
                continue
            latest_start = max(w.start for w, _ in setters)
            # the writes that no other successful write on this register strictly followed
            candidates = {v for w, v in setters if w.end > latest_start}
            assert value in candidates, (app, register, value, candidates)


def check_no_gap(writes: list[Write], reads: list[Read]) -> None:
    for app in APPS:
        mine = [w for w in writes if w.app == app and w.status == 200]
        keeps = [w for w in mine if w.kind in KEEPS]
        needs = [w for w in mine if w.kind in NEEDS]
        deletes = [w for w in mine if w.kind == "delete_app"]
        for read in reads:
            if read.app != app or read.present:
                continue
            before = [w for w in keeps if w.end < read.start]
            if not before or not any(w.start > read.end for w in needs):
                continue
            w1 = max(before, key=lambda w: w.start)
            # a delete that may have taken effect after W1 and before the read
            excused = any(d.end > w1.start and d.start < read.end for d in deletes)
            assert excused, f"{app} missing at {read} between {w1} and a later write"


# -- parallel apps, serial app ---------------------------------------------------------------


class TrackingEngine(SimulatedEngine):
    """Counts restarts in progress: per app and in total (each takes ``operation_delay``)."""

    def __init__(self, delay: float) -> None:
        super().__init__(operation_delay=delay)
        self._guard = threading.Lock()
        self.active: dict[str, int] = defaultdict(int)
        self.max_per_app: dict[str, int] = defaultdict(int)
        self.total = 0
        self.max_total = 0

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        with self._guard:
            self.active[old.name] += 1
            self.total += 1
            self.max_per_app[old.name] = max(self.max_per_app[old.name], self.active[old.name])
            self.max_total = max(self.max_total, self.total)
        try:
            return super().restart_application(vhost, old, new)
        finally:
            with self._guard:
                self.active[old.name] -= 1
                self.total -= 1


DELAY = 0.15


def _patch_all(client: Client, apps: list[str]) -> float:
    """PATCH each app of ``apps`` from its own thread, all at once; seconds taken."""
    barrier = threading.Barrier(len(apps) + 1)
    statuses: list[int] = []

    def patch(index: int, app: str) -> None:
        barrier.wait()
        body = {"publishers": {"appWorkerCount": index + 1}}
        statuses.append(client.request("PATCH", _path(app), body).status)

    threads = [threading.Thread(target=patch, args=(i, a)) for i, a in enumerate(apps)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * len(apps)
    return time.monotonic() - began


@pytest.fixture
def tracked() -> tuple[Client, TrackingEngine]:
    engine = TrackingEngine(DELAY)
    client = Client(make_api(engine))
    client.create_vhost(VHOST, *APPS)
    return client, engine


def test_different_apps_restart_in_parallel(tracked: tuple[Client, TrackingEngine]) -> None:
    client, engine = tracked
    elapsed = _patch_all(client, list(APPS))
    assert engine.max_total >= 2
    assert all(engine.max_per_app[app] == 1 for app in APPS)
    # one restart takes DELAY; four in a row would take 4 × DELAY
    assert elapsed < 3 * DELAY, f"{elapsed:.3f} s: restarts of different apps did not overlap"


def test_same_app_changes_are_serialised(tracked: tuple[Client, TrackingEngine]) -> None:
    client, engine = tracked
    elapsed = _patch_all(client, ["a0"] * 4)
    assert engine.max_per_app["a0"] == 1
    assert elapsed >= 4 * DELAY * 0.95
    assert engine.generation(VHOST, "a0") == 4
    workers = client.ok("GET", _path("a0"))["publishers"]["appWorkerCount"]
    assert workers in {1, 2, 3, 4}
