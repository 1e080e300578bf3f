"""The restart coordinator called directly: it speaks the domain (never HTTP), owns each
app's lifecycle state, and runs a change's mutation outside its locks.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from conftest import Client, deadline, make_api

from omeapi._config import (
    ApplicationConfig,
    VirtualHostConfig,
    application_from_json,
    virtual_host_from_json,
)
from omeapi._controllers import apps
from omeapi._controllers.outcomes import Outcomes, answering
from omeapi._engine.protocol import EngineError, RestartOutcome
from omeapi._errors import (
    ApiError,
    AppNotFound,
    AppOperationError,
    EngineResult,
    StoreConflict,
    StoreError,
)
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.lifecycle import Phase, running
from omeapi._state.registry import AppEntry
from omeapi._state.restart import STORE_CAUSE, AppEvent, RestartCoordinator
from omeapi._stores.base import Change
from omeapi._stores.memory import MemoryStore


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """A deadlock or an endless loop in the coordinator fails the test instead of hanging."""
    with deadline(10.0):
        yield


@pytest.fixture
def client() -> Client:
    client = Client(make_api())
    client.create_vhost("vh", "a")
    return client


def coordinator(client: Client) -> RestartCoordinator:
    return client.api.coordinator


def logged(caplog: Any, level: int = logging.WARNING) -> list[str]:
    """The whole messages logged on ``omeapi`` at ``level`` or above."""
    return [r.getMessage() for r in caplog.records if r.name == "omeapi" and r.levelno >= level]


def workers(count: int) -> Callable[[ApplicationConfig], ApplicationConfig]:
    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        body = {**current.json_value, "publishers": {"appWorkerCount": count}}
        return application_from_json(body)

    return mutate


# fmt: off
#: (the action's outcome table, error, status, OME's text)
OUTCOME_ROWS = [
    (apps.APP_CHANGE, AppOperationError("create", "v", "a", EngineResult.FAILED), 500,
     "Failed to create the application: [v/a]"),
    (apps._DELETE, AppOperationError("delete", "v", "a", EngineResult.FAILED), 500,
     "Failed to delete the application: [v/a]"),
    (apps.APP_CHANGE, AppOperationError("create", "v", "a", EngineResult.EXISTS), 409,
     "Could not create the application: [v/a] already exists"),
    (apps._DELETE, AppOperationError("delete", "v", "a", EngineResult.NOT_EXISTS), 404,
     "Could not delete the application: [v/a] not exists"),
    (apps.APP_CHANGE, AppNotFound("v", "a"), 404, "Could not find the application: [v/a]"),
]
# fmt: on


@pytest.mark.parametrize(("table", "error", "status", "text"), OUTCOME_ROWS)
def test_domain_errors_map_to_omes_answers(
    table: Outcomes, error: AppOperationError | AppNotFound, status: int, text: str
) -> None:
    with pytest.raises(ApiError) as mapped, answering(table, vhost="v", app="a"):
        raise error
    assert (mapped.value.status, mapped.value.text) == (status, text)


def test_the_coordinator_raises_domain_errors(client: Client) -> None:
    coord = coordinator(client)
    app = application_from_json({"name": "a", "type": "live"})
    mark = len(client.engine.calls)
    with pytest.raises(AppOperationError) as created:
        coord.create_app("vh", app)
    assert (created.value.op, created.value.result) == ("create", EngineResult.EXISTS)
    assert client.engine.calls[mark:] == []  # refused before the engine is touched
    with pytest.raises(AppOperationError) as deleted:
        coord.delete_app("vh", "nope")
    assert (deleted.value.op, deleted.value.result) == ("delete", EngineResult.NOT_EXISTS)
    with pytest.raises(AppNotFound):
        coord.change_app("vh", "nope", lambda c: c, "test")
    client.engine.fail_next("restart_application")
    with pytest.raises(AppOperationError) as changed:
        coord.change_app("vh", "a", workers(5), "test")
    assert not isinstance(changed.value, ApiError)
    assert (changed.value.op, changed.value.result) == ("create", EngineResult.FAILED)


def test_failed_is_the_lifecycle_state(client: Client) -> None:
    coord = coordinator(client)
    assert coord.state("vh", "a").phase is Phase.RUNNING
    client.engine.fail_next("restart_application")
    client.engine.fail_next("create_application")
    with pytest.raises(AppOperationError):
        coord.change_app("vh", "a", workers(5), "test")
    assert coord.failed("vh", "a")
    entry = client.api.registry.app("vh", "a")
    assert entry is not None and coord.state("vh", "a").config is entry.config
    coord.delete_app("vh", "a")  # the engine does not have it: deleting forgets it
    assert coord.state("vh", "a").phase is Phase.ABSENT
    assert not coord.failed("vh", "a")


def test_mutation_runs_outside_the_app_lock(client: Client) -> None:
    coord = coordinator(client)
    held: list[bool] = []

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        held.append(coord.app_lock("vh", "a").locked())
        return application_from_json({**current.json_value, "publishers": {}})

    coord.change_app("vh", "a", mutate, "test")
    assert held == [False]


def test_a_change_committed_meanwhile_is_not_lost(client: Client) -> None:
    """The mutation is computed from the entry it saw and committed only if that entry
    is still there; otherwise it is computed again from the new one."""
    coord = coordinator(client)
    seen: list[object] = []

    def add_thread_pool(current: ApplicationConfig) -> ApplicationConfig:
        publishers = current.json_value.get("publishers")
        seen.append(publishers)
        if len(seen) == 1:  # another request commits first (no lock is held here)
            done = threading.Thread(target=coord.change_app, args=("vh", "a", workers(7), "other"))
            done.start()
            done.join()
        assert isinstance(publishers, dict)
        return application_from_json(
            {**current.json_value, "publishers": {**publishers, "streamWorkerCount": 3}}
        )

    entry = coord.change_app("vh", "a", add_thread_pool, "test")
    assert seen[1] == {"appWorkerCount": 7}  # computed again, from the other change
    assert entry.config.json_value["publishers"] == {"appWorkerCount": 7, "streamWorkerCount": 3}


def test_json_value_is_cached_and_to_json_is_a_copy(client: Client) -> None:
    entry = client.api.registry.app("vh", "a")
    assert entry is not None
    config = entry.config
    assert config.json_value is config.json_value
    copy = config.to_json()
    assert copy == config.json_value and copy is not config.json_value
    copy["type"] = "changed"
    assert config.json_value["type"] == "live"
    for profile in config.output_profiles:
        assert profile.json_value is profile.json_value
        assert profile.to_json() is not profile.json_value
    vhost = client.api.registry.vhost("vh")
    assert vhost is not None
    assert vhost.config.json_value is vhost.config.json_value
    assert json.loads(vhost.config.json_bytes) == vhost.config.to_json()


def test_changes_never_alter_a_shared_json_value(client: Client) -> None:
    """Everything the PATCH path hands the shared values to (merge, audit diff, store,
    answers) only reads them."""
    entry = client.api.registry.app("vh", "a")
    assert entry is not None
    before = entry.config
    frozen = json.loads(before.json_bytes)
    client.ok("PATCH", "/v1/vhosts/vh/apps/a", {"publishers": {"appWorkerCount": 3}})
    client.ok("PATCH", "/v1/vhosts/vh/apps/a", {"providers": {"rtmp": None}})
    client.ok(
        "POST",
        "/v1/vhosts/vh/apps/a/outputProfiles",
        [{"name": "p", "outputStreamName": "p", "encodes": {"videos": [{"bypass": True}]}}],
    )
    client.ok("DELETE", "/v1/vhosts/vh/apps/a/outputProfiles/p")
    client.ok("GET", "/v1/vhosts/vh/apps/a")
    assert before.json_value == frozen
    now = client.api.registry.app("vh", "a")
    assert now is not None
    assert now.config.json_value == json.loads(now.config.json_bytes)


# -- what the store and the engine can do to a change -------------------------------------------


class Refusing(SimulatedEngine):
    """Answers ``refuse[(operation, vhost, app)]`` (an error result, or any exception) instead
    of doing the call; every other call is simulated.  ``app`` is "" for vhost calls."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.refuse: dict[tuple[str, str, str], EngineResult | Exception] = {}
        #: every call refused, in order (:attr:`calls` lists only those simulated)
        self.refused: list[tuple[str, str, str]] = []

    def _check(self, operation: str, vhost: str, app: str = "") -> None:
        answer = self.refuse.get((operation, vhost, app))
        if answer is not None:
            self.refused.append((operation, vhost, app))
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            raise EngineError(answer)

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        self._check("create_virtual_host", vhost.name)
        super().create_virtual_host(vhost)

    def delete_virtual_host(self, name: str) -> None:
        self._check("delete_virtual_host", name)
        super().delete_virtual_host(name)

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        self._check("create_application", vhost, app.name)
        super().create_application(vhost, app)

    def delete_application(self, vhost: str, app: str) -> int:
        self._check("delete_application", vhost, app)
        return super().delete_application(vhost, app)

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        self._check("restart_application", vhost, new.name)
        return super().restart_application(vhost, old, new)


def app_json(name: str, workers: int | None = None) -> dict[str, object]:
    body: dict[str, object] = {"name": name, "type": "live"}
    if workers is not None:
        body["publishers"] = {"appWorkerCount": workers}
    return body


def workers_of(config: ApplicationConfig | None) -> object:
    assert config is not None
    publishers = config.json_value.get("publishers")
    return publishers.get("appWorkerCount") if isinstance(publishers, dict) else None


@pytest.fixture
def refusing() -> tuple[Client, Refusing]:
    engine = Refusing()
    client = Client(make_api(engine))
    client.create_vhost("vh", "a", "b")
    return client, engine


def test_a_store_conflict_after_the_restart_stops_the_app_here(
    refusing: tuple[Client, Refusing], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry
    events: list[AppEvent] = []
    coord.subscribe(events.append)

    def vhost_deleted_elsewhere(vhost: str, entry: AppEntry, audit: object = None) -> AppEntry:
        assert workers_of(engine.application("vh", "a")) == 5  # the engine runs the new one
        registry.remove_vhost("vh")
        raise StoreConflict(Change.VHOST_MISSING)

    monkeypatch.setattr(registry, "put_app", vhost_deleted_elsewhere)
    with pytest.raises(AppNotFound) as info:
        coord.change_app("vh", "a", workers(5), "test")
    assert (info.value.vhost, info.value.app) == ("vh", "a")
    assert engine.application("vh", "a") is None
    assert coord.state("vh", "a").phase is Phase.ABSENT
    assert events == []


@pytest.mark.parametrize("was_failed", [False, True], ids=["running", "failed"])
def test_any_other_store_error_puts_the_stored_config_back(
    refusing: tuple[Client, Refusing], monkeypatch: pytest.MonkeyPatch, was_failed: bool
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry
    if was_failed:
        engine.fail_next("restart_application")
        engine.fail_next("create_application")
        with pytest.raises(AppOperationError):
            coord.change_app("vh", "a", workers(2), "test")
        assert coord.failed("vh", "a")
    stored = registry.app("vh", "a")
    assert stored is not None
    events: list[AppEvent] = []
    coord.subscribe(events.append)

    def broken(vhost: str, entry: AppEntry, audit: object = None) -> AppEntry:
        raise StoreError("disk full")

    monkeypatch.setattr(registry, "put_app", broken)
    with pytest.raises(StoreError):
        coord.change_app("vh", "a", workers(5), "test")
    assert registry.app("vh", "a") is stored
    assert events == []
    if was_failed:
        # It ran nothing before the change: it runs nothing after it.
        assert engine.application("vh", "a") is None
        assert coord.state("vh", "a").phase is Phase.ABSENT
    else:
        assert engine.application("vh", "a") == stored.config
        assert coord.state("vh", "a") == running(stored.config)


def test_a_config_that_cannot_be_put_back_is_logged(
    refusing: tuple[Client, Refusing], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry

    def broken(vhost: str, entry: AppEntry, audit: object = None) -> AppEntry:
        engine.fail_next("restart_application")  # the way back fails: the new one returns
        raise StoreError("disk full")

    monkeypatch.setattr(registry, "put_app", broken)
    with caplog.at_level(logging.ERROR, "omeapi"), pytest.raises(StoreError):
        coord.change_app("vh", "a", workers(5), "test")
    assert "app vh/a runs a config the store does not hold" in logged(caplog)
    assert workers_of(engine.application("vh", "a")) == 5
    assert workers_of(coord.state("vh", "a").config) == 5


def test_sustained_contention_ends_with_the_change_under_the_lock(client: Client) -> None:
    """Another change is committed during every optimistic attempt: the last attempt
    computes the mutation under the app's lock, so that the change still happens."""
    coord = coordinator(client)
    held: list[bool] = []
    events: list[AppEvent] = []
    coord.subscribe(events.append)

    def add_thread_pool(current: ApplicationConfig) -> ApplicationConfig:
        held.append(coord.app_lock("vh", "a").locked())
        if not held[-1]:  # another request commits first
            other = threading.Thread(
                target=coord.change_app, args=("vh", "a", workers(len(held)), "other")
            )
            other.start()
            other.join()
        publishers = current.json_value.get("publishers") or {}
        assert isinstance(publishers, dict)
        return application_from_json(
            {**current.json_value, "publishers": {**publishers, "streamWorkerCount": 3}}
        )

    entry = coord.change_app("vh", "a", add_thread_pool, "test")
    assert held == [False, False, False, False, True]
    assert entry.config.json_value["publishers"] == {"appWorkerCount": 4, "streamWorkerCount": 3}
    assert [e.cause for e in events] == ["other"] * 4 + ["test"]
    assert client.engine.application("vh", "a") == entry.config


def test_the_engine_losing_an_app_during_a_restart_rolls_back(client: Client) -> None:
    coord = coordinator(client)
    stored = client.api.registry.app("vh", "a")
    assert stored is not None
    events: list[AppEvent] = []
    coord.subscribe(events.append)
    client.engine.delete_application("vh", "a")  # behind the coordinator's back
    with pytest.raises(AppOperationError) as info:
        coord.change_app("vh", "a", workers(5), "test")
    assert (info.value.op, info.value.result) == ("create", EngineResult.NOT_EXISTS)
    assert [(e.app, e.kind, e.cause) for e in events] == [("a", "rollback", "test")]
    assert coord.state("vh", "a") == running(stored.config)
    assert client.engine.application("vh", "a") == stored.config


def test_the_engine_losing_an_app_makes_the_first_delete_404_and_the_second_succeed(
    client: Client,
) -> None:
    coord = coordinator(client)
    client.engine.delete_application("vh", "a")  # behind the coordinator's back
    with pytest.raises(AppOperationError) as info:
        coord.delete_app("vh", "a")
    assert (info.value.op, info.value.result) == ("delete", EngineResult.NOT_EXISTS)
    assert coord.state("vh", "a").phase is Phase.ABSENT
    assert client.api.registry.app("vh", "a") is not None
    coord.delete_app("vh", "a")  # not running here: "not exists" is success now
    assert client.api.registry.app("vh", "a") is None


def test_a_failed_delete_keeps_the_app(refusing: tuple[Client, Refusing]) -> None:
    client, engine = refusing
    coord = coordinator(client)
    engine.refuse[("delete_application", "vh", "a")] = EngineResult.FAILED
    with pytest.raises(AppOperationError) as info:
        coord.delete_app("vh", "a")
    assert (info.value.op, info.value.result) == ("delete", EngineResult.FAILED)
    assert coord.state("vh", "a").phase is Phase.RUNNING
    assert client.api.registry.app("vh", "a") is not None


def test_deleting_a_vhost_whose_app_the_engine_lost(refusing: tuple[Client, Refusing]) -> None:
    client, engine = refusing
    coord = coordinator(client)
    engine.refuse[("delete_application", "vh", "a")] = EngineResult.NOT_EXISTS
    coord.delete_vhost("vh")
    assert client.api.registry.vhost("vh") is None
    assert engine.virtual_hosts() == ["default"]
    assert coord.state("vh", "a").phase is Phase.ABSENT


def test_a_vhost_delete_that_fails_part_way_removes_the_apps_it_stopped(
    refusing: tuple[Client, Refusing],
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry
    engine.refuse[("delete_application", "vh", "b")] = EngineResult.FAILED
    with pytest.raises(EngineError):
        coord.delete_vhost("vh")
    vhost = registry.vhost("vh")
    assert vhost is not None and list(vhost.apps) == ["b"]
    assert engine.application("vh", "a") is None
    assert coord.state("vh", "b").phase is Phase.RUNNING
    del engine.refuse[("delete_application", "vh", "b")]
    engine.refuse[("delete_virtual_host", "vh", "")] = EngineResult.FAILED
    with pytest.raises(EngineError):
        coord.delete_vhost("vh")
    vhost = registry.vhost("vh")
    assert vhost is not None and list(vhost.apps) == []
    assert "vh" in engine.virtual_hosts()


# -- creating: what is undone when the engine or the store refuses ------------------------------


def vhost_with(name: str, *apps: str) -> VirtualHostConfig:
    return virtual_host_from_json({"name": name, "applications": [app_json(a) for a in apps]})


def test_a_vhost_whose_app_fails_is_undone(refusing: tuple[Client, Refusing]) -> None:
    client, engine = refusing
    coord = coordinator(client)
    engine.refuse[("create_application", "nv", "y")] = EngineResult.FAILED
    with pytest.raises(EngineError):
        coord.create_vhost(vhost_with("nv", "x", "y"))
    assert client.api.registry.vhost("nv") is None
    assert "nv" not in engine.virtual_hosts()
    assert engine.application("nv", "x") is None


@pytest.mark.parametrize(
    ("refusal", "outcome"),
    [(StoreConflict(Change.VHOST_EXISTS), False), (StoreError("disk full"), StoreError)],
    ids=["conflict", "error"],
)
def test_a_vhost_the_store_refuses_is_undone(
    refusing: tuple[Client, Refusing],
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    refusal: Exception,
    outcome: object,
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry

    def refuse(*args: object) -> bool:
        raise refusal

    monkeypatch.setattr(registry, "add_vhost", refuse)
    # The undo itself may fail: it is logged, and the refusal is what the caller gets.
    engine.refuse[("delete_application", "nv", "x")] = EngineResult.FAILED
    engine.refuse[("delete_virtual_host", "nv", "")] = EngineResult.FAILED
    with caplog.at_level(logging.WARNING, "omeapi"):
        if outcome is False:
            assert coord.create_vhost(vhost_with("nv", "x", "y")) is False
        else:
            with pytest.raises(StoreError):
                coord.create_vhost(vhost_with("nv", "x", "y"))
    assert "could not undo app nv/x" in logged(caplog)
    assert "could not undo vhost nv" in logged(caplog)
    assert engine.application("nv", "y") is None  # the undo went on after a failure
    assert coord.state("nv", "x").phase is Phase.ABSENT


def test_a_vhost_the_store_does_not_add_is_undone(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    coord, registry = coordinator(client), client.api.registry
    monkeypatch.setattr(registry, "add_vhost", lambda *args: False)
    assert coord.create_vhost(vhost_with("nv", "x")) is False
    assert "nv" not in client.engine.virtual_hosts()
    assert client.engine.application("nv", "x") is None


@pytest.mark.parametrize(
    ("refusal", "result"),
    [
        (StoreConflict(Change.APP_EXISTS), EngineResult.EXISTS),
        (StoreConflict(Change.VHOST_MISSING), EngineResult.NOT_EXISTS),
        (StoreError("disk full"), None),
    ],
    ids=["app-exists", "vhost-missing", "error"],
)
def test_an_app_the_store_refuses_is_undone(
    refusing: tuple[Client, Refusing],
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    refusal: Exception,
    result: EngineResult | None,
) -> None:
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry

    def refuse(*args: object) -> AppEntry:
        raise refusal

    monkeypatch.setattr(registry, "put_app", refuse)
    new = application_from_json(app_json("c"))
    with pytest.raises((AppOperationError, StoreError)) as info:
        coord.create_app("vh", new)
    if result is None:
        assert info.value is refusal
    else:
        assert isinstance(info.value, AppOperationError)
        assert (info.value.op, info.value.vhost, info.value.app, info.value.result) == (
            "create",
            "vh",
            "c",
            result,
        )
    assert engine.application("vh", "c") is None
    assert coord.state("vh", "c").phase is Phase.ABSENT
    engine.refuse[("delete_application", "vh", "d")] = EngineResult.FAILED
    with caplog.at_level(logging.WARNING, "omeapi"), pytest.raises((AppOperationError, StoreError)):
        coord.create_app("vh", application_from_json(app_json("d")))
    assert "could not undo app vh/d" in logged(caplog)


# -- start, adopt and following the store ------------------------------------------------------


@pytest.fixture
def stored() -> MemoryStore:
    """A store holding vhost ``vh`` with apps ``a`` and ``b`` (made by an earlier run)."""
    store = MemoryStore()
    Client(make_api(store=store)).create_vhost("vh", "a", "b")
    return store


def test_start_keeps_a_stored_app_that_fails_marked_failed(
    stored: MemoryStore, caplog: Any
) -> None:
    engine = Refusing()
    engine.refuse[("create_application", "vh", "a")] = EngineResult.FAILED
    with caplog.at_level(logging.ERROR, "omeapi"):
        api = make_api(engine, store=stored)
    assert "stored application vh/a does not start" in logged(caplog)
    assert api.coordinator.failed("vh", "a")
    assert engine.application("vh", "a") is None
    assert api.coordinator.state("vh", "b").phase is Phase.RUNNING
    api.coordinator.reconcile()  # the start was the reconcile: nothing is tried again
    assert engine.application("vh", "a") is None


def test_start_skips_a_stored_vhost_that_fails(stored: MemoryStore, caplog: Any) -> None:
    engine = Refusing()
    engine.refuse[("create_virtual_host", "vh", "")] = EngineResult.FAILED
    with caplog.at_level(logging.ERROR, "omeapi"):
        api = make_api(engine, store=stored)
    assert "stored virtual host vh does not start" in logged(caplog)
    assert engine.virtual_hosts() == ["default"]
    assert engine.application("vh", "a") is None
    assert api.coordinator.state("vh", "a").phase is Phase.ABSENT
    api.coordinator.reconcile()  # the start was the reconcile: nothing is tried again
    assert engine.refused == [("create_virtual_host", "vh", "")]


@pytest.mark.parametrize("operation", ["create_virtual_host", "create_application"])
def test_start_fails_when_server_xml_does_not_start(operation: str) -> None:
    engine = Refusing()
    engine.refuse[(operation, "default", "app" if operation == "create_application" else "")] = (
        EngineResult.FAILED
    )
    with pytest.raises(EngineError):
        make_api(engine)


def test_adopt_takes_everything_as_running(stored: MemoryStore) -> None:
    engine = Refusing()
    make_api(engine, store=stored)  # whoever started the engine
    mark = len(engine.calls)
    api = make_api(engine, store=stored, start_engine=False)
    assert engine.calls[mark:] == []
    registry = api.registry
    for vhost, app in [("default", "app"), ("vh", "a"), ("vh", "b")]:
        entry = registry.app(vhost, app)
        assert entry is not None
        assert api.coordinator.state(vhost, app) == running(entry.config)
    api.coordinator.reconcile()
    assert engine.calls[mark:] == []
    # The vhosts count as running: a new app in one is created without creating it again.
    api.coordinator.create_app("vh", application_from_json(app_json("c")))
    assert engine.calls[mark:] == [("create_application", "vh", "c")]
    # What another node (with an engine of its own) adds is followed onto this engine.
    Client(make_api(store=stored)).create_vhost("vz", "z")
    mark = len(engine.calls)
    api.registry.refresh()
    api.coordinator.reconcile()
    assert engine.calls[mark:] == [
        ("create_virtual_host", "vz", ""),
        ("create_application", "vz", "z"),
    ]


class Ticking:
    """A clock that advances by a quarter of a second on every reading."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


class Nodes:
    """Two API nodes sharing one store; ``b`` follows it only when asked (:meth:`follow`).
    ``b``'s clock ticks a quarter of a second per reading."""

    def __init__(self, **engine_options: Any) -> None:
        self.store = MemoryStore()
        self.a = Client(make_api(store=self.store))
        self.engine = Refusing(**engine_options)
        self.b = make_api(self.engine, store=self.store)
        self.b.coordinator.clock = Ticking()
        self.events: list[AppEvent] = []
        self.b.coordinator.subscribe(self.events.append)

    def follow(self) -> list[tuple[str, str, str]]:
        """Let ``b`` catch up; the engine calls it made."""
        mark = len(self.engine.calls)
        self.b.registry.refresh()
        self.b.coordinator.reconcile()
        return self.engine.calls[mark:]


@pytest.fixture
def nodes() -> Nodes:
    return Nodes()


def test_following_creates_changes_and_deletes(nodes: Nodes) -> None:
    a, engine = nodes.a, nodes.engine
    a.create_vhost("vh", "x", "y")
    assert nodes.follow() == [
        ("create_virtual_host", "vh", ""),
        ("create_application", "vh", "x"),
        ("create_application", "vh", "y"),
    ]
    assert nodes.follow() == []  # nothing changed: nothing done
    engine.publish("vh", "x", "s", viewers=2)
    a.ok("PATCH", "/v1/vhosts/vh/apps/x", {"publishers": {"appWorkerCount": 3}})
    assert nodes.follow() == [("restart_application", "vh", "x")]
    assert workers_of(engine.application("vh", "x")) == 3
    assert nodes.events == [AppEvent("vh", "x", "restart", STORE_CAUSE, 3, 0.25)]
    a.ok("DELETE", "/v1/vhosts/vh/apps/y")
    assert nodes.follow() == [("delete_application", "vh", "y")]
    a.ok("DELETE", "/v1/vhosts/vh")
    assert nodes.follow() == [("delete_application", "vh", "x"), ("delete_virtual_host", "vh", "")]
    assert nodes.b.coordinator.state("vh", "x").phase is Phase.ABSENT


def test_following_goes_on_after_one_app_fails(nodes: Nodes, caplog: Any) -> None:
    a, engine = nodes.a, nodes.engine
    a.create_vhost("vh", "x", "y", "z")
    nodes.follow()
    for app in ("x", "y", "z"):
        a.ok("PATCH", f"/v1/vhosts/vh/apps/{app}", {"publishers": {"appWorkerCount": 3}})
    engine.refuse[("restart_application", "vh", "x")] = RuntimeError("engine bug")
    engine.refuse[("restart_application", "vh", "y")] = EngineResult.FAILED
    engine.refuse[("create_application", "vh", "y")] = EngineResult.FAILED
    with caplog.at_level(logging.ERROR, "omeapi"):
        nodes.follow()
    assert "could not apply the stored config of vh/x" in logged(caplog)
    assert "app vh/y failed: neither the new nor the previous config starts" in logged(caplog)
    assert nodes.b.coordinator.failed("vh", "y")
    assert workers_of(engine.application("vh", "z")) == 3
    assert [(e.app, e.kind, e.cause) for e in nodes.events] == [
        ("y", "failed", STORE_CAUSE),
        ("z", "restart", STORE_CAUSE),
    ]


def test_following_a_stored_app_that_does_not_start(nodes: Nodes, caplog: Any) -> None:
    nodes.engine.refuse[("create_application", "vh", "x")] = EngineResult.FAILED
    nodes.a.create_vhost("vh", "x")
    with caplog.at_level(logging.ERROR, "omeapi"):
        nodes.follow()
    assert "app vh/x failed: the stored config does not start" in logged(caplog)
    assert nodes.b.coordinator.failed("vh", "x")


def test_following_a_vhost_the_engine_refuses(nodes: Nodes, caplog: Any) -> None:
    nodes.engine.refuse[("create_virtual_host", "vh", "")] = EngineResult.FAILED
    nodes.a.create_vhost("vh")
    with caplog.at_level(logging.ERROR, "omeapi"):
        nodes.follow()
    assert "could not start the stored virtual host vh" in logged(caplog)
    assert "vh" not in nodes.engine.virtual_hosts()
    nodes.follow()  # tried again with the next change in the store, not before
    assert nodes.engine.refused == [("create_virtual_host", "vh", "")]


def test_following_a_delete_the_engine_refuses(nodes: Nodes, caplog: Any) -> None:
    a, engine = nodes.a, nodes.engine
    a.create_vhost("vh", "x", "y")
    nodes.follow()
    engine.refuse[("delete_application", "vh", "x")] = EngineResult.FAILED
    engine.refuse[("delete_application", "vh", "y")] = EngineResult.NOT_EXISTS
    engine.refuse[("delete_virtual_host", "vh", "")] = EngineResult.FAILED
    a.ok("DELETE", "/v1/vhosts/vh")
    with caplog.at_level(logging.ERROR, "omeapi"):
        nodes.follow()
    assert "could not stop vh/x (deleted elsewhere)" in logged(caplog)
    assert "vh/y" not in caplog.text  # it was gone already
    assert "could not stop the virtual host vh" in logged(caplog)
    assert nodes.b.coordinator.state("vh", "x").phase is Phase.RUNNING
    assert nodes.b.coordinator.state("vh", "y").phase is Phase.ABSENT
    engine.refuse.clear()
    nodes.b.coordinator._reconciled = None  # as the next change in the store would
    nodes.follow()
    assert "vh" not in engine.virtual_hosts()


def test_following_a_vhost_created_again_differently(nodes: Nodes, caplog: Any) -> None:
    a, engine = nodes.a, nodes.engine
    a.ok("POST", "/v1/vhosts", [{"name": "vh", "host": {"names": ["a.example.com"]}}])
    a.ok("POST", "/v1/vhosts/vh/apps", [app_json("x"), app_json("y")])
    nodes.follow()
    a.ok("DELETE", "/v1/vhosts/vh")
    a.ok("POST", "/v1/vhosts", [{"name": "vh", "host": {"names": ["b.example.com"]}}])
    a.ok("POST", "/v1/vhosts/vh/apps", [app_json("x"), app_json("z")])
    engine.refuse[("delete_application", "vh", "x")] = EngineResult.FAILED
    engine.refuse[("delete_application", "vh", "y")] = EngineResult.NOT_EXISTS
    with caplog.at_level(logging.ERROR, "omeapi"):
        calls = nodes.follow()
    assert "could not stop vh/x" in logged(caplog)
    assert "vh/y" not in caplog.text
    assert calls.index(("delete_virtual_host", "vh", "")) < calls.index(
        ("create_virtual_host", "vh", "")
    )
    assert set(engine.applications()) >= {("vh", "x"), ("vh", "z")}
    assert nodes.b.coordinator.state("vh", "y").phase is Phase.ABSENT


# -- what each change records, and the errors' details ------------------------------------------


def test_every_change_is_audited_with_what_it_did() -> None:
    store = MemoryStore()
    coord = make_api(store=store).coordinator
    coord.wall_clock = lambda: 1234.5
    coord.create_vhost(vhost_with("nv", "x"))
    coord.create_app("nv", application_from_json(app_json("y")))
    coord.change_app("nv", "y", workers(2), "test")
    coord.delete_app("nv", "y")
    coord.delete_vhost("nv")
    records = store.audit_log()
    assert {r.time for r in records} == {1234.5}
    assert [r.summary for r in records] == [
        {"change": "create_vhost", "vhost": "nv", "apps": ["x"], "config": {"name": "nv"}},
        {"change": "create_app", "vhost": "nv", "app": "y", "config": app_json("y")},
        {
            "change": "update_app",
            "vhost": "nv",
            "app": "y",
            "changed": {"publishers": {"appWorkerCount": 2}},
        },
        {"change": "delete_app", "vhost": "nv", "app": "y"},
        {"change": "delete_vhost", "vhost": "nv", "apps": ["x"]},
    ]


def test_a_vhost_delete_that_fails_part_way_audits_each_app_it_removed() -> None:
    store, engine = MemoryStore(), Refusing()
    client = Client(make_api(engine, store=store))
    client.create_vhost("vh", "a", "b")
    mark = len(store.audit_log())
    engine.refuse[("delete_application", "vh", "b")] = EngineResult.FAILED
    with pytest.raises(EngineError):
        coordinator(client).delete_vhost("vh")
    assert [r.summary for r in store.audit_log()[mark:]] == [
        {"change": "delete_app", "vhost": "vh", "app": "a"}
    ]


def operation_error(call: Callable[[], object]) -> tuple[object, ...]:
    """What the AppOperationError ``call`` raises names: operation, vhost, app, result."""
    with pytest.raises(AppOperationError) as info:
        call()
    return (info.value.op, info.value.vhost, info.value.app, info.value.result)


def test_errors_name_the_operation_vhost_app_and_result(client: Client) -> None:
    coord = coordinator(client)
    assert operation_error(
        lambda: coord.create_app("nope", application_from_json(app_json("c")))
    ) == ("create", "nope", "c", EngineResult.NOT_EXISTS)
    assert operation_error(
        lambda: coord.create_app("vh", application_from_json(app_json("a")))
    ) == ("create", "vh", "a", EngineResult.EXISTS)
    assert operation_error(lambda: coord.delete_app("vh", "nope")) == (
        "delete",
        "vh",
        "nope",
        EngineResult.NOT_EXISTS,
    )
    client.engine.fail_next("restart_application")
    failed = operation_error(lambda: coord.change_app("vh", "a", workers(5), "test"))
    assert failed[:3] == ("create", "vh", "a")
    with pytest.raises(AppNotFound) as missing:
        coord.change_app("vh", "nope", workers(5), "test")
    assert (missing.value.vhost, missing.value.app) == ("vh", "nope")
    client.engine.fail_next("create_application")
    assert operation_error(
        lambda: coord.create_app("vh", application_from_json(app_json("c")))
    ) == ("create", "vh", "c", EngineResult.FAILED)
    client.engine.fail_next("delete_application")
    assert operation_error(lambda: coord.delete_app("vh", "a")) == (
        "delete",
        "vh",
        "a",
        EngineResult.FAILED,
    )
    with pytest.raises(EngineError) as vhost_missing:
        coord.delete_vhost("nope")
    assert vhost_missing.value.result is EngineResult.NOT_EXISTS


# -- locks: one per app, in this process and in the store --------------------------------------


class LockLog(MemoryStore):
    """A memory store that records the name of every store lock taken."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def lock(self, name: str) -> AbstractContextManager[None]:
        self.names.append(name)
        return super().lock(name)

    def taken(self, call: Callable[[], object]) -> list[str]:
        """The store locks ``call`` takes."""
        mark = len(self.names)
        call()
        return self.names[mark:]


def test_each_app_has_a_lock_of_its_own_here_and_in_the_store() -> None:
    store = LockLog()
    client = Client(make_api(store=store))
    client.create_vhost("vh", "a", "b")
    coord = coordinator(client)
    assert coord.app_lock("vh", "a") is coord.app_lock("vh", "a")
    keys = [("vh", "a"), ("vh", "b"), ("default", "a"), ("default", "app")]
    assert len({id(coord.app_lock(*key)) for key in keys}) == len(keys)
    a = store.taken(lambda: coord.change_app("vh", "a", workers(2), "test"))
    b = store.taken(lambda: coord.change_app("vh", "b", workers(2), "test"))
    assert a and b and not set(a) & set(b)
    assert store.taken(lambda: coord.change_app("vh", "a", workers(3), "test")) == a


def test_vhost_changes_share_one_store_lock_and_hold_every_app_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Creating and deleting vhosts exclude each other in every process; a vhost's delete
    also holds the lock of each of its apps (here and in the store) while it stops them."""
    store = LockLog()
    client = Client(make_api(store=store))
    client.create_vhost("vh", "a", "b")
    coord, engine = coordinator(client), client.engine
    app_locks = {
        app: store.taken(lambda app=app: coord.change_app("vh", app, workers(2), "test"))[0]
        for app in ("a", "b")
    }
    created = store.taken(lambda: coord.create_vhost(vhost_with("nv")))
    assert created and created[0] not in app_locks.values()
    held: list[list[bool]] = []
    delete_application = engine.delete_application

    def observed(vhost: str, app: str) -> int:
        held.append([coord.app_lock("vh", other).locked() for other in ("a", "b")])
        return delete_application(vhost, app)

    monkeypatch.setattr(engine, "delete_application", observed)
    deleted = store.taken(lambda: coord.delete_vhost("vh"))
    assert deleted[0] == created[0]
    assert set(app_locks.values()) <= set(deleted)
    assert held == [[True, True], [True, True]]
    assert not coord.app_lock("vh", "a").locked()


def test_the_per_vhost_index_forgets_what_is_deleted(client: Client) -> None:
    """The coordinator's index of apps by vhost mirrors its app table: a server that
    creates and deletes apps for ever keeps nothing of the deleted ones."""
    coord = coordinator(client)

    def index() -> dict[str, list[str]]:
        return {vhost: list(apps) for vhost, apps in coord._by_vhost.items()}

    coord.create_app("vh", application_from_json(app_json("c")))
    assert index() == {"default": ["app"], "vh": ["a", "c"]}
    coord.delete_app("vh", "a")
    assert index() == {"default": ["app"], "vh": ["c"]}
    coord.delete_vhost("vh")
    assert index() == {"default": ["app"]}


# -- start, resume and adopt: what runs where --------------------------------------------------


def test_start_goes_on_after_a_stored_vhost_that_fails() -> None:
    store = MemoryStore()
    earlier = Client(make_api(store=store))
    for vhost, names in [("vh", ("a", "b")), ("vw", ("c",)), ("vx", ("d",))]:
        earlier.create_vhost(vhost, *names)
    engine = Refusing()
    engine.refuse[("create_virtual_host", "vw", "")] = EngineResult.FAILED
    api = make_api(engine, store=store)
    assert set(engine.applications()) == {("default", "app"), ("vh", "a"), ("vh", "b"), ("vx", "d")}
    assert api.coordinator.state("vx", "d").phase is Phase.RUNNING


def test_start_takes_what_the_engine_already_runs_as_running(stored: MemoryStore) -> None:
    """An engine that outlived the process that started it (one of its own process) answers
    every create with "exists": each app counts as running the stored config."""
    engine = SimulatedEngine()
    make_api(engine, store=stored)
    mark = len(engine.calls)
    api = make_api(engine, store=stored)
    assert engine.calls[mark:] == [
        ("create_virtual_host", "default", ""),
        ("create_application", "default", "app"),
        ("create_virtual_host", "vh", ""),
        ("create_application", "vh", "a"),
        ("create_application", "vh", "b"),
    ]
    for vhost, app in [("default", "app"), ("vh", "a"), ("vh", "b")]:
        entry = api.registry.app(vhost, app)
        assert entry is not None
        assert api.coordinator.state(vhost, app) == running(entry.config)


def test_resume_starts_everything_again_on_a_restarted_engine(
    stored: MemoryStore, caplog: Any
) -> None:
    engine = Refusing()
    api = make_api(engine, store=stored)
    running_before = engine.applications()

    def engine_restarts() -> None:  # its process restarted: it runs nothing
        for vhost in engine.virtual_hosts():
            engine.delete_virtual_host(vhost)

    engine_restarts()
    api.coordinator.resume()
    assert engine.applications() == running_before
    engine_restarts()
    refusal = EngineError(EngineResult.FAILED, "no such port")
    engine.refuse[("create_virtual_host", "default", "")] = refusal
    with caplog.at_level(logging.ERROR, "omeapi"):
        api.coordinator.resume()  # logged, not raised: it runs on a thread of its own
    assert logged(caplog) == [f"the restarted engine does not start Server.xml's config: {refusal}"]


def test_an_app_of_a_vhost_not_running_here_starts_its_vhost() -> None:
    """A stored vhost that did not start at start-up is started by the first change to it,
    and while the engine still refuses it, the change fails with the engine's answer."""
    store = MemoryStore()
    earlier = Client(make_api(store=store))
    earlier.create_vhost("vh", "a")
    earlier.create_vhost("vw", "b")
    engine = Refusing()
    for vhost in ("vh", "vw"):
        engine.refuse[("create_virtual_host", vhost, "")] = EngineResult.FAILED
    coord = make_api(engine, store=store).coordinator
    with pytest.raises(AppOperationError) as info:
        coord.create_app("vh", application_from_json(app_json("c")))
    assert info.value.result is EngineResult.FAILED
    with pytest.raises(AppOperationError) as info:
        coord.change_app("vw", "b", workers(2), "test")
    assert info.value.result is EngineResult.FAILED
    engine.refuse.clear()
    coord.create_app("vh", application_from_json(app_json("c")))
    assert engine.application("vh", "c") is not None
    coord.change_app("vw", "b", workers(2), "test")
    assert workers_of(engine.application("vw", "b")) == 2
    assert set(engine.virtual_hosts()) == {"default", "vh", "vw"}


def test_a_vhost_created_here_is_followed_like_any_other(nodes: Nodes) -> None:
    b = nodes.b.coordinator
    config = vhost_with("nv", "x")
    assert b.create_vhost(config)
    assert b.state("nv", "x") == running(config.applications[0])
    nodes.a.create_vhost("vz")
    assert nodes.follow() == [("create_virtual_host", "vz", "")]
    b.change_app("nv", "x", workers(2), "test")
    assert workers_of(nodes.engine.application("nv", "x")) == 2


def test_creating_a_vhost_that_exists_touches_nothing(client: Client) -> None:
    coord = coordinator(client)
    mark = len(client.engine.calls)
    assert coord.create_vhost(vhost_with("vh", "x")) is False
    assert client.engine.calls[mark:] == []
    assert coord.state("vh", "a").phase is Phase.RUNNING


def test_a_vhost_created_here_replaces_the_one_deleted_elsewhere(nodes: Nodes) -> None:
    nodes.a.create_vhost("vh", "x")
    nodes.follow()
    nodes.a.ok("DELETE", "/v1/vhosts/vh")  # not followed here yet
    b = nodes.b.coordinator
    assert b.create_vhost(vhost_with("vh", "y"))
    assert [key for key in nodes.engine.applications() if key[0] == "vh"] == [("vh", "y")]
    assert b.state("vh", "x").phase is Phase.ABSENT


def test_deleting_a_vhost_stops_its_app_deleted_elsewhere_but_running_here(nodes: Nodes) -> None:
    nodes.a.create_vhost("vh", "x", "y")
    nodes.follow()
    nodes.a.ok("DELETE", "/v1/vhosts/vh/apps/y")  # not followed here yet
    mark = len(nodes.engine.calls)
    nodes.b.coordinator.delete_vhost("vh")
    assert nodes.engine.calls[mark:] == [
        ("delete_application", "vh", "x"),
        ("delete_application", "vh", "y"),
        ("delete_virtual_host", "vh", ""),
    ]
    assert nodes.b.coordinator.state("vh", "y").phase is Phase.ABSENT


def test_deleting_an_app_another_worker_created_on_the_same_engine(stored: MemoryStore) -> None:
    """Two workers share one engine; an app one of them created is not followed by the
    other yet (it does not know it runs), and is still deleted from the engine."""
    engine = SimulatedEngine()
    first = Client(make_api(engine, store=stored))
    second = make_api(engine, store=stored, start_engine=False)
    first.ok("POST", "/v1/vhosts/vh/apps", [app_json("c")])
    assert second.coordinator.state("vh", "c").phase is Phase.ABSENT
    second.coordinator.delete_app("vh", "c")
    assert engine.application("vh", "c") is None
    assert second.registry.app("vh", "c") is None


def test_a_vhost_or_app_deleted_elsewhere_meanwhile_is_gone_as_asked(
    refusing: tuple[Client, Refusing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store says "no such vhost" (deleted elsewhere since the refresh): the delete
    succeeded all the same, and a part-way failure still reports the engine's error."""
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry

    def deleted_elsewhere(*args: object) -> None:
        raise StoreConflict(Change.VHOST_MISSING)

    monkeypatch.setattr(registry, "remove_app", deleted_elsewhere)
    engine.refuse[("delete_application", "vh", "b")] = EngineResult.FAILED
    with pytest.raises(EngineError) as info:
        coord.delete_vhost("vh")  # stops a, fails on b
    assert info.value.result is EngineResult.FAILED
    del engine.refuse[("delete_application", "vh", "b")]
    coord.delete_app("vh", "b")
    assert engine.application("vh", "b") is None
    monkeypatch.setattr(registry, "remove_vhost", deleted_elsewhere)
    coord.delete_vhost("vh")
    assert "vh" not in engine.virtual_hosts()


def test_a_failed_app_whose_new_config_cannot_be_stopped_again_is_logged(
    refusing: tuple[Client, Refusing], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """It ran nothing before the change; the store refuses the change and the engine
    refuses to stop what the change started: the app runs the new config, logged."""
    client, engine = refusing
    coord, registry = coordinator(client), client.api.registry
    engine.fail_next("restart_application")
    engine.fail_next("create_application")
    with pytest.raises(AppOperationError):
        coord.change_app("vh", "a", workers(2), "test")
    assert coord.failed("vh", "a")

    def broken(vhost: str, entry: AppEntry, audit: object = None) -> AppEntry:
        engine.refuse[("delete_application", "vh", "a")] = EngineResult.FAILED
        raise StoreError("disk full")

    monkeypatch.setattr(registry, "put_app", broken)
    with caplog.at_level(logging.ERROR, "omeapi"), pytest.raises(StoreError):
        coord.change_app("vh", "a", workers(5), "test")
    assert "app vh/a runs a config the store does not hold" in logged(caplog)
    now = engine.application("vh", "a")
    assert workers_of(now) == 5
    assert now is not None and coord.state("vh", "a") == running(now)


def test_a_change_back_to_what_the_engine_runs_restarts_nothing(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store moved on elsewhere (not followed here yet) and a change here brings the
    app back to the config this engine still runs: the engine has nothing to do."""
    a, engine = nodes.a, nodes.engine
    a.create_vhost("vh", "x")
    nodes.follow()
    before = engine.application("vh", "x")
    assert before is not None
    a.ok("PATCH", "/v1/vhosts/vh/apps/x", {"publishers": {"appWorkerCount": 3}})
    b, registry = nodes.b.coordinator, nodes.b.registry
    mark = len(engine.calls)
    with monkeypatch.context() as patched:

        def broken(vhost: str, entry: AppEntry, audit: object = None) -> AppEntry:
            raise StoreError("disk full")

        patched.setattr(registry, "put_app", broken)
        with pytest.raises(StoreError):
            b.change_app("vh", "x", lambda current: before, "test")
    entry = b.change_app("vh", "x", lambda current: before, "test")
    assert entry.config == before
    assert engine.calls[mark:] == []
    assert b.state("vh", "x") == running(before)
    assert nodes.events == []  # no restart (nor event feed entry, nor metric) to report


# -- following the store: more of what another process changed ---------------------------------


def test_following_a_vhost_deleted_with_its_apps(nodes: Nodes) -> None:
    nodes.a.create_vhost("vh", "x", "y")
    nodes.follow()
    nodes.a.ok("DELETE", "/v1/vhosts/vh")
    assert nodes.follow() == [
        ("delete_application", "vh", "x"),
        ("delete_application", "vh", "y"),
        ("delete_virtual_host", "vh", ""),
    ]


def test_following_a_vhost_deleted_and_created_again_the_same_restarts_nothing(
    nodes: Nodes,
) -> None:
    nodes.a.create_vhost("vh", "x")
    nodes.follow()
    nodes.a.ok("DELETE", "/v1/vhosts/vh")
    nodes.a.create_vhost("vh", "x")
    assert nodes.follow() == []


def test_following_a_vhost_created_again_differently_restarts_what_ran(nodes: Nodes) -> None:
    """Of the vhost's apps, one did not start here (failed): the others are still stopped
    with the old vhost and started in the new one."""
    a, engine = nodes.a, nodes.engine
    a.ok("POST", "/v1/vhosts", [{"name": "vh", "host": {"names": ["a.example.com"]}}])
    a.ok("POST", "/v1/vhosts/vh/apps", [app_json("x"), app_json("y")])
    engine.refuse[("create_application", "vh", "x")] = EngineResult.FAILED
    nodes.follow()
    assert nodes.b.coordinator.failed("vh", "x")
    a.ok("DELETE", "/v1/vhosts/vh")
    a.ok("POST", "/v1/vhosts", [{"name": "vh", "host": {"names": ["b.example.com"]}}])
    a.ok("POST", "/v1/vhosts/vh/apps", [app_json("x"), app_json("y")])
    calls = nodes.follow()
    assert calls.index(("delete_application", "vh", "y")) < calls.index(
        ("delete_virtual_host", "vh", "")
    )
    assert engine.application("vh", "y") is not None
    assert nodes.b.coordinator.state("vh", "y").phase is Phase.RUNNING


def test_following_a_change_of_live_fields_applies_it_live() -> None:
    nodes = Nodes(live_fields=("publishers",))
    nodes.a.create_vhost("vh", "x")
    nodes.follow()
    nodes.engine.publish("vh", "x", "s", viewers=1)
    nodes.a.ok("PATCH", "/v1/vhosts/vh/apps/x", {"publishers": {"appWorkerCount": 3}})
    assert nodes.follow() == [("apply_live", "vh", "x")]
    assert nodes.engine.sessions("vh", "x") == 2
    assert nodes.events == [AppEvent("vh", "x", "hot_apply", STORE_CAUSE, 0, 0.25)]


# -- a store whose generation lags: every change reads the store itself ------------------------


class Lagging(LockLog):
    """A store whose generation never moves, as when another machine's notification has
    not arrived: a refresh that trusts it reads nothing.  ``on_lock`` (if set) runs before
    each store lock is taken."""

    def __init__(self) -> None:
        super().__init__()
        self.on_lock: Callable[[str], None] | None = None

    def generation(self) -> int | None:
        return 0

    def lock(self, name: str) -> AbstractContextManager[None]:
        if self.on_lock is not None:
            self.on_lock(name)
        return super().lock(name)


def add_stream_workers(current: ApplicationConfig) -> ApplicationConfig:
    publishers = current.json_value.get("publishers") or {}
    assert isinstance(publishers, dict)
    return application_from_json(
        {**current.json_value, "publishers": {**publishers, "streamWorkerCount": 2}}
    )


def test_every_change_starts_from_the_store_not_from_a_generation_that_lags() -> None:
    store = Lagging()
    a = make_api(store=store).coordinator
    engine = SimulatedEngine()
    api = make_api(engine, store=store)
    b = api.coordinator
    api.registry.refresh()  # as a request does: the generation is recorded as seen
    a.create_vhost(vhost_with("vh"))  # b's generation did not move: only the store says so
    mark = len(engine.calls)
    assert b.create_vhost(vhost_with("vh")) is False
    assert engine.calls[mark:] == []
    a.create_vhost(vhost_with("vw"))
    b.create_app("vw", application_from_json(app_json("x")))
    a.change_app("vw", "x", workers(3), "other")
    entry = b.change_app("vw", "x", add_stream_workers, "test")
    assert entry.config.json_value["publishers"] == {"appWorkerCount": 3, "streamWorkerCount": 2}
    a.create_app("vw", application_from_json(app_json("y")))
    b.delete_app("vw", "y")
    a.create_vhost(vhost_with("vz"))
    b.delete_vhost("vz")
    a.registry.refresh(check=True)
    assert a.registry.app("vw", "y") is None and a.registry.vhost("vz") is None


def test_a_vhost_deleted_elsewhere_during_a_restart_is_read_from_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Lagging()
    other = make_api(store=store).registry
    engine = SimulatedEngine()
    b = make_api(engine, store=store).coordinator
    b.create_vhost(vhost_with("vh", "x"))
    restart = engine.restart_application

    def meanwhile(vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> RestartOutcome:
        other.refresh(check=True)
        other.remove_vhost("vh")  # another process, while this engine restarts the app
        return restart(vhost, old, new)

    monkeypatch.setattr(engine, "restart_application", meanwhile)
    with pytest.raises(AppNotFound):
        b.change_app("vh", "x", workers(5), "test")
    assert engine.application("vh", "x") is None
    assert b.state("vh", "x").phase is Phase.ABSENT


def test_the_last_attempt_of_a_change_reads_the_store_too() -> None:
    """Every optimistic attempt meets a change made elsewhere; just before the last one
    takes the app's lock, another process deletes the app: it is not found, and nothing
    is restarted."""
    store = Lagging()
    a = make_api(store=store).coordinator
    other = make_api(store=store).registry
    engine = SimulatedEngine()
    b = make_api(engine, store=store).coordinator
    b.create_vhost(vhost_with("vh", "x"))
    name = store.taken(lambda: b.change_app("vh", "x", workers(1), "test"))[0]
    computed = taken = 0
    elsewhere = False

    def meanwhile(lock: str) -> None:
        nonlocal taken
        if lock != name or elsewhere:
            return
        taken += 1
        if taken > computed:  # the last attempt: no mutation computed before its lock
            other.refresh(check=True)
            other.remove_app("vh", "x")

    def mutate(current: ApplicationConfig) -> ApplicationConfig:
        nonlocal computed, elsewhere
        computed += 1
        elsewhere = True
        try:
            a.change_app("vh", "x", workers(10 + computed), "other")
        finally:
            elsewhere = False
        return add_stream_workers(current)

    store.on_lock = meanwhile
    mark = len(engine.calls)
    with pytest.raises(AppNotFound) as info:
        b.change_app("vh", "x", mutate, "test")
    assert (info.value.vhost, info.value.app) == ("vh", "x")
    assert taken == computed + 1
    assert engine.calls[mark:] == []
