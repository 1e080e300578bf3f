"""The restart coordinator seen through the API (ome-rest-api.md §3.10, contract §2–3).

A world of two API-created apps ``vh/a`` and ``vh/b`` plus the config app ``default/app``,
each with live streams, so every test can see whose sessions a change dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Client, deadline, make_api, profile_body

from omeapi._config import ApplicationConfig
from omeapi._engine.protocol import EngineError, EngineResult, RestartOutcome
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.restart import AppEvent

A = "/v1/vhosts/vh/apps/a"
P = profile_body("p")
P3 = profile_body("p3")
#: sessions per app before any change: publisher + viewers
SESSIONS = {("vh", "a"): 4, ("vh", "b"): 3, ("default", "app"): 2}


def failure_message(path: str = "vh/a") -> bytes:
    return (
        b'{"message":"[HTTP] Failed to create the application: [' + path.encode() + b'] (500)",'
        b'"statusCode":500}'
    )


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """A deadlock or an endless loop in the coordinator fails the test instead of hanging."""
    with deadline(10.0):
        yield


class FakeClock:
    """Advances by ``step`` seconds on every reading."""

    def __init__(self, step: float = 0.25) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class World:
    """The API, its engine, and the events its coordinator emitted."""

    def __init__(self, engine: SimulatedEngine | None = None) -> None:
        self.client = Client(make_api(engine))
        self.engine = self.client.engine
        self.events: list[AppEvent] = []
        self.api = self.client.api
        self.api.coordinator.clock = FakeClock()
        self.api.coordinator.subscribe(self.events.append)
        self.client.create_vhost("vh", "a", "b")
        self.client.ok("POST", A + "/outputProfiles", [P])
        self.engine.publish("vh", "a", "s1", viewers=3)
        self.engine.publish("vh", "b", "s2", viewers=1)
        self.engine.add_viewers("vh", "b", "s2")
        self.engine.publish("default", "app", "s3", viewers=1)
        self.events.clear()
        self.mark = len(self.engine.calls)
        self.generations = {key: self.engine.generation(*key) for key in SESSIONS}

    def request(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, body)

    def new_calls(self) -> list[tuple[str, str, str]]:
        return self.engine.calls[self.mark :]

    def restarts(self, vhost: str = "vh", app: str = "a") -> int:
        """Restarts of an app since the world was set up."""
        return self.engine.generation(vhost, app) - self.generations[(vhost, app)]

    def sessions(self) -> dict[tuple[str, str], int]:
        return {key: self.engine.sessions(*key) for key in SESSIONS}

    def app_json(self, vhost: str = "vh", app: str = "a") -> Any:
        return self.client.ok("GET", f"/v1/vhosts/{vhost}/apps/{app}")

    def running(self, vhost: str = "vh", app: str = "a") -> Any:
        config = self.engine.application(vhost, app)
        return None if config is None else config.to_json()


@pytest.fixture
def world() -> World:
    return World()


def without_dynamic(app_json: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in app_json.items() if k != "dynamic"}


# -- a change restarts exactly that app ---------------------------------------------------------

#: (id, method, path, body, status) of every change that restarts app ``vh/a``
CHANGES = [
    ("patch-app", "PATCH", A, {"publishers": {"appWorkerCount": 2}}, 200),
    ("patch-app-type", "PATCH", A, {"type": "vod"}, 200),
    ("post-profiles", "POST", A + "/outputProfiles", [P3], 200),
    ("post-profiles-partly-refused", "POST", A + "/outputProfiles", [P, P3], 207),
    (
        "patch-profile",
        "PATCH",
        A + "/outputProfiles/p",
        {"outputStreamName": "renamed", "encodes": {"audios": [{"name": "x", "bypass": True}]}},
        200,
    ),
    ("delete-profile", "DELETE", A + "/outputProfiles/p", None, 200),
    ("delete-default-profile", "DELETE", A + "/outputProfiles/default", None, 200),
]
CHANGE_IDS = [c[0] for c in CHANGES]
CHANGE_ARGS = [c[1:] for c in CHANGES]


@pytest.mark.parametrize(("method", "path", "body", "status"), CHANGE_ARGS, ids=CHANGE_IDS)
def test_change_restarts_only_that_app(
    world: World, method: str, path: str, body: Any, status: int
) -> None:
    response = world.request(method, path, body)
    assert response.status == status, response.body
    assert world.new_calls() == [("restart_application", "vh", "a")]
    assert world.sessions() == {**SESSIONS, ("vh", "a"): 0}
    assert world.engine.streams("vh", "a") == []
    assert world.engine.streams("vh", "b") == ["s2"]
    assert world.restarts("vh", "a") == 1
    assert world.restarts("vh", "b") == 0
    # registry, engine and the answer agree on the new config
    assert world.running() == without_dynamic(world.app_json())
    assert world.running() == world.api.registry.app("vh", "a").config.to_json()  # type: ignore[union-attr]
    assert world.events == [
        AppEvent("vh", "a", "restart", f"{method} {path}", SESSIONS[("vh", "a")], 0.25)
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "calls"),
    [
        (
            "POST",
            "/v1/vhosts/vh/apps",
            [{"name": "c", "type": "live"}],
            [("create_application", "vh", "c")],
        ),
        ("DELETE", "/v1/vhosts/vh/apps/b", None, [("delete_application", "vh", "b")]),
        ("POST", "/v1/vhosts", [{"name": "vh2"}], [("create_virtual_host", "vh2", "")]),
    ],
    ids=["post-app", "delete-app", "post-vhost"],
)
def test_create_and_delete_restart_nothing(
    world: World, method: str, path: str, body: Any, calls: list[Any]
) -> None:
    """POST app creates only, DELETE app deletes only: other apps keep their sessions."""
    assert world.request(method, path, body).status == 200
    assert world.new_calls() == calls
    expected = dict(SESSIONS)
    if method == "DELETE":
        expected[("vh", "b")] = 0
    assert world.sessions() == expected
    assert world.events == []


def test_delete_vhost_drops_only_its_apps(world: World) -> None:
    world.client.create_vhost("vh2", "x")
    world.engine.publish("vh2", "x", "s", viewers=5)
    assert world.request("DELETE", "/v1/vhosts/vh2").status == 200
    assert world.engine.applications().keys() == {("vh", "a"), ("vh", "b"), ("default", "app")}
    assert world.sessions() == SESSIONS


# -- engine failure: the previous config comes back ----------------------------------------------


@pytest.mark.parametrize(("method", "path", "body", "status"), CHANGE_ARGS, ids=CHANGE_IDS)
def test_failed_restart_restores_previous_config(
    world: World, method: str, path: str, body: Any, status: int
) -> None:
    before = world.app_json()
    before_profiles = world.client.ok("GET", A + "/outputProfiles")
    world.engine.fail_next("restart_application")
    response = world.request(method, path, body)
    assert (response.status, response.body) == (500, failure_message())
    # the app runs again with its previous config; registry unchanged
    assert world.new_calls() == [
        ("restart_application", "vh", "a"),
        ("create_application", "vh", "a"),
    ]
    assert world.running() == without_dynamic(before)
    assert world.app_json() == before
    assert world.client.ok("GET", A + "/outputProfiles") == before_profiles
    assert not world.api.coordinator.failed("vh", "a")
    # its sessions went with the stopped attempt; nobody else's did
    assert world.sessions() == {**SESSIONS, ("vh", "a"): 0}
    assert world.events == [AppEvent("vh", "a", "rollback", f"{method} {path}", 0, 0.25)]
    # and the app can be changed again afterwards
    assert world.request("PATCH", A, {"publishers": {"appWorkerCount": 7}}).status == 200
    assert world.running()["publishers"]["appWorkerCount"] == 7


def test_double_failure_keeps_the_app_as_failed(world: World, caplog: Any) -> None:
    """Neither the new nor the old config starts: the app is kept (marked failed), not lost."""
    caplog.set_level(logging.INFO, logger="omeapi")
    before = world.app_json()
    world.engine.fail_next("restart_application")
    world.engine.fail_next("create_application")
    response = world.request("PATCH", A, {"publishers": {"appWorkerCount": 2}})
    assert (response.status, response.body) == (500, failure_message())
    assert world.running() is None  # not running ...
    assert world.app_json() == before  # ... but never gone
    assert world.client.ok("GET", "/v1/vhosts/vh/apps") == ["a", "b"]
    assert world.api.coordinator.failed("vh", "a")
    assert world.events == [AppEvent("vh", "a", "failed", f"PATCH {A}", 0, 0.25)]
    assert (
        "omeapi",
        logging.ERROR,
        "app vh/a failed: neither the new nor the previous config starts",
    ) in caplog.record_tuples
    assert world.sessions() == {**SESSIONS, ("vh", "a"): 0}

    # A failed app that still cannot start stays failed (and is still there).
    world.engine.fail_next("create_application")
    response = world.request("PATCH", A, {"publishers": {"appWorkerCount": 3}})
    assert (response.status, response.body) == (500, failure_message())
    assert world.app_json() == before
    assert world.api.coordinator.failed("vh", "a")

    # The next change that starts brings it back (even one that alters nothing).
    world.events.clear()
    assert world.request("PATCH", A, {}).status == 200
    assert world.running() == without_dynamic(before)
    assert not world.api.coordinator.failed("vh", "a")
    assert [e.kind for e in world.events] == ["restart"]


class KeepsOldApp(SimulatedEngine):
    """An engine whose failed restart leaves the previous app running (and says so by
    answering the rollback's create with EXISTS)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = 0

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        if self.refuse:
            self.refuse -= 1
            raise EngineError(EngineResult.FAILED, "refused")
        return super().restart_application(vhost, old, new)


def test_an_engine_that_keeps_the_old_app_running_is_not_stuck(caplog: Any) -> None:
    world = World(KeepsOldApp())
    engine = world.engine
    assert isinstance(engine, KeepsOldApp)
    caplog.set_level(logging.INFO, logger="omeapi")
    before = world.app_json()
    engine.refuse = 1
    response = world.request("PATCH", A, {"publishers": {"appWorkerCount": 2}})
    assert (response.status, response.body) == (500, failure_message())
    assert world.running() == without_dynamic(before)  # the engine kept it
    assert world.app_json() == before
    assert not world.api.coordinator.failed("vh", "a")
    assert world.sessions() == SESSIONS  # nothing was stopped
    assert [e.kind for e in world.events] == ["rollback"]
    messages = [m for _, level, m in caplog.record_tuples if level >= logging.WARNING]
    assert messages == [
        "app vh/a: the new config did not start and the engine kept the previous one running"
    ]
    # The next change restarts the running app (no "already exists" from a create).
    assert world.request("PATCH", A, {"publishers": {"appWorkerCount": 3}}).status == 200
    assert world.running()["publishers"]["appWorkerCount"] == 3


def test_failed_app_can_be_deleted(world: World) -> None:
    world.engine.fail_next("restart_application")
    world.engine.fail_next("create_application")
    world.request("PATCH", A, {"publishers": {"appWorkerCount": 2}})
    assert world.request("DELETE", A).status == 200
    assert world.client.ok("GET", "/v1/vhosts/vh/apps") == ["b"]
    assert (
        world.request("POST", "/v1/vhosts/vh/apps", [{"name": "a", "type": "live"}]).status == 200
    )
    assert world.running() is not None


# -- nothing changed: nothing restarts ------------------------------------------------------------


def _p_without_name() -> dict[str, Any]:
    return {k: v for k, v in P.items() if k != "name"}


# fmt: off
NO_OPS = [
    ("patch-empty", "PATCH", A, {}, 200),
    ("patch-same-type", "PATCH", A, {"type": "live"}, 200),
    ("patch-same-nested", "PATCH", A, {"publishers": {"llhls": {}, "ovt": {}}}, 200),
    ("post-profiles-all-refused", "POST", A + "/outputProfiles", [P, profile_body("default")], 409),
    ("post-profiles-empty", "POST", A + "/outputProfiles", [], 200),
    ("patch-profile-same", "PATCH", A + "/outputProfiles/p", _p_without_name(), 200),
    # refused requests touch nothing either
    ("patch-forbidden-key", "PATCH", A, {"name": "x"}, 400),
    ("patch-config-error", "PATCH", A, {"type": "bogus"}, 400),
    ("post-profiles-invalid", "POST", A + "/outputProfiles", [P3, {}], 400),
    ("post-profiles-config-error", "POST", A + "/outputProfiles", [{**P3, "bogus": 1}], 400),
    ("patch-profile-config-error", "PATCH", A + "/outputProfiles/p", {"bogus": 1}, 400),
    ("patch-profile-missing", "PATCH", A + "/outputProfiles/nope", {}, 404),
    ("delete-profile-missing", "DELETE", A + "/outputProfiles/nope", None, 404),
    ("bad-json", "PATCH", A, b"{", 400),
]
# fmt: on


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), [n[1:] for n in NO_OPS], ids=[n[0] for n in NO_OPS]
)
def test_no_restart_without_change(
    world: World, method: str, path: str, body: Any, status: int
) -> None:
    before = world.app_json()
    response = world.request(method, path, body)
    assert response.status == status, response.body
    assert world.new_calls() == []
    assert world.sessions() == SESSIONS
    assert world.restarts() == 0
    assert world.events == []
    assert world.app_json() == before


def test_no_op_answers_current_config(world: World) -> None:
    assert world.client.ok("PATCH", A, {}) == world.app_json()
    assert world.client.ok("PATCH", A + "/outputProfiles/p", _p_without_name()) == P


# -- hot apply ----------------------------------------------------------------------------------


def hot_world(*fields: str) -> World:
    return World(SimulatedEngine(live_fields=fields))


def test_hot_apply_keeps_sessions() -> None:
    world = hot_world("publishers")
    response = world.request("PATCH", A, {"publishers": {"appWorkerCount": 4}})
    assert response.status == 200
    assert world.new_calls() == [("apply_live", "vh", "a")]
    assert world.sessions() == SESSIONS
    assert world.restarts() == 0
    assert world.running()["publishers"]["appWorkerCount"] == 4
    assert world.running() == without_dynamic(world.app_json())
    assert world.events == [AppEvent("vh", "a", "hot_apply", f"PATCH {A}", 0, 0.25)]


WORKERS_4 = {"publishers": {"appWorkerCount": 4}}
VOD = {"type": "vod"}

# fmt: off
HOT_CASES = [
    # (live fields, method, path, body, what happens)
    (("publishers",), "PATCH", A, WORKERS_4, "hot_apply"),
    (("publishers",), "PATCH", A, {**WORKERS_4, **VOD}, "restart"),
    (("publishers", "type"), "PATCH", A, {**WORKERS_4, **VOD}, "hot_apply"),
    (("publishers",), "PATCH", A, {"publishers": {"llhls": {}}, **VOD}, "restart"),
    (("publishers",), "POST", A + "/outputProfiles", [P3], "restart"),
    (("outputProfiles",), "POST", A + "/outputProfiles", [P3], "hot_apply"),
    (("outputProfiles",), "DELETE", A + "/outputProfiles/p", None, "hot_apply"),
    (("outputProfiles",), "PATCH", A, VOD, "restart"),
    ((), "PATCH", A, WORKERS_4, "restart"),
]
# fmt: on


@pytest.mark.parametrize(("live", "method", "path", "body", "kind"), HOT_CASES)
def test_hot_apply_only_when_every_changed_field_is_live(
    live: tuple[str, ...], method: str, path: str, body: Any, kind: str
) -> None:
    world = hot_world(*live)
    assert world.request(method, path, body).status == 200
    assert [e.kind for e in world.events] == [kind]
    dropped = kind == "restart"
    assert world.sessions() == {**SESSIONS, ("vh", "a"): 0 if dropped else 4}
    assert world.running() == without_dynamic(world.app_json())


def test_failed_hot_apply_falls_back_to_restart(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="omeapi")
    world = hot_world("publishers")
    world.engine.fail_next("apply_live")
    assert world.request("PATCH", A, {"publishers": {"appWorkerCount": 4}}).status == 200
    assert world.new_calls() == [("apply_live", "vh", "a"), ("restart_application", "vh", "a")]
    assert world.sessions() == {**SESSIONS, ("vh", "a"): 0}
    assert world.running()["publishers"]["appWorkerCount"] == 4
    assert [e.kind for e in world.events] == ["restart"]
    assert (
        "omeapi",
        logging.WARNING,
        "hot apply of vh/a failed; restarting instead",
    ) in caplog.record_tuples


# -- events and logging -------------------------------------------------------------------------


def test_subscribers_and_log(world: World, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="omeapi")
    second: list[AppEvent] = []

    def broken(event: AppEvent) -> None:
        raise RuntimeError("subscriber bug")

    world.api.coordinator.subscribe(broken)
    world.api.coordinator.subscribe(second.append)
    assert world.request("PATCH", A, {"publishers": {"appWorkerCount": 2}}).status == 200
    # a broken subscriber neither undoes the change nor starves the others
    assert world.running()["publishers"]["appWorkerCount"] == 2
    event = AppEvent("vh", "a", "restart", f"PATCH {A}", 4, 0.25)
    assert world.events == second == [event]
    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        "omeapi",
        logging.INFO,
        f"app vh/a: restart (PATCH {A}), 4 sessions dropped, 0.250 s",
    ) in messages
    assert ("omeapi", logging.ERROR, "AppEvent subscriber failed") in messages


def test_event_per_change(world: World) -> None:
    world.request("POST", A + "/outputProfiles", [P3])
    world.request("DELETE", A + "/outputProfiles/p3")
    world.request("PATCH", "/v1/vhosts/vh/apps/b", {"type": "vod"})
    assert [(e.app, e.kind, e.cause, e.sessions_dropped) for e in world.events] == [
        ("a", "restart", f"POST {A}/outputProfiles", 4),
        ("a", "restart", f"DELETE {A}/outputProfiles/p3", 0),
        ("b", "restart", "PATCH /v1/vhosts/vh/apps/b", 3),
    ]


# -- readers during a restart see the old config or the new one ---------------------------------


class GatedEngine(SimulatedEngine):
    """Once ``armed``, holds every restart until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        if self.armed:
            self.entered.set()
            assert self.release.wait(10)
        return super().restart_application(vhost, old, new)


@pytest.fixture
def gated() -> Iterator[tuple[World, GatedEngine]]:
    engine = GatedEngine()
    world = World(engine)
    engine.armed = True
    yield world, engine
    engine.release.set()


def _in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    return thread, result


@pytest.mark.parametrize("fail", [False, True], ids=["succeeds", "fails"])
def test_reader_sees_old_config_during_restart(
    gated: tuple[World, GatedEngine], fail: bool
) -> None:
    world, engine = gated
    before = world.app_json()
    if fail:
        engine.fail_next("restart_application")
    thread, result = _in_background(
        lambda: world.request("PATCH", A, {"publishers": {"appWorkerCount": 9}})
    )
    assert engine.entered.wait(10)
    # mid-restart: the app is listed and shows its previous config
    assert world.client.ok("GET", "/v1/vhosts/vh/apps") == ["a", "b"]
    assert world.app_json() == before
    assert world.client.ok("GET", A + "/outputProfiles") == ["default", "p"]
    # other apps can change meanwhile (their own lock)
    assert world.request("DELETE", "/v1/vhosts/vh/apps/b").status == 200
    engine.release.set()
    thread.join(10)
    assert result[0].status == (500 if fail else 200)
    after = world.app_json()
    if fail:
        assert after == before
    else:
        assert after == {**before, "publishers": {**before["publishers"], "appWorkerCount": 9}}
    assert world.client.ok("GET", "/v1/vhosts/vh/apps") == ["a"]
