"""A hypothesis state machine over ``Api.handle`` against a plain-dict model.

The model is ``{vhost: Vhost}`` in list order, each vhost with its apps in order, each app
with its ``appWorkerCount`` and its output profiles (name → outputStreamName) in order.
Rules create / delete vhosts, create / patch / delete apps and output profiles (including
requests that must fail, on missing or read-only resources, and engine failures); each rule
checks the exact status and the per-item results.  After every step the model, the API's GET
answers and the engine's running apps must agree, and no answer may have been a 5xx (except
the one an injected engine failure asks for).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from conftest import Client, make_api, profile_body
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

VHOSTS = st.sampled_from(["default", "v1", "v2"])
APPS = st.sampled_from(["app", "a", "b"])
PROFILES = st.sampled_from(["default", "bypass_stream", "p", "q"])
STREAMS = st.sampled_from(["s1", "s2", "${OriginStreamName}_x"])


@attrs.define
class App:
    workers: Any = None  # publishers.appWorkerCount (absent: None)
    profiles: dict[str, str] = attrs.field(factory=lambda: {"default": "${OriginStreamName}"})


@attrs.define
class Vhost:
    read_only: bool = False
    apps: dict[str, App] = attrs.field(factory=dict)


def _initial_model() -> dict[str, Vhost]:
    # conftest's Server.xml: values from XML are strings
    config_app = App("1", {"bypass_stream": "${OriginStreamName}"})
    return {"default": Vhost(read_only=True, apps={"app": config_app})}


class ApiMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = Client(make_api())
        self.model = _initial_model()
        self.counter = 0

    # -- helpers ----------------------------------------------------------------------------

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.client.request(method, path, body)
        assert response.status < 500, (method, path, response.body)
        return response.status, json.loads(response.body)

    def lookup(self, vhost: str, app: str | None = None) -> tuple[int, str] | None:
        """The error OME's lookups and read-only check give, or None (writable)."""
        owner = self.model.get(vhost)
        if owner is None:
            return 404, f"[HTTP] Could not find the virtual host: [{vhost}] (404)"
        if app is not None and app not in owner.apps:
            return 404, f"[HTTP] Could not find the application: [{vhost}/{app}] (404)"
        if owner.read_only:
            return 403, f"[HTTP] The VirtualHost is read-only: [{vhost}] (403)"
        return None

    def expect_error(self, got: tuple[int, Any], error: tuple[int, str]) -> None:
        assert got == (error[0], {"message": error[1], "statusCode": error[0]})

    @staticmethod
    def expect_multi(got: tuple[int, Any], statuses: list[int]) -> None:
        status, body = got
        assert [item["statusCode"] for item in body] == statuses
        expected = statuses[0] if len(set(statuses)) == 1 else 207
        assert status == (expected if statuses else 200)

    # -- vhosts -----------------------------------------------------------------------------

    @rule(names=st.lists(VHOSTS, max_size=3))
    def create_vhosts(self, names: list[str]) -> None:
        got = self.send("POST", "/v1/vhosts", [{"name": n} for n in names])
        statuses = []
        for name in names:
            if name in self.model:
                statuses.append(409)
            else:
                statuses.append(200)
                self.model[name] = Vhost()
        self.expect_multi(got, statuses)

    @rule(vhost=VHOSTS)
    def delete_vhost(self, vhost: str) -> None:
        got = self.send("DELETE", f"/v1/vhosts/{vhost}")
        error = self.lookup(vhost)
        if error is not None:
            self.expect_error(got, error)
            return
        assert got == (200, {"message": "OK", "statusCode": 200})
        del self.model[vhost]

    # -- apps -------------------------------------------------------------------------------

    @rule(vhost=VHOSTS, names=st.lists(APPS, max_size=3))
    def create_apps(self, vhost: str, names: list[str]) -> None:
        got = self.send(
            "POST", f"/v1/vhosts/{vhost}/apps", [{"name": n, "type": "live"} for n in names]
        )
        error = self.lookup(vhost)
        if error is not None:
            self.expect_error(got, error)
            return
        apps = self.model[vhost].apps
        statuses = []
        for name in names:
            if name in apps:
                statuses.append(409)
            else:
                statuses.append(200)
                apps[name] = App()
        self.expect_multi(got, statuses)

    @rule(vhost=VHOSTS, app=APPS, workers=st.integers(1, 4))
    def patch_app(self, vhost: str, app: str, workers: int) -> None:
        path = f"/v1/vhosts/{vhost}/apps/{app}"
        got = self.send("PATCH", path, {"publishers": {"appWorkerCount": workers}})
        error = self.lookup(vhost, app)
        if error is not None:
            self.expect_error(got, error)
            return
        assert got[0] == 200
        assert got[1]["response"]["publishers"]["appWorkerCount"] == workers
        self.model[vhost].apps[app].workers = workers

    @rule(vhost=VHOSTS, app=APPS)
    def delete_app(self, vhost: str, app: str) -> None:
        got = self.send("DELETE", f"/v1/vhosts/{vhost}/apps/{app}")
        error = self.lookup(vhost, app)
        if error is not None:
            self.expect_error(got, error)
            return
        assert got == (200, {"message": "OK", "statusCode": 200})
        del self.model[vhost].apps[app]

    @rule(vhost=VHOSTS, app=APPS, workers=st.integers(5, 9))
    def patch_app_engine_fails(self, vhost: str, app: str, workers: int) -> None:
        """The engine cannot start the new config: 500, and nothing changes."""
        if self.lookup(vhost, app) is not None:
            return
        self.client.engine.fail_next("restart_application")
        path = f"/v1/vhosts/{vhost}/apps/{app}"
        response = self.client.request("PATCH", path, {"publishers": {"appWorkerCount": workers}})
        message = f"[HTTP] Failed to create the application: [{vhost}/{app}] (500)"
        assert json.loads(response.body) == {"message": message, "statusCode": 500}

    # -- output profiles --------------------------------------------------------------------

    @rule(vhost=VHOSTS, app=APPS, names=st.lists(PROFILES, max_size=3), stream=STREAMS)
    def create_profiles(self, vhost: str, app: str, names: list[str], stream: str) -> None:
        body = [profile_body(n, stream) for n in names]
        got = self.send("POST", f"/v1/vhosts/{vhost}/apps/{app}/outputProfiles", body)
        error = self.lookup(vhost, app)
        if error is not None:
            self.expect_error(got, error)
            return
        profiles = self.model[vhost].apps[app].profiles
        statuses = []
        for name in names:
            if name in profiles:
                statuses.append(409)
            else:
                statuses.append(200)
                profiles[name] = stream
        self.expect_multi(got, statuses)

    @rule(vhost=VHOSTS, app=APPS, profile=PROFILES, stream=STREAMS)
    def patch_profile(self, vhost: str, app: str, profile: str, stream: str) -> None:
        body = {"outputStreamName": stream, "encodes": {"videos": [{"name": "v", "bypass": True}]}}
        path = f"/v1/vhosts/{vhost}/apps/{app}/outputProfiles/{profile}"
        got = self.send("PATCH", path, body)
        error = self.lookup(vhost, app)
        if error is None and profile not in self.model[vhost].apps[app].profiles:
            error = (
                404,
                f"[HTTP] Could not find the output profile: [{vhost}/{app}/{profile}] (404)",
            )
        if error is not None:
            self.expect_error(got, error)
            return
        assert got == (
            200,
            {"message": "OK", "response": {**body, "name": profile}, "statusCode": 200},
        )
        self.model[vhost].apps[app].profiles[profile] = stream

    @rule(vhost=VHOSTS, app=APPS, profile=PROFILES)
    def delete_profile(self, vhost: str, app: str, profile: str) -> None:
        path = f"/v1/vhosts/{vhost}/apps/{app}/outputProfiles/{profile}"
        got = self.send("DELETE", path)
        error = self.lookup(vhost, app)
        if error is None and profile not in self.model[vhost].apps[app].profiles:
            error = (
                404,
                f"[HTTP] Could not find the output profile: [{vhost}/{app}/{profile}] (404)",
            )
        if error is not None:
            self.expect_error(got, error)
            return
        assert got == (200, {"message": "OK", "statusCode": 200})
        del self.model[vhost].apps[app].profiles[profile]

    # -- the three views agree --------------------------------------------------------------

    @invariant()
    def api_matches_model(self) -> None:
        client = self.client
        assert client.ok("GET", "/v1/vhosts") == list(self.model)
        for name, vhost in self.model.items():
            assert client.ok("GET", f"/v1/vhosts/{name}")["name"] == name
            assert client.ok("GET", f"/v1/vhosts/{name}/apps") == list(vhost.apps)
            for app_name, app in vhost.apps.items():
                base = f"/v1/vhosts/{name}/apps/{app_name}"
                answer = client.ok("GET", base)
                assert answer["name"] == app_name
                assert answer["dynamic"] is False
                assert answer["publishers"].get("appWorkerCount") == app.workers
                # no profile left: OME writes the empty list wrapper as {}
                profiles = answer["outputProfiles"].get("outputProfile", [])
                assert {p["name"]: p["outputStreamName"] for p in profiles} == app.profiles
                assert [p["name"] for p in profiles] == list(app.profiles)
                assert client.ok("GET", base + "/outputProfiles") == list(app.profiles)

    @invariant()
    def engine_matches_registry(self) -> None:
        running = {k: c.to_json() for k, c in self.client.engine.applications().items()}
        snapshot = self.client.api.registry.snapshot
        assert running == {
            (vhost.name, app.name): app.config.to_json()
            for vhost in snapshot.vhosts.values()
            for app in vhost.apps.values()
        }
        assert set(running) == {(v, a) for v, vhost in self.model.items() for a in vhost.apps}
        assert self.client.engine.virtual_hosts() == list(self.model)


ApiMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestApiStateMachine = ApiMachine.TestCase
