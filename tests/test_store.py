"""The store suite (issue 8), one suite parametrised by store: SQLite and PostgreSQL.

Stores on their own (changes, preconditions, counter, audit, locks across processes), then
the API over a store: the restart round trip, Server.xml names winning over stored ones,
two API nodes sharing one store (visibility on the next request, changes reaching the
other node's engine, one 200 and one 409, serialised restarts), secrets kept out of the
audit log, a store that fails.  PostgreSQL cases need ``$OMEAPI_TEST_POSTGRES``
(see ``store_support``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_XML, Client, app_body, make_api, profile_body
from store_support import STORE_KINDS, fresh_location, server_xml_with_storage

from omeapi import Api, open_api
from omeapi._config import ApplicationConfig, parse_server_xml
from omeapi._engine.protocol import RestartOutcome
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.restart import AppEvent
from omeapi._stores.base import AuditEntry, Change, Store, StoreConflict, StoreState
from omeapi._stores.memory import MemoryStore
from omeapi._stores.open import open_store

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ome-access-token"


@pytest.fixture(params=STORE_KINDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store location (a SQLite directory, or a PostgreSQL URL with its own schema)."""
    yield from fresh_location(request.param, tmp_path)


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    opened = open_store(location)
    yield opened
    opened.close()


@pytest.fixture
def nodes(location: str) -> Iterator[Callable[..., Api]]:
    """``nodes(engine=None, **options)``: an API over the test Server.xml and the store
    (each one like a worker process or a machine of its own); all closed afterwards."""
    made: list[Api] = []

    def factory(
        engine: SimulatedEngine | None = None, *, follow: bool = True, **options: Any
    ) -> Api:
        api = make_api(engine, store=location, **options)
        if follow:
            api.start()  # as a server does
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def audit(path: str = "/v1/vhosts", summary: Any = None) -> AuditEntry:
    return AuditEntry(time.time(), "192.0.2.7", "POST", path, summary or {"change": "test"})


def shape(state: StoreState) -> list[tuple[str, int, list[tuple[str, int, Any]]]]:
    return [
        (v.name, v.revision, [(a.name, a.revision, a.config) for a in v.apps]) for v in state.vhosts
    ]


# -- the store on its own -------------------------------------------------------------------


def test_changes_counter_and_order(store: Store) -> None:
    assert store.shared
    assert store.version() == 0
    assert store.load() == StoreState(0, ())
    assert (
        store.apply(
            Change(
                Change.CREATE_VHOST,
                "b",
                config={"name": "b"},
                apps=(("x", {"name": "x"}), ("y", {"name": "y"})),
                audit=audit(),
            )
        )
        == 1
    )
    assert store.apply(Change(Change.CREATE_VHOST, "a", config={"name": "a"}, audit=audit())) == 2
    assert store.apply(Change(Change.CREATE_APP, "b", "z", config={"name": "z"})) == 3
    assert store.apply(Change(Change.UPDATE_APP, "b", "x", config={"name": "x", "v": 2})) == 4
    assert store.version() == 4
    state = store.load()
    assert state.version == 4
    # vhosts in creation order (not by name), apps in creation order, a change keeps its place
    assert shape(state) == [
        (
            "b",
            1,
            [("x", 4, {"name": "x", "v": 2}), ("y", 1, {"name": "y"}), ("z", 3, {"name": "z"})],
        ),
        ("a", 2, []),
    ]
    assert state.vhosts[0].config == {"name": "b"}
    assert store.apply(Change(Change.DELETE_APP, "b", "y")) == 5
    assert store.apply(Change(Change.DELETE_VHOST, "b")) == 6
    # created again: no app of the deleted one comes back
    assert store.apply(Change(Change.CREATE_VHOST, "b", config={"name": "b"})) == 7
    assert shape(store.load()) == [("a", 2, []), ("b", 7, [])]


PRECONDITIONS = [
    (Change(Change.CREATE_VHOST, "v", config={}), Change.VHOST_EXISTS),
    (Change(Change.DELETE_VHOST, "w"), Change.VHOST_MISSING),
    (Change(Change.CREATE_APP, "w", "x", config={}), Change.VHOST_MISSING),
    (Change(Change.CREATE_APP, "v", "a", config={}), Change.APP_EXISTS),
    (Change(Change.UPDATE_APP, "v", "b", config={}), Change.APP_MISSING),
    (Change(Change.UPDATE_APP, "w", "a", config={}), Change.VHOST_MISSING),
    (Change(Change.DELETE_APP, "v", "b"), Change.APP_MISSING),
]


@pytest.mark.parametrize(("change", "reason"), PRECONDITIONS, ids=[p[1] for p in PRECONDITIONS])
def test_a_failed_precondition_writes_nothing(store: Store, change: Change, reason: str) -> None:
    store.apply(
        Change(Change.CREATE_VHOST, "v", config={"name": "v"}, apps=(("a", {"name": "a"}),))
    )
    before = (store.version(), shape(store.load()), store.audit_log())
    with pytest.raises(StoreConflict) as caught:
        store.apply(Change(change.kind, change.vhost, change.app, change.config, audit=audit()))
    assert caught.value.reason == reason
    assert (store.version(), shape(store.load()), store.audit_log()) == before


def test_audit_records_are_written_with_their_change(store: Store) -> None:
    store.apply(Change(Change.CREATE_VHOST, "v", config={"name": "v"}, audit=audit()))
    later = time.time() + 3600
    store.apply(
        Change(
            Change.DELETE_VHOST,
            "v",
            audit=AuditEntry(later, "198.51.100.2", "DELETE", "/v1/vhosts/v", {"x": [1]}),
        )
    )
    store.apply(Change(Change.CREATE_VHOST, "w", config={"name": "w"}))  # no audit given
    records = store.audit_log()
    assert [(r.version, r.client, r.method, r.path) for r in records] == [
        (1, "192.0.2.7", "POST", "/v1/vhosts"),
        (2, "198.51.100.2", "DELETE", "/v1/vhosts/v"),
    ]
    assert records[1].summary == {"x": [1]}
    assert records[1].time == pytest.approx(later)
    assert records[0].node.endswith(f":{os.getpid()}")
    assert [r.version for r in store.audit_log(since=later - 1)] == [2]


def test_a_reopened_store_holds_everything(location: str, store: Store) -> None:
    store.apply(Change(Change.CREATE_VHOST, "v", config={"name": "v"}, apps=(("a", {"n": 1}),)))
    store.apply(Change(Change.UPDATE_APP, "v", "a", config={"n": 2}, audit=audit()))
    before = shape(store.load())
    store.close()
    again = open_store(location)
    try:
        assert again.version() == 2
        assert shape(again.load()) == before
        assert len(again.audit_log()) == 1
    finally:
        again.close()


def test_a_change_notifies_the_watchers_of_a_store(location: str, store: Store) -> None:
    other = open_store(location)
    calls: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=other.watch, args=(lambda: calls.append(1.0), stop))
    try:
        if not getattr(other, "notifies", False):
            assert other.watch(lambda: calls.append(1.0), stop) is False  # polled instead
            return
        watcher.start()
        wait_until(lambda: len(calls) >= 1)  # called once on (re)connecting
        before = len(calls)
        store.apply(Change(Change.CREATE_VHOST, "v", config={"name": "v"}))
        wait_until(lambda: len(calls) > before)
        with pytest.raises(StoreConflict):  # a rolled-back change notifies nobody
            store.apply(Change(Change.CREATE_VHOST, "v", config={"name": "v"}))
        settled = len(calls)
        time.sleep(1.0)
        assert len(calls) == settled
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(10)
        other.close()


LOCK_HOLDER = """
import sys, time
from omeapi._stores.open import open_store
store = open_store(sys.argv[1])
with store.lock("app [\\"v\\", \\"a\\"]"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_locks_hold_across_processes_and_die_with_their_holder(store: Store, location: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "adapters")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, location],
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"locked"
        got = threading.Event()

        def take() -> None:
            with store.lock('app ["v", "a"]'):
                got.set()

        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        assert not got.wait(0.5), "the lock was taken while another process held it"
        with store.lock('app ["v", "b"]'):  # another name is free
            pass
        holder.send_signal(signal.SIGKILL)  # no chance to unlock: the OS / server must
        assert got.wait(10), "the lock of a killed process was never released"
        taker.join(5)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


# -- the API over a store -----------------------------------------------------------------


def test_restart_round_trip(tmp_path: Path, location: str) -> None:
    """Create through the API, stop, start: GET shows it and the engine runs it."""
    relative = "postgres" not in location
    # A relative <Path> is resolved against the config directory, as OME resolves it.
    config = tmp_path / "conf" / "Server.xml"
    config.parent.mkdir()
    xml = server_xml_with_storage(SERVER_XML, "api_data" if relative else location)
    config.write_text(xml)
    first = open_api(config, environ={}, engine=SimulatedEngine(), brake=False)
    client = Client(first)
    client.ok(
        "POST",
        "/v1/vhosts",
        [{"name": "live", "host": {"names": ["live.example.com"]}}, {"name": "second"}],
    )
    client.ok(
        "POST",
        "/v1/vhosts/live/apps",
        [{"name": "a", "type": "live"}, {"name": "b", "type": "live"}],
    )
    client.ok("POST", "/v1/vhosts/live/apps/a/outputProfiles", [profile_body("p")])
    client.ok("PATCH", "/v1/vhosts/live/apps/a", {"publishers": {"appWorkerCount": 3}})
    client.ok("DELETE", "/v1/vhosts/live/apps/b")
    client.ok("DELETE", "/v1/vhosts/second")
    paths = [
        "/v1/vhosts",
        "/v1/vhosts/live",
        "/v1/vhosts/live/apps",
        "/v1/vhosts/live/apps/a",
        "/v1/vhosts/live/apps/a/outputProfiles",
        "/v1/vhosts/live/apps/a/outputProfiles/p",
        "/v1/vhosts/default/apps/app",
    ]
    before = {path: client.ok("GET", path) for path in paths}
    assert before["/v1/vhosts"] == ["default", "live"]
    first.close()

    engine = SimulatedEngine()
    second = open_api(config, environ={}, engine=engine, brake=False)
    try:
        again = Client(second)
        assert {path: again.ok("GET", path) for path in paths} == before
        running = engine.application("live", "a")
        assert running is not None
        app_json = dict(before["/v1/vhosts/live/apps/a"])
        del app_json["dynamic"]
        assert running.to_json() == app_json
        assert engine.virtual_hosts() == ["default", "live"]
        assert set(engine.applications()) == {("default", "app"), ("live", "a")}
        # and it is still writable after the restart
        again.ok("DELETE", "/v1/vhosts/live")
        assert again.ok("GET", "/v1/vhosts") == ["default"]
    finally:
        second.close()
    assert config.read_text() == xml  # Server.xml is never written
    if relative:
        assert (config.parent / "api_data" / "omeapi.sqlite3").is_file()


def test_a_stored_vhost_declared_in_server_xml_is_skipped(
    location: str, store: Store, nodes: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    # Stored while Server.xml did not declare "default"; now it does.
    store.apply(Change(Change.CREATE_VHOST, "default", config={"name": "default"}))
    store.apply(Change(Change.CREATE_VHOST, "other", config={"name": "other"}))
    with caplog.at_level(logging.WARNING, logger="omeapi"):
        api = nodes()
    client = Client(api)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0]
    assert "[default]" in text and store.location in text and "Server.xml" in text
    assert client.ok("GET", "/v1/vhosts") == ["default", "other"]
    assert client.ok("GET", "/v1/vhosts/default/apps") == ["app"]  # Server.xml's
    assert client.request("DELETE", "/v1/vhosts/default").status == 403
    # nothing deleted silently
    assert [v.name for v in store.load().vhosts] == ["default", "other"]


def test_an_unreadable_stored_config_is_left_out_and_kept(
    store: Store, nodes: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    # e.g. written by another version of omeapi
    good = {"name": "good", "type": "live"}
    store.apply(
        Change(
            Change.CREATE_VHOST,
            "v",
            config={"name": "v"},
            apps=(("bad", {"name": "bad", "type": "live", "noSuchKey": 1}), ("good", good)),
        )
    )
    with caplog.at_level(logging.ERROR, logger="omeapi"):
        client = Client(nodes())
        assert client.ok("GET", "/v1/vhosts/v/apps") == ["good"]
        Client(nodes()).ok("POST", "/v1/vhosts/v/apps", [app_body("more")])
        assert client.ok("GET", "/v1/vhosts/v/apps") == ["good", "more"]  # reloaded
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    # once per node (each reads it at start), not again when reloading
    assert len(errors) == 2 and all("stored application [v/bad]" in e for e in errors)
    assert [a.name for a in store.load().vhosts[0].apps] == ["bad", "good", "more"]


def test_a_change_is_visible_on_the_next_request_to_another_node(
    nodes: Callable[..., Api],
) -> None:
    a, b = Client(nodes()), Client(nodes())
    for i in range(5):
        a.ok("POST", "/v1/vhosts", [{"name": f"v{i}"}])
        assert b.ok("GET", f"/v1/vhosts/v{i}")["name"] == f"v{i}"  # no wait
        b.ok("POST", f"/v1/vhosts/v{i}/apps", [{"name": "a", "type": "live"}])
        assert a.ok("GET", f"/v1/vhosts/v{i}/apps") == ["a"]
        a.ok("PATCH", f"/v1/vhosts/v{i}/apps/a", {"publishers": {"appWorkerCount": i + 2}})
        got = b.ok("GET", f"/v1/vhosts/v{i}/apps/a")
        assert got["publishers"]["appWorkerCount"] == i + 2
        b.ok("DELETE", f"/v1/vhosts/v{i}/apps/a")
        assert a.request("GET", f"/v1/vhosts/v{i}/apps/a").status == 404
    assert a.ok("GET", "/v1/vhosts") == b.ok("GET", "/v1/vhosts")


def test_changes_made_through_another_node_reach_this_engine(
    nodes: Callable[..., Api],
) -> None:
    """Node B gets no request at all: its follower notices the store (LISTEN/NOTIFY or
    polling) and applies every change to its engine through its restart coordinator."""
    engine_b = SimulatedEngine()
    a, b = Client(nodes()), nodes(engine_b)
    events: list[AppEvent] = []
    b.coordinator.subscribe(events.append)

    a.ok("POST", "/v1/vhosts", [{"name": "shared"}])
    a.ok("POST", "/v1/vhosts/shared/apps", [{"name": "x", "type": "live"}])
    wait_until(lambda: engine_b.application("shared", "x") is not None)
    assert engine_b.virtual_hosts() == ["default", "shared"]
    engine_b.publish("shared", "x", "s1", viewers=2)

    a.ok("POST", "/v1/vhosts/shared/apps/x/outputProfiles", [profile_body("p")])
    wait_until(lambda: engine_b.generation("shared", "x") == 1)
    running = engine_b.application("shared", "x")
    assert running is not None and running.profile("p") is not None
    wait_until(lambda: bool(events))
    assert events[0].kind == "restart" and events[0].cause == "store"
    assert events[0].sessions_dropped == 3

    a.ok("DELETE", "/v1/vhosts/shared/apps/x")
    wait_until(lambda: engine_b.application("shared", "x") is None)
    a.ok("DELETE", "/v1/vhosts/shared")
    wait_until(lambda: engine_b.virtual_hosts() == ["default"])
    assert b.registry.snapshot.vhosts.keys() == {"default"}


def test_a_vhost_deleted_and_created_again_elsewhere_is_restarted_here(
    nodes: Callable[..., Api],
) -> None:
    """Node B follows by hand (no thread), so that it sees the delete and the new vhost
    only together."""
    engine_b = SimulatedEngine()
    a, b = Client(nodes()), nodes(engine_b, follow=False)

    def follow() -> None:
        b.registry.refresh()
        b.coordinator.reconcile()

    a.ok("POST", "/v1/vhosts", [{"name": "re", "host": {"names": ["a.example.com"]}}])
    a.ok("POST", "/v1/vhosts/re/apps", [app_body("x"), app_body("same")])
    follow()
    assert set(engine_b.applications()) == {("default", "app"), ("re", "x"), ("re", "same")}
    a.ok("DELETE", "/v1/vhosts/re")
    a.ok("POST", "/v1/vhosts", [{"name": "re", "host": {"names": ["b.example.com"]}}])
    a.ok("POST", "/v1/vhosts/re/apps", [app_body("y"), app_body("same")])
    mark = len(engine_b.calls)
    follow()
    assert set(engine_b.applications()) == {("default", "app"), ("re", "y"), ("re", "same")}
    calls = engine_b.calls[mark:]
    # the vhost itself was replaced (its host names changed), its apps with it
    assert calls.index(("delete_virtual_host", "re", "")) < calls.index(
        ("create_virtual_host", "re", "")
    )
    assert ("create_application", "re", "same") in calls
    follow()  # nothing more to do
    assert len(engine_b.calls) == mark + len(calls)


def test_two_nodes_creating_the_same_vhost_get_one_200_and_one_409(
    nodes: Callable[..., Api],
) -> None:
    clients = [Client(nodes()), Client(nodes())]

    def create(client: Client, name: str, barrier: threading.Barrier, out: list[int]) -> None:
        barrier.wait()
        out.append(client.request("POST", "/v1/vhosts", [{"name": name}]).status)

    for round_ in range(6):
        barrier = threading.Barrier(2)
        statuses: list[int] = []
        threads = [
            threading.Thread(target=create, args=(c, f"race{round_}", barrier, statuses))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(statuses) == [200, 409]
    assert clients[0].ok("GET", "/v1/vhosts") == ["default", *(f"race{i}" for i in range(6))]


class TimedEngine(SimulatedEngine):
    """Records when each restart (or start) ran: one list for the two nodes' engines."""

    def __init__(self, spans: list[tuple[float, float]]) -> None:
        super().__init__(operation_delay=0.02)
        self.spans = spans

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        start = time.monotonic()
        try:
            return super().restart_application(vhost, old, new)
        finally:
            self.spans.append((start, time.monotonic()))

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        start = time.monotonic()
        try:
            super().create_application(vhost, app)
        finally:
            self.spans.append((start, time.monotonic()))


def test_restarts_of_one_app_are_serialised_across_nodes(
    nodes: Callable[..., Api], store: Store
) -> None:
    spans: list[tuple[float, float]] = []
    first = nodes(TimedEngine(spans), follow=False)
    second = nodes(TimedEngine(spans), follow=False)
    clients = [Client(first), Client(second)]
    clients[0].create_vhost("shared", "a")
    spans.clear()
    count = 8
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def add(i: int) -> None:
        barrier.wait()
        response = clients[i % 2].request(
            "POST", "/v1/vhosts/shared/apps/a/outputProfiles", [profile_body(f"p{i}")]
        )
        statuses.append(response.status)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * count
    # no lost update: every profile is there, on both nodes
    expected = {"default", *(f"p{i}" for i in range(count))}
    for client in clients:
        assert set(client.ok("GET", "/v1/vhosts/shared/apps/a/outputProfiles")) == expected
    # the restarts themselves never overlapped, whichever node ran them
    ordered = sorted(spans)
    assert len(ordered) == count
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert end <= start
    changes = [r for r in store.audit_log() if r.summary.get("change") == "update_app"]
    assert len(changes) == count


def test_the_audit_log_names_request_and_change_without_secrets(
    location: str, store: Store, nodes: Callable[..., Api]
) -> None:
    client = Client(nodes(), client="203.0.113.9")
    policy = {
        "policyQueryKeyName": "policy",
        "signatureQueryKeyName": "signature",
        "secretKey": "vhost-secret-value",
        "enables": {"providers": "rtmp", "publishers": "webrtc"},
    }
    client.ok("POST", "/v1/vhosts", [{"name": "s", "signedPolicy": policy}])
    client.ok("POST", "/v1/vhosts/s/apps", [{"name": "a", "type": "live"}])
    hook = {
        "enable": True,
        "controlServerUrl": "http://127.0.0.1:9/hook",
        "secretKey": "app-secret-value",
    }
    client.ok("PATCH", "/v1/vhosts/s/apps/a", {"transcodeWebhook": hook})
    hook["secretKey"] = "changed-secret-value"
    client.ok("PATCH", "/v1/vhosts/s/apps/a", {"transcodeWebhook": hook})
    client.ok("DELETE", "/v1/vhosts/s/apps/a")
    client.ok("DELETE", "/v1/vhosts/s")
    assert client.request("DELETE", "/v1/vhosts/s").status == 404  # failures are not logged
    records = store.audit_log()
    assert [(r.client, r.method, r.path, r.summary["change"]) for r in records] == [
        ("203.0.113.9", "POST", "/v1/vhosts", "create_vhost"),
        ("203.0.113.9", "POST", "/v1/vhosts/s/apps", "create_app"),
        ("203.0.113.9", "PATCH", "/v1/vhosts/s/apps/a", "update_app"),
        ("203.0.113.9", "PATCH", "/v1/vhosts/s/apps/a", "update_app"),
        ("203.0.113.9", "DELETE", "/v1/vhosts/s/apps/a", "delete_app"),
        ("203.0.113.9", "DELETE", "/v1/vhosts/s", "delete_vhost"),
    ]
    assert records[0].summary["config"]["signedPolicy"]["secretKey"] == "***"
    hook["secretKey"] = "***"
    assert records[2].summary["changed"] == {"transcodeWebhook": hook}
    # a changed secret: that it changed, not what to
    assert records[3].summary["changed"] == {"transcodeWebhook.secretKey": "***"}
    text = json.dumps([r.summary for r in records])
    assert "secret-value" not in text
    if "postgres" not in location:
        # Nowhere in the files: not the token, not the secrets (the configs are deleted).
        store.close()
        data = b"".join(
            p.read_bytes() for p in Path(location).glob("omeapi.sqlite3*") if p.is_file()
        )
        assert TOKEN.encode() not in data


def test_a_failing_store_refuses_changes_with_503_and_still_answers_reads(
    nodes: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    api = nodes()
    client = Client(api)
    client.create_vhost("v", "a")
    api.store.close()  # as if the database went away
    with caplog.at_level(logging.ERROR, logger="omeapi"):
        assert client.ok("GET", "/v1/vhosts/v/apps") == ["a"]
        for method, path, body in [
            ("POST", "/v1/vhosts", [{"name": "w"}]),
            ("PATCH", "/v1/vhosts/v/apps/a", {"publishers": {"appWorkerCount": 2}}),
            ("DELETE", "/v1/vhosts/v/apps/a", None),
            ("DELETE", "/v1/vhosts/v", None),
        ]:
            response = client.request(method, path, body)
            assert (response.status, response.body) == (
                503,
                b'{"message":"[HTTP] The API storage is unavailable (503)","statusCode":503}',
            )
    assert client.ok("GET", "/v1/vhosts/v/apps") == ["a"]
    engine = client.engine
    assert engine.application("v", "a") is not None  # nothing half-done on the engine


# -- without a store (memory) ----------------------------------------------------------------


def test_the_memory_store_keeps_an_audit_log_too() -> None:
    api = make_api()
    assert isinstance(api.store, MemoryStore) and not api.store.shared
    client = Client(api)
    client.create_vhost("v", "a")
    assert [r.summary["change"] for r in api.store.audit_log()] == ["create_vhost", "create_app"]
    assert api.follower is None


def test_the_memory_store_is_the_default_and_storage_turns_sqlite_on(tmp_path: Path) -> None:
    config = parse_server_xml(SERVER_XML, environ={})
    assert isinstance(open_api(config, brake=False).store, MemoryStore)
    path = tmp_path / "Server.xml"
    path.write_text(server_xml_with_storage(SERVER_XML, None, enabled=False))
    assert isinstance(open_api(path, environ={}, brake=False).store, MemoryStore)
    # <Storage> without <Path>: OME's default conf/api_data, resolved like a written path
    path.write_text(server_xml_with_storage(SERVER_XML, None))
    api = open_api(path, environ={}, brake=False)
    try:
        assert api.store.location == str(tmp_path / "conf" / "api_data" / "omeapi.sqlite3")
        assert api.follower is not None
    finally:
        api.close()


# -- where the store is ------------------------------------------------------------------------


def config_with(tmp_path: Path, storage: str) -> Any:
    path = tmp_path / "conf" / "Server.xml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SERVER_XML.replace("<AccessToken>", storage + "<AccessToken>"))
    from omeapi._config import load_server_config

    return load_server_config(path, environ={})


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ("", None),
        ("<Storage><Enabled>false</Enabled><Path>x</Path></Storage>", None),
        ("<Storage/>", "{conf}/conf/api_data/omeapi.sqlite3"),
        ("<Storage><Path>data</Path></Storage>", "{conf}/data/omeapi.sqlite3"),
        ("<Storage><Path>/srv/omeapi/api.db</Path></Storage>", "/srv/omeapi/api.db"),
        ("<Storage><Path>/srv/omeapi/</Path></Storage>", "/srv/omeapi/omeapi.sqlite3"),
        (
            "<Storage><Path>postgresql://api@db.example.com/ome</Path></Storage>",
            "postgresql://api@db.example.com/ome",
        ),
    ],
)
def test_storage_path(tmp_path: Path, storage: str, expected: str | None) -> None:
    from omeapi._stores.open import store_location

    config = config_with(tmp_path, storage)
    conf = str(tmp_path / "conf")
    assert store_location(config) == (None if expected is None else expected.format(conf=conf))


def test_store_option_wins_over_storage(tmp_path: Path) -> None:
    from omeapi._stores.open import store_location

    config = config_with(tmp_path, "<Storage><Path>data</Path></Storage>")
    assert store_location(config, "memory") is None
    assert store_location(config, "postgres://h/db") == "postgres://h/db"
    assert store_location(config, str(tmp_path / "x.sqlite")) == str(tmp_path / "x.sqlite")
    assert store_location(config, str(tmp_path)) == str(tmp_path / "omeapi.sqlite3")


# -- omeapi audit ---------------------------------------------------------------------------------


def test_omeapi_audit_prints_the_log(
    location: str, nodes: Callable[..., Api], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from omeapi.cli import main

    client = Client(nodes(), client="198.51.100.4")
    client.create_vhost("v", "a")
    client.ok("PATCH", "/v1/vhosts/v/apps/a", {"publishers": {"appWorkerCount": 4}})
    capsys.readouterr()
    assert main(["audit", "--store", location]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert " #1 198.51.100.4 POST /v1/vhosts " in lines[0]
    assert '"change":"create_vhost"' in lines[0]
    assert " #3 198.51.100.4 PATCH /v1/vhosts/v/apps/a " in lines[2]
    assert '"changed":{"publishers.appWorkerCount":4}' in lines[2]
    assert TOKEN not in "".join(lines)

    assert main(["audit", "--store", location, "--json", "--since", "1h"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["version"] for r in records] == [1, 2, 3]
    assert records[1]["summary"]["app"] == "a" and records[1]["method"] == "POST"
    assert main(["audit", "--store", location, "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""

    # through the Server.xml naming the store
    config = tmp_path / "Server.xml"
    config.write_text(server_xml_with_storage(SERVER_XML, location))
    assert main(["audit", str(config), "--since", str(time.time() - 3600)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_omeapi_audit_without_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from omeapi.cli import main

    config = tmp_path / "Server.xml"
    config.write_text(SERVER_XML)
    assert main(["audit", str(config)]) == 1
    assert "keeps no store" in capsys.readouterr().err
    assert main(["audit", "--store", str(tmp_path / "nothing")]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()  # reading created nothing
    assert main(["audit", "--store", str(tmp_path), "--since", "yesterday-ish"]) == 2
    assert "--since" in capsys.readouterr().err


def test_tokens_and_events_round_trip_through_every_store(store: Store) -> None:
    """Scoped tokens (hashed) and the event feed's records, in every kind of store
    (PostgreSQL too, where CI provides one): written, read back, revoked, ordered."""
    from omeapi._access.tokens import new_token
    from omeapi._stores.base import StoreConflict as Conflict

    secret, stored = new_token("ops", read_only=True, vhosts=["b", "a"])
    before = store.version()
    store.add_token(stored)
    assert store.version() > before  # every worker and machine sees it at its next request
    state = store.load()
    assert [(t.name, t.read_only, t.vhosts) for t in state.tokens] == [("ops", True, ("a", "b"))]
    assert secret not in repr(state.tokens) and state.tokens[0].digest == stored.digest
    with pytest.raises(Conflict):
        store.add_token(stored)
    assert store.revoke_token("ops") == stored
    assert store.load().tokens == ()
    assert store.revoke_token("ops") is None

    first = store.append_event("config.changed", "a", {"by": "admin"}, 1.0)
    second = store.append_event("stream.started", "", {"stream": "s"}, 2.0)
    assert second > first == store.events_after(0)[0].id
    assert [(e.kind, e.vhost, e.data) for e in store.events_after(first)] == [
        ("stream.started", "", {"stream": "s"})
    ]
    assert store.last_event_id() == second
