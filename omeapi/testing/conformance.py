"""The engine conformance suite: does a host's :class:`~omeapi.MediaEngine` behave as
the API expects?

Point :func:`make_conformance_tests` (or :func:`run_conformance`) at a factory of your engine.
The suite builds an :class:`~omeapi.Api` over a fresh engine for every example and
drives it with random API calls, as a hypothesis ``RuleBasedStateMachine``: create and delete
vhosts and apps, patch apps, add / replace / delete output profiles, refused near-miss bodies,
publish and pull streams, delete them, push, record, statistics, and engine failures injected
in the middle of changes.  After every call it checks the invariants the API relies on; a
broken one raises :class:`ConformanceError` naming it:

``starts-config``
    The engine starts the config's vhosts and apps (when the ``Api`` is built).
``engine-matches-registry``
    The engine runs exactly the vhosts and apps the API lists (an app the API marked failed
    excepted), each with the config the API shows.
``restart-drops-sessions``, ``restart-reports-drops``
    A change that restarts an app drops all of its sessions and reports how many.
``only-changed-app-restarts``
    No other app loses a session (nor does any app when nothing changed).
``hot-apply-keeps-sessions``
    A change the engine applies live (``live_fields``) drops nothing.
``rollback-keeps-previous-config``, ``failed-restart-stops-app``
    When the engine fails to start a new config, the previous one runs again, is what the API
    shows, and the failed attempt left the app stopped (its sessions dropped).
``failed-app-kept``
    When the previous config does not start either, the API keeps the app (marked failed)
    and the engine does not run it.
``no-5xx``
    No answer is a 5xx, except the documented answers to the failures the suite injected.
``answers``
    Statuses and messages are OME's for what the suite asked (409 for a duplicate, 404 for a
    missing app, ...), in OME's envelope: an engine that refuses a legitimate call shows up
    here.
``stream-detail-shape``, ``metrics-shape``, ``push-shape``, ``record-shape``, ``queue-shape``
    Runtime answers keep OME's shapes (:mod:`omeapi.testing.shapes`, docs/runtime.md).
``streams-listed``, ``push-answers``, ``record-answers``
    What was published or pulled is listed, what was deleted is not; jobs echo their request
    and stop when asked.
``sessions-agree``, ``session-shape``
    A stream's sessions (an omeapi extension: ``list_sessions``) are its publisher and its
    viewers, as many as the statistics count (``connections``), sending and receiving no
    more than its byte totals; disconnecting a viewer removes it and the counts follow.  An
    engine without session control answers "not supported" (503) and passes.

The suite observes the engine through a **probe** (see :class:`EngineProbe`): by default the
engine itself, else what ``probe(engine)`` returns.  It may implement any part of it; the
checks that need a missing part are skipped.
"""

from __future__ import annotations

import base64
import json
import unittest
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, cast, runtime_checkable

import attrs
from hypothesis import HealthCheck
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from omeapi import open_api
from omeapi._config import ApplicationConfig, ServerConfig, parse_server_xml
from omeapi._engine.features import publisher
from omeapi._engine.protocol import EngineError, MediaEngine
from omeapi._state.restart import AppEvent
from omeapi._wire.request import ApiRequest
from omeapi.testing import shapes
from omeapi.testing.strategies import (
    NearMiss,
    application_json,
    invalid_app_patch_json,
    invalid_application_json,
    invalid_output_profile_json,
    invalid_virtual_host_json,
    output_profile_json,
    virtual_host_json,
)

__all__ = [
    "DEFAULT_SERVER_XML",
    "DEFAULT_SETTINGS",
    "GROUPS",
    "ConformanceError",
    "ConformanceMachine",
    "EngineProbe",
    "FailureProbe",
    "RunningProbe",
    "SessionProbe",
    "conformance_machine",
    "make_conformance_tests",
    "run_conformance",
]

E = TypeVar("E", bound=MediaEngine)
Key = tuple[str, str]


# -- the probe ---------------------------------------------------------------------------------


@runtime_checkable
class RunningProbe(Protocol):
    """What the engine runs (for ``engine-matches-registry``)."""

    def applications(self) -> Mapping[tuple[str, str], ApplicationConfig]:
        """Every running app, ``(vhost, app)`` → the config it runs with (the object or an
        equal one: configs are compared by ``to_json()``)."""

    def virtual_hosts(self) -> Iterable[str]:
        """Names of the running vhosts."""


@runtime_checkable
class SessionProbe(Protocol):
    """Sessions on apps, and a way to make some (for the restart checks)."""

    def publish(self, vhost: str, app: str, stream: str, *, viewers: int = 0) -> None:
        """Start input stream ``stream`` on a running app, with one publisher and ``viewers``
        viewers: afterwards ``sessions(vhost, app)`` is ``1 + viewers`` more, and the API
        lists the stream."""

    def sessions(self, vhost: str, app: str) -> int:
        """Sessions (publishers and viewers) on an app; 0 when it is not running."""


@runtime_checkable
class FailureProbe(Protocol):
    """Failure injection (for the rollback checks)."""

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next ``times`` calls of the engine method ``operation`` raise
        ``EngineError(FAILED)``, having done what a real failure does (a failed
        ``restart_application`` leaves the app stopped).  The suite injects
        ``restart_application``, ``create_application``, ``delete_application`` and
        ``create_virtual_host``."""


@runtime_checkable
class EngineProbe(RunningProbe, SessionProbe, FailureProbe, Protocol):
    """The whole probe: :class:`~omeapi.SimulatedEngine` is one."""


# -- errors, settings, config ------------------------------------------------------------------


class ConformanceError(AssertionError):
    """An invariant the engine broke: ``invariant`` names it (see the module docstring)."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"[{invariant}] {detail}")
        self.invariant = invariant
        self.detail = detail


#: The settings used when none are given: 25 runs of up to 30 calls each.
DEFAULT_SETTINGS = Settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: The groups of rules a host may leave out (``skip=``), e.g. what its engine cannot do yet.
GROUPS = frozenset(
    {"failures", "near_misses", "streams", "pull", "push", "record", "stats", "sessions"}
)

#: The config used when none is given: an API token and a read-only vhost ``default`` with
#: an app ``app`` that publishes LL-HLS, push and file (record).
DEFAULT_SERVER_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
  <Name>omeapi-conformance</Name>
  <Type>origin</Type>
  <IP>*</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers><API><AccessToken>conformance-token</AccessToken></API></Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Applications>
        <Application>
          <Name>app</Name>
          <Type>live</Type>
          <OutputProfiles>
            <OutputProfile>
              <Name>bypass</Name>
              <OutputStreamName>${OriginStreamName}</OutputStreamName>
              <Encodes>
                <Video><Name>bypass_video</Name><Bypass>true</Bypass></Video>
                <Audio><Name>bypass_audio</Name><Bypass>true</Bypass></Audio>
              </Encodes>
            </OutputProfile>
          </OutputProfiles>
          <Providers><RTMP/><RTSPPull/></Providers>
          <Publishers><LLHLS/><Push/><FILE/></Publishers>
        </Application>
      </Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
"""

#: Names the rules create and delete (few, so that they collide: 409s, 404s, re-creation).
_VHOSTS = ("v1", "v2")
_APPS = ("a", "b")
_PROFILES = ("p1", "p2", "default")
#: What a runtime-ready app adds to its config: publishers the push and record rules need.
_RUNTIME_PUBLISHERS: dict[str, object] = {"push": {}, "file": {}}
_RUNTIME_PROVIDERS: dict[str, object] = {"rtmp": {}, "rtspPull": {}}


@attrs.frozen
class _Setup:
    engine_factory: Callable[[], MediaEngine]
    probe: Callable[[Any], object] | None
    config: ServerConfig
    skip: frozenset[str]
    pull_urls: tuple[str, ...]


@attrs.define
class _Vhost:
    read_only: bool
    apps: dict[str, None] = attrs.field(factory=dict)


#: One entry of a multi-item answer (a bare array of them).
_ITEM = shapes.Obj(
    {"message": shapes.Str(), "statusCode": shapes.Int(minimum=100)},
    {"response": shapes.Anything()},
)


def _failed_create(vhost: str, app: str) -> str:
    return f"Failed to create the application: [{vhost}/{app}]"


# -- the state machine -------------------------------------------------------------------------


class ConformanceMachine(RuleBasedStateMachine):
    """The suite's state machine; :func:`conformance_machine` binds it to an engine factory."""

    conformance: ClassVar[_Setup]

    def __init__(self) -> None:
        super().__init__()
        setup = self.conformance
        self.engine = setup.engine_factory()
        probe: object = self.engine if setup.probe is None else setup.probe(self.engine)
        self.running = probe if isinstance(probe, RunningProbe) else None
        self.sessions = probe if isinstance(probe, SessionProbe) else None
        self.failures = probe if isinstance(probe, FailureProbe) else None
        config = setup.config
        manager = config.api_manager
        token = manager.access_token if manager is not None else None
        try:
            # A private in-memory store: every example starts from the config alone.
            self.api = open_api(
                config,
                engine=self.engine,
                store="memory",
                allow_no_auth=not token,
                brake=False,
            )
        except EngineError as exc:
            raise ConformanceError(
                "starts-config", f"the engine cannot start the config's vhosts and apps: {exc}"
            ) from exc
        self.headers: list[tuple[str, str]] = []
        if token:
            encoded = base64.b64encode(token.encode("utf-8", "surrogatepass")).decode()
            self.headers.append(("Authorization", f"Basic {encoded}"))
        self.headers.append(("Host", self._host_name()))
        self.events: list[AppEvent] = []
        self.api.coordinator.subscribe(self.events.append)
        self.counter = 0
        self.model: dict[str, _Vhost] = {
            name: _Vhost(entry.read_only, dict.fromkeys(entry.apps))
            for name, entry in self.api.registry.snapshot.vhosts.items()
        }

    def teardown(self) -> None:
        self.api.close()
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()  # an engine holding threads or sockets gives them back

    def _host_name(self) -> str:
        """A Host header ``<Managers><Host><Names>`` lets through."""
        names = self.api.hosts.names
        candidates = [n.replace("*", "x").replace("?", "") for n in names] + ["localhost"]
        return next((h for h in candidates if self.api.hosts.allows(h)), "localhost")

    def fresh(self, prefix: str) -> str:
        """A name not used before in this run."""
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- requests -----------------------------------------------------------------------------

    def send(
        self, method: str, path: str, body: Any = None, *, allowed: tuple[int, str] | None = None
    ) -> tuple[int, Any]:
        """One request through ``Api.handle``: status and decoded body.  A 5xx is a
        ``no-5xx`` failure unless it is ``allowed`` (status and message: the documented
        answer to a failure the rule injected, or to a pull that failed)."""
        raw = b"" if body is None else json.dumps(body).encode()
        path, _, query = path.partition("?")
        request = ApiRequest.build(method, path, self.headers, raw, query=query, client="192.0.2.7")
        response = self.api.handle(request)
        decoded = json.loads(response.body) if response.body else None
        envelope = shapes.ListOf(_ITEM) if isinstance(decoded, list) else shapes.ENVELOPE
        errors = shapes.shape_errors(decoded, envelope)
        if errors or (isinstance(decoded, dict) and decoded["statusCode"] != response.status):
            raise ConformanceError("answers", f"{method} {path}: not OME's envelope: {errors}")
        if response.status >= 500:
            message = _message(decoded)
            if allowed is None or (response.status, message) != allowed:
                raise ConformanceError(
                    "no-5xx", f"{method} {path} answered {response.status}: {message!r}"
                )
        return response.status, decoded

    def change(
        self, method: str, path: str, body: Any = None, *, allowed: tuple[int, str] | None = None
    ) -> tuple[int, Any]:
        """:meth:`send` for a request that may change vhosts, apps or profiles: the sessions
        of every running app are counted before and checked after, against the restarts the
        coordinator reported."""
        before = self._session_counts()
        self.events.clear()
        got = self.send(method, path, body, allowed=allowed)
        self._check_sessions(before)
        return got

    def expect(self, got: tuple[int, Any], status: int, message: str | None, what: str) -> None:
        """The answer is ``status`` with an envelope ``message`` (None: any envelope)."""
        answer_status, body = got
        if answer_status != status or (message is not None and _message(body) != message):
            raise ConformanceError(
                "answers", f"{what}: expected {status} {message or ''}, got {answer_status} {body}"
            )

    def expect_items(self, got: tuple[int, Any], statuses: list[int], what: str) -> None:
        """A multi-item answer with these per-item statuses (and OME's aggregate status)."""
        status, body = got
        items = [item.get("statusCode") for item in body] if isinstance(body, list) else None
        overall = (statuses[0] if len(set(statuses)) == 1 else 207) if statuses else 200
        if items != statuses or status != overall:
            raise ConformanceError(
                "answers", f"{what}: expected {overall} with items {statuses}, got {status} {body}"
            )

    # -- what exists ----------------------------------------------------------------------------

    def _failed(self, key: Key) -> bool:
        return self.api.registry.app(*key) is not None and self.api.coordinator.failed(*key)

    def apps(self, *, writable: bool = False, running: bool = False) -> list[Key]:
        keys = [
            (v, a)
            for v, vhost in self.model.items()
            if not (writable and vhost.read_only)
            for a in vhost.apps
        ]
        return [k for k in keys if not (running and self._failed(k))]

    def config_of(self, key: Key) -> ApplicationConfig:
        entry = self.api.registry.app(*key)
        assert entry is not None, key
        return entry.config

    def runtime_apps(self, publisher_name: str) -> list[Key]:
        """Running apps whose config enables ``publisher_name`` (XML name)."""
        return [
            k
            for k in self.apps(running=True)
            if publisher(self.config_of(k), publisher_name) is not None
        ]

    def _lookup_error(self, vhost: str, app: str | None = None) -> tuple[int, str] | None:
        owner = self.model.get(vhost)
        if owner is None:
            return 404, f"[HTTP] Could not find the virtual host: [{vhost}] (404)"
        if app is not None and app not in owner.apps:
            return 404, f"[HTTP] Could not find the application: [{vhost}/{app}] (404)"
        if owner.read_only:
            return 403, f"[HTTP] The VirtualHost is read-only: [{vhost}] (403)"
        return None

    def _skipped(self, group: str) -> bool:
        return group in self.conformance.skip

    # -- sessions around a change ---------------------------------------------------------------

    def _session_counts(self) -> dict[Key, int]:
        if self.sessions is None:
            return {}
        return {key: self.sessions.sessions(*key) for key in self.apps(running=True)}

    def _check_sessions(self, before: dict[Key, int]) -> None:
        if self.sessions is None:
            return
        last: dict[Key, AppEvent] = {(e.vhost, e.app): e for e in self.events}
        # What the API holds now (the rule updates its model only after this check).
        running = {
            (vhost, app)
            for vhost, entry in self.api.registry.snapshot.vhosts.items()
            for app, app_entry in entry.apps.items()
            if not self.api.coordinator.failed(vhost, app)
        }
        for key, count in before.items():
            if key not in running:
                continue  # deleted, or failed (checked by the rule)
            now = self.sessions.sessions(*key)
            latest = last.get(key)
            where = "{}/{}".format(*key)
            if latest is None:
                if now != count:
                    raise ConformanceError(
                        "only-changed-app-restarts",
                        f"{where} had {count} sessions and now {now}, but was not changed",
                    )
            elif latest.kind == "restart":
                if now != 0:
                    raise ConformanceError(
                        "restart-drops-sessions",
                        f"{where} was restarted with a new config but still has {now} of its "
                        f"{count} sessions",
                    )
                if latest.sessions_dropped != count:
                    raise ConformanceError(
                        "restart-reports-drops",
                        f"restarting {where} dropped {count} sessions but the engine "
                        f"reported {latest.sessions_dropped}",
                    )
            elif latest.kind == "hot_apply":
                if now != count:
                    raise ConformanceError(
                        "hot-apply-keeps-sessions",
                        f"{where} was changed live but went from {count} to {now} sessions",
                    )
            elif latest.kind == "rollback" and now != 0:
                raise ConformanceError(
                    "failed-restart-stops-app",
                    f"the failed restart of {where} left {now} of its {count} sessions: "
                    "restart_application must leave the app stopped when it fails",
                )

    def pick(self, data: st.DataObject, keys: list[Key], label: str = "app") -> Key:
        """One of ``keys``, a writable one four times out of five: changes to read-only
        apps only ever get 403."""
        writable = [k for k in keys if not self.model[k[0]].read_only]
        if writable and len(writable) < len(keys) and data.draw(st.integers(0, 4), label="rw"):
            keys = writable
        return data.draw(st.sampled_from(keys), label=label)

    def _audience(self, key: Key, data: st.DataObject) -> None:
        """Put streams with viewers on the app a change is about to hit, and on another
        running app: a restart that drops nothing, or a bystander without sessions, would
        prove nothing."""
        if self.sessions is None:
            return
        running = self.apps(running=True)
        targets = [key] if key in running else []
        if running:
            targets.append(data.draw(st.sampled_from(running), label="bystander"))
        for target in targets:
            viewers = data.draw(st.integers(0, 3), label="viewers")
            self.sessions.publish(*target, self.fresh("audience"), viewers=viewers)

    # -- vhosts ---------------------------------------------------------------------------------

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        """Every run starts with a writable vhost holding two apps, one runtime-ready: what
        most rules need, without waiting for them to be created."""
        vhost = _VHOSTS[0]
        got = self.change("POST", "/v1/vhosts", [{"name": vhost}])
        self.expect_items(got, [200], "POST /v1/vhosts")
        self.model[vhost] = _Vhost(False)
        bodies = [self._app_body(_APPS[0], data, runtime=True), self._app_body(_APPS[1], data)]
        got = self.change("POST", f"/v1/vhosts/{vhost}/apps", bodies)
        self.expect_items(got, [200, 200], "POST apps")
        self.model[vhost].apps.update(dict.fromkeys(_APPS))

    @rule(names=st.lists(st.sampled_from(_VHOSTS), min_size=1, max_size=2), data=st.data())
    def create_vhosts(self, names: list[str], data: st.DataObject) -> None:
        bodies: list[dict[str, Any]] = []
        apps_of: list[list[str]] = []
        for name in names:
            body: dict[str, Any] = {
                **data.draw(virtual_host_json(tls=False), label="vhost"),
                "name": name,
            }
            apps: list[str] = []
            if data.draw(st.booleans(), label="with apps"):
                apps = data.draw(st.lists(st.sampled_from(_APPS), unique=True, max_size=2))
                body["applications"] = [{"name": a, "type": "live"} for a in apps]
            bodies.append(body)
            apps_of.append(apps)
        got = self.change("POST", "/v1/vhosts", bodies)
        statuses = []
        for name, apps in zip(names, apps_of, strict=True):
            if name in self.model:
                statuses.append(409)
            else:
                statuses.append(200)
                self.model[name] = _Vhost(False, dict.fromkeys(apps))
        self.expect_items(got, statuses, "POST /v1/vhosts")

    @rule(name=st.sampled_from(("default", *_VHOSTS)))
    def delete_vhost(self, name: str) -> None:
        got = self.change("DELETE", f"/v1/vhosts/{name}")
        error = self._lookup_error(name)
        if error is not None:
            self.expect(got, *error, f"DELETE vhost {name}")
            return
        self.expect(got, 200, "OK", f"DELETE vhost {name}")
        del self.model[name]

    @precondition(lambda self: not self._skipped("failures") and self.failures is not None)
    @rule(name=st.sampled_from(_VHOSTS))
    def create_vhost_fails(self, name: str) -> None:
        """The engine cannot start the vhost: 400 for the item, nothing is created."""
        if name in self.model:
            return
        assert self.failures is not None
        self.failures.fail_next("create_virtual_host")
        got = self.change("POST", "/v1/vhosts", [{"name": name}])
        expected = [{"message": f"Failed to create the virtual host: [{name}]", "statusCode": 400}]
        if got != (400, expected):
            raise ConformanceError("answers", f"failed vhost creation answered {got}")

    # -- apps -----------------------------------------------------------------------------------

    def _app_body(self, name: str, data: st.DataObject, *, runtime: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {**data.draw(application_json(), label="app"), "name": name}
        if runtime or data.draw(st.booleans(), label="runtime-ready"):
            publishers = body.get("publishers")
            providers = body.get("providers")
            body["publishers"] = {
                **(publishers if isinstance(publishers, dict) else {}),
                **_RUNTIME_PUBLISHERS,
            }
            body["providers"] = {
                **(providers if isinstance(providers, dict) else {}),
                **_RUNTIME_PROVIDERS,
            }
        return body

    @rule(names=st.lists(st.sampled_from(_APPS), min_size=1, max_size=2), data=st.data())
    def create_apps(self, names: list[str], data: st.DataObject) -> None:
        pool = [v for v, entry in self.model.items() if not entry.read_only]
        if not pool or not data.draw(st.integers(0, 3), label="rw"):
            pool = sorted({*self.model, *_VHOSTS})  # read-only and missing ones too
        vhost = data.draw(st.sampled_from(pool), label="vhost")
        got = self.change(
            "POST", f"/v1/vhosts/{vhost}/apps", [self._app_body(n, data) for n in names]
        )
        error = self._lookup_error(vhost)
        if error is not None:
            self.expect(got, *error, f"POST apps of {vhost}")
            return
        apps = self.model[vhost].apps
        statuses = []
        for name in names:
            statuses.append(409 if name in apps else 200)
            apps[name] = None
        self.expect_items(got, statuses, f"POST apps of {vhost}")

    def _missing_apps(self) -> list[Key]:
        return [
            (v, a)
            for v, entry in self.model.items()
            if not entry.read_only
            for a in _APPS
            if a not in entry.apps
        ]

    @precondition(
        lambda self: (
            not self._skipped("failures") and self.failures is not None and self._missing_apps()
        )
    )
    @rule(data=st.data())
    def create_app_fails(self, data: st.DataObject) -> None:
        """The engine cannot start a new app: 500 for the item, the app is not created."""
        vhost, name = data.draw(st.sampled_from(self._missing_apps()), label="app")
        assert self.failures is not None
        self.failures.fail_next("create_application")
        message = _failed_create(vhost, name)
        got = self.change(
            "POST",
            f"/v1/vhosts/{vhost}/apps",
            [self._app_body(name, data)],
            allowed=(500, message),
        )
        if got != (500, [{"message": message, "statusCode": 500}]):
            raise ConformanceError("answers", f"failed app creation answered {got}")

    @rule(data=st.data())
    def delete_app(self, data: st.DataObject) -> None:
        existing = self.apps()
        vhost, app = self.pick(data, existing) if existing else ("default", "app")
        if not existing or not data.draw(st.integers(0, 3), label="existing"):
            vhost = data.draw(st.sampled_from(("default", *_VHOSTS)), label="vhost")
            app = data.draw(st.sampled_from(("app", *_APPS)), label="app")
        got = self.change("DELETE", f"/v1/vhosts/{vhost}/apps/{app}")
        error = self._lookup_error(vhost, app)
        if error is not None:
            self.expect(got, *error, f"DELETE app {vhost}/{app}")
            return
        self.expect(got, 200, "OK", f"DELETE app {vhost}/{app}")
        del self.model[vhost].apps[app]

    @precondition(
        lambda self: (
            not self._skipped("failures")
            and self.failures is not None
            and self.apps(writable=True, running=True)
        )
    )
    @rule(data=st.data())
    def delete_app_fails(self, data: st.DataObject) -> None:
        """The engine cannot stop an app: 500, and the app stays (and runs)."""
        vhost, app = data.draw(st.sampled_from(self.apps(writable=True, running=True)))
        assert self.failures is not None
        self.failures.fail_next("delete_application")
        message = f"[HTTP] Failed to delete the application: [{vhost}/{app}] (500)"
        got = self.change("DELETE", f"/v1/vhosts/{vhost}/apps/{app}", allowed=(500, message))
        self.expect(got, 500, message, "a failed app delete")

    @precondition(lambda self: self.apps())
    @rule(data=st.data())
    def patch_app(self, data: st.DataObject) -> None:
        key = self.pick(data, self.apps())
        self._audience(key, data)
        patch = data.draw(_app_patches(), label="patch")
        got = self.change("PATCH", "/v1/vhosts/{}/apps/{}".format(*key), patch)
        error = self._lookup_error(*key)
        if error is not None:
            self.expect(got, *error, "PATCH app")
            return
        self.expect(got, 200, "OK", "PATCH app")

    def _failing_patch(self, key: Key) -> dict[str, Any] | None:
        """A patch that really changes the app and that the engine cannot apply live (so
        ``restart_application`` is called), or None."""
        live = self.engine.live_fields()
        current = self.config_of(key).to_json()
        if "publishers" not in live:
            publishers = current.get("publishers")
            workers = publishers.get("appWorkerCount") if isinstance(publishers, dict) else None
            return {"publishers": {"appWorkerCount": 3 if str(workers) != "3" else 2}}
        if "type" not in live:
            return {"type": "vod" if current.get("type") == "live" else "live"}
        return None

    @precondition(
        lambda self: (
            not self._skipped("failures")
            and self.failures is not None
            and self.apps(writable=True, running=True)
        )
    )
    @rule(data=st.data(), twice=st.booleans())
    def patch_app_fails(self, data: st.DataObject, twice: bool) -> None:
        """The engine cannot start the new config: 500, the previous config runs again; or,
        with ``twice``, that fails too: the app is kept, marked failed, and not running."""
        key = data.draw(st.sampled_from(self.apps(writable=True, running=True)), label="app")
        patch = self._failing_patch(key)
        if patch is None:
            return
        self._audience(key, data)
        where = "{}/{}".format(*key)
        previous = self.config_of(key).to_json()
        assert self.failures is not None
        self.failures.fail_next("restart_application")
        if twice:
            self.failures.fail_next("create_application")
        message = f"[HTTP] {_failed_create(*key)} (500)"
        got = self.change(
            "PATCH", "/v1/vhosts/{}/apps/{}".format(*key), patch, allowed=(500, message)
        )
        self.expect(got, 500, message, "a PATCH the engine cannot start")
        status, shown = self.send("GET", "/v1/vhosts/{}/apps/{}:".format(*key))
        if status != 200 or _response(shown) != previous:
            raise ConformanceError(
                "failed-app-kept" if twice else "rollback-keeps-previous-config",
                f"after a failed restart of {where} the API shows {status} {shown}, "
                f"not the previous config {previous}",
            )
        if self.running is None:
            return
        runs = self.running.applications().get(key)
        if twice:
            if not self._failed(key) or runs is not None:
                raise ConformanceError(
                    "failed-app-kept",
                    f"neither config of {where} starts: the app must be marked failed "
                    f"(is {self._failed(key)}) and not run (runs {runs is not None})",
                )
        elif runs is None or runs.to_json() != previous:
            raise ConformanceError(
                "rollback-keeps-previous-config",
                f"after a failed restart of {where} the engine runs "
                f"{None if runs is None else runs.to_json()}, not the previous config {previous}",
            )

    # -- output profiles ----------------------------------------------------------------------

    def _profile_names(self, key: Key) -> list[str]:
        return [p.name for p in self.config_of(key).output_profiles]

    @precondition(lambda self: self.apps())
    @rule(names=st.lists(st.sampled_from(_PROFILES), min_size=1, max_size=2), data=st.data())
    def create_profiles(self, names: list[str], data: st.DataObject) -> None:
        key = self.pick(data, self.apps())
        self._audience(key, data)
        bodies = [data.draw(output_profile_json(n, min_encodes=1), label="profile") for n in names]
        path = "/v1/vhosts/{}/apps/{}/outputProfiles".format(*key)
        existing = set(self._profile_names(key))
        got = self.change("POST", path, bodies)
        error = self._lookup_error(*key)
        if error is not None:
            self.expect(got, *error, "POST outputProfiles")
            return
        statuses = []
        for name in names:
            statuses.append(409 if name in existing else 200)
            existing.add(name)
        self.expect_items(got, statuses, "POST outputProfiles")

    def _profile_name(self, key: Key, data: st.DataObject) -> str:
        """Mostly one of the app's profiles, else any name (a 404)."""
        names = self._profile_names(key)
        if not names or not data.draw(st.integers(0, 3), label="existing"):
            names = ["bypass", *_PROFILES]
        return data.draw(st.sampled_from(names), label="profile")

    @precondition(lambda self: self.apps())
    @rule(data=st.data())
    def patch_profile(self, data: st.DataObject) -> None:
        key = self.pick(data, self.apps())
        name = self._profile_name(key, data)
        self._audience(key, data)
        body = data.draw(output_profile_json(name, min_encodes=1), label="profile")
        del body["name"]
        exists = name in self._profile_names(key)
        got = self.change(
            "PATCH", "/v1/vhosts/{}/apps/{}/outputProfiles/{}".format(*key, name), body
        )
        error = self._profile_error(key, name, exists)
        if error is not None:
            self.expect(got, *error, "PATCH outputProfile")
            return
        self.expect(got, 200, "OK", "PATCH outputProfile")

    def _profile_error(
        self, key: tuple[str, str], name: str, exists: bool
    ) -> tuple[int, str] | None:
        """What a change to profile ``name`` of app ``key`` must answer, if not success."""
        error = self._lookup_error(*key)
        if error is None and not exists:
            return (
                404,
                "[HTTP] Could not find the output profile: [{}/{}/{}] (404)".format(*key, name),
            )
        return error

    @precondition(lambda self: self.apps())
    @rule(data=st.data())
    def delete_profile(self, data: st.DataObject) -> None:
        key = self.pick(data, self.apps())
        name = self._profile_name(key, data)
        self._audience(key, data)
        exists = name in self._profile_names(key)
        got = self.change("DELETE", "/v1/vhosts/{}/apps/{}/outputProfiles/{}".format(*key, name))
        error = self._profile_error(key, name, exists)
        if error is not None:
            self.expect(got, *error, "DELETE outputProfile")
            return
        self.expect(got, 200, "OK", "DELETE outputProfile")

    # -- near misses ----------------------------------------------------------------------------

    @precondition(lambda self: not self._skipped("near_misses") and self.apps(writable=True))
    @rule(kind=st.sampled_from(["vhost", "app", "patch", "profile"]), data=st.data())
    def near_miss(self, kind: str, data: st.DataObject) -> None:
        """A body one mistake away from valid: OME's exact answer, and nothing changes."""
        key = data.draw(st.sampled_from(self.apps(writable=True)), label="app")
        self._audience(key, data)
        app_path = "/v1/vhosts/{}/apps/{}".format(*key)
        near: NearMiss
        if kind == "vhost":
            near = data.draw(invalid_virtual_host_json())
            got = self.change("POST", "/v1/vhosts", [near.body])
            wanted: Any = [{"message": near.message, "statusCode": near.status}]
        else:
            if kind == "app":
                near = data.draw(invalid_application_json())
                got = self.change("POST", f"/v1/vhosts/{key[0]}/apps", [near.body])
            elif kind == "patch":
                near = data.draw(invalid_app_patch_json())
                got = self.change("PATCH", app_path, near.body)
            else:
                near = data.draw(invalid_output_profile_json())
                got = self.change("POST", app_path + "/outputProfiles", [near.body])
            wanted = {"message": near.message, "statusCode": near.status}
        if got != (near.status, wanted):
            raise ConformanceError("answers", f"near miss ({near.flaw}) answered {got}")
        if self.events:
            raise ConformanceError(
                "answers", f"a refused request ({near.flaw}) changed {self.events}"
            )

    # -- streams ----------------------------------------------------------------------------------

    def _streams(self, key: Key) -> list[str]:
        got = self.send("GET", "/v1/vhosts/{}/apps/{}/streams".format(*key))
        streams = _response(got[1])
        errors = shapes.shape_errors(streams, shapes.ListOf(shapes.Str()))
        if got[0] != 200 or errors:
            raise ConformanceError("streams-listed", f"GET streams of {key}: {got} {errors}")
        result: list[str] = streams
        return result

    @precondition(
        lambda self: (
            not self._skipped("streams") and self.sessions is not None and self.apps(running=True)
        )
    )
    @rule(data=st.data(), viewers=st.integers(0, 3))
    def publish(self, data: st.DataObject, viewers: int) -> None:
        key = data.draw(st.sampled_from(self.apps(running=True)), label="app")
        assert self.sessions is not None
        before = self.sessions.sessions(*key)
        stream = self.fresh("s")
        self.sessions.publish(*key, stream, viewers=viewers)
        after = self.sessions.sessions(*key)
        if after != before + 1 + viewers:
            raise ConformanceError(
                "streams-listed",
                f"publishing with {viewers} viewers took {key} from {before} to {after} sessions",
            )
        if stream not in self._streams(key):
            raise ConformanceError("streams-listed", f"published {stream} is not listed on {key}")

    @precondition(lambda self: not self._skipped("pull") and self.apps(running=True))
    @rule(data=st.data())
    def pull_stream(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.apps(running=True)), label="app")
        url = data.draw(st.sampled_from(self.conformance.pull_urls), label="url")
        name = self.fresh("pulled")
        path = "/v1/vhosts/{}/apps/{}/streams".format(*key)
        host = dict(self.headers)["Host"]
        failed = (502, f"[HTTP] Could not pull the stream : http://{host}{path} (502)")
        got = self.send("POST", path, {"name": name, "urls": [url]}, allowed=failed)
        if got[0] == 502:
            return  # the source could not be pulled: OME's answer for it
        self.expect(got, 201, "Created", f"pull {url}")
        if name not in self._streams(key):
            raise ConformanceError("streams-listed", f"pulled {name} is not listed on {key}")

    @precondition(lambda self: not self._skipped("streams") and self.apps(running=True))
    @rule(data=st.data())
    def delete_stream(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.apps(running=True)), label="app")
        streams = self._streams(key)
        if not streams:
            return
        stream = data.draw(st.sampled_from(streams), label="stream")
        got = self.send("DELETE", "/v1/vhosts/{}/apps/{}/streams/{}".format(*key, stream))
        self.expect(got, 200, "OK", f"DELETE stream {stream}")
        if stream in self._streams(key):
            raise ConformanceError("streams-listed", f"deleted {stream} is still listed on {key}")

    @precondition(lambda self: not self._skipped("streams") and self.apps(running=True))
    @rule(data=st.data())
    def inspect_streams(self, data: st.DataObject) -> None:
        """Stream details and stream statistics keep OME's shapes."""
        key = data.draw(st.sampled_from(self.apps(running=True)), label="app")
        base = "/v1/vhosts/{}/apps/{}".format(*key)
        for stream in self._streams(key)[:3]:
            status, body = self.send("GET", f"{base}/streams/{stream}")
            detail = _response(body)
            errors = shapes.shape_errors(detail, shapes.STREAM_DETAIL)
            if status != 200 or errors:
                raise ConformanceError(
                    "stream-detail-shape", f"GET {base}/streams/{stream}: {status} {errors}"
                )
            if detail["name"] != stream:
                raise ConformanceError(
                    "stream-detail-shape", f"GET …/streams/{stream} describes {detail['name']}"
                )
            if "stats" in self.conformance.skip:
                continue
            got = self.send(
                "GET", "/v1/stats/current/vhosts/{}/apps/{}/streams/{}".format(*key, stream)
            )
            if got[0] == 200:
                self._check_shape(_response(got[1]), shapes.METRICS, "metrics-shape", stream)

    def _check_shape(self, value: Any, shape: shapes.Shape, invariant: str, what: str) -> None:
        errors = shapes.shape_errors(value, shape)
        if errors:
            raise ConformanceError(invariant, f"{what}: " + "; ".join(errors[:5]))

    # -- push and record --------------------------------------------------------------------------

    def _job_stream(self, key: Key, data: st.DataObject) -> str:
        streams = self._streams(key)
        return data.draw(st.sampled_from([*streams[:2], "not_yet_there"]), label="stream")

    @precondition(lambda self: not self._skipped("push") and self.runtime_apps("Push"))
    @rule(data=st.data(), protocol=st.sampled_from(["rtmp", "srt"]))
    def push(self, data: st.DataObject, protocol: str) -> None:
        key = data.draw(st.sampled_from(self.runtime_apps("Push")), label="app")
        base = "/v1/vhosts/{}/apps/{}".format(*key)
        job = self.fresh("push")
        url = {"rtmp": "rtmp://push.example.com/live", "srt": "srt://push.example.com:9999"}[
            protocol
        ]
        request: dict[str, Any] = {
            "id": job,
            "stream": {"name": self._job_stream(key, data)},
            "protocol": protocol,
            "url": url,
            "streamKey": "key",
        }
        status, body = self.send("POST", f"{base}:startPush", request)
        self.expect((status, body), 200, "OK", "startPush")
        info = _response(body)
        self._check_shape(info, shapes.PUSH, "push-shape", f"{base}:startPush")
        echoed = (
            info["id"],
            info["vhost"],
            info["app"],
            info["stream"]["name"],
            info["protocol"],
            info["url"],
        )
        if echoed != (job, *key, request["stream"]["name"], protocol, url):
            raise ConformanceError("push-answers", f"startPush answered {info} for {request}")
        if info["state"] not in ("stopped", "error"):
            again = self.send("POST", f"{base}:startPush", request)
            self.expect(again, 400, "[HTTP] Duplicate ID (400)", "startPush with an id in use")
        listed = self.send("POST", f"{base}:pushes", {"id": job})
        self.expect(listed, 200, "OK", ":pushes")
        self._check_shape(_response(listed[1]), shapes.ListOf(shapes.PUSH), "push-shape", ":pushes")
        if [p["id"] for p in _response(listed[1])] != [job]:
            raise ConformanceError("push-answers", f":pushes with id {job} answered {listed}")
        self.expect(self.send("POST", f"{base}:stopPush", {"id": job}), 200, "OK", "stopPush")
        after = _response(self.send("POST", f"{base}:pushes", {"id": job})[1])
        self._check_shape(after, shapes.ListOf(shapes.PUSH), "push-shape", ":pushes")
        if after and after[0]["state"] not in ("stopping", "stopped", "error"):
            raise ConformanceError("push-answers", f"a stopped push is {after[0]['state']}")

    @precondition(lambda self: not self._skipped("record") and self.runtime_apps("FILE"))
    @rule(data=st.data())
    def record(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.runtime_apps("FILE")), label="app")
        base = "/v1/vhosts/{}/apps/{}".format(*key)
        job = self.fresh("rec")
        stream = self._job_stream(key, data)
        request: dict[str, Any] = {"id": job, "stream": {"name": stream}}
        if data.draw(st.booleans(), label="interval"):
            request["interval"] = 60000
        status, body = self.send("POST", f"{base}:startRecord", request)
        self.expect((status, body), 200, "OK", "startRecord")
        info = _response(body)
        self._check_shape(info, shapes.RECORD, "record-shape", f"{base}:startRecord")
        if (info["id"], info["vhost"], info["app"], info["stream"]["name"]) != (job, *key, stream):
            raise ConformanceError("record-answers", f"startRecord answered {info} for {request}")
        if info["state"] not in ("stopped", "error"):
            again = self.send("POST", f"{base}:startRecord", request)
            self.expect(again, 400, "[HTTP] Duplicate ID already exists (400)", "startRecord again")
        listed = self.send("POST", f"{base}:records", {"id": job})
        self.expect(listed, 200, "OK", ":records")
        self._check_shape(
            _response(listed[1]), shapes.ListOf(shapes.RECORD), "record-shape", ":records"
        )
        stopped = self.send("POST", f"{base}:stopRecord", {"id": job})
        self.expect(stopped, 200, "OK", "stopRecord")
        info = _response(stopped[1])
        self._check_shape(info, shapes.RECORD, "record-shape", "stopRecord")
        if info["state"] not in ("stopping", "stopped", "error"):
            raise ConformanceError("record-answers", f"stopRecord answered state {info['state']}")

    # -- sessions (an omeapi extension) ---------------------------------------------------------

    def _sessions_of(self, key: Key, stream: str) -> list[dict[str, Any]] | None:
        """The stream's sessions, or None when the engine has no session control."""
        path = "/x-omeapi/v1/vhosts/{}/apps/{}/streams/{}/sessions".format(*key, stream)
        status, body = self.send("GET", path, allowed=_NO_SESSIONS)
        if status == 503:
            return None
        self.expect((status, body), 200, "OK", f"GET {path}")
        sessions = _response(body)
        self._check_shape(sessions, shapes.ListOf(shapes.SESSION), "session-shape", path)
        ids = [s["id"] for s in sessions]
        if len(set(ids)) != len(ids):
            raise ConformanceError("session-shape", f"{path}: session ids repeat: {ids}")
        result: list[dict[str, Any]] = sessions
        return result

    def _stream_stats(self, key: Key, stream: str) -> dict[str, Any]:
        path = "/v1/stats/current/vhosts/{}/apps/{}/streams/{}".format(*key, stream)
        got = self.send("GET", path)
        self.expect(got, 200, "OK", path)
        stats: dict[str, Any] = _response(got[1])
        return stats

    @precondition(
        lambda self: (
            not self._skipped("sessions") and self.sessions is not None and self.apps(running=True)
        )
    )
    @rule(data=st.data(), viewers=st.integers(1, 3))
    def sessions_of_a_stream(self, data: st.DataObject, viewers: int) -> None:
        """Publish a stream with viewers, list its sessions against its statistics,
        disconnect a viewer and look again."""
        key = data.draw(st.sampled_from(self.apps(running=True)), label="app")
        assert self.sessions is not None
        stream = self.fresh("watched")
        self.sessions.publish(*key, stream, viewers=viewers)
        listed = self._sessions_of(key, stream)
        if listed is None:
            return  # no session control: the documented "not supported"
        where = "{}/{}/{}".format(*key, stream)
        self._check_counts(key, stream, listed, viewers, where)
        # Oldest first: the publisher, then the viewers; the last one listed is a viewer.
        gone = listed[-1]["id"]
        base = "/x-omeapi/v1/vhosts/{}/apps/{}/streams/{}/sessions".format(*key, stream)
        before = self.sessions.sessions(*key)
        self.expect(self.send("DELETE", f"{base}/{gone}"), 200, "OK", f"DELETE {base}/{gone}")
        after = self._sessions_of(key, stream)
        if after is None or gone in {s["id"] for s in after}:
            raise ConformanceError("sessions-agree", f"{where}: session {gone} is still there")
        self._check_counts(key, stream, after, viewers - 1, where)
        if self.sessions.sessions(*key) != before - 1:
            raise ConformanceError(
                "sessions-agree",
                f"{where}: disconnecting one session took the app from {before} to "
                f"{self.sessions.sessions(*key)} sessions",
            )
        again = self.send("DELETE", f"{base}/{gone}")
        if again[0] != 404:
            raise ConformanceError("answers", f"DELETE of a gone session answered {again}")

    def _check_counts(
        self, key: Key, stream: str, listed: list[dict[str, Any]], viewers: int, where: str
    ) -> None:
        if len(listed) != 1 + viewers:
            raise ConformanceError(
                "sessions-agree",
                f"{where} has a publisher and {viewers} viewers, but lists {len(listed)} sessions",
            )
        if self._skipped("stats"):
            return
        stats = self._stream_stats(key, stream)  # after the list: totals only grow
        watching = sum(v for k, v in stats["connections"].items() if k not in ("push", "file"))
        if watching != viewers:
            raise ConformanceError(
                "sessions-agree",
                f"{where} lists {viewers} viewers but its statistics count {watching}",
            )
        for side in ("totalBytesIn", "totalBytesOut"):
            total = sum(s[side] for s in listed)
            if total > stats[side]:
                raise ConformanceError(
                    "sessions-agree",
                    f"{where}: its sessions' {side} add up to {total}, over the stream's "
                    f"{stats[side]}",
                )

    # -- statistics -----------------------------------------------------------------------------

    @precondition(lambda self: not self._skipped("stats"))
    @rule()
    def stats(self) -> None:
        paths = ["/v1/stats/current"]
        for vhost, entry in self.model.items():
            paths.append(f"/v1/stats/current/vhosts/{vhost}")
            paths.extend(f"/v1/stats/current/vhosts/{vhost}/apps/{app}" for app in entry.apps)
        for path in paths:
            got = self.send("GET", path)
            self.expect(got, 200, "OK", path)
            self._check_shape(_response(got[1]), shapes.METRICS, "metrics-shape", path)
        got = self.send("GET", "/v1/stats/current/internals/queues")
        self.expect(got, 200, "OK", "queues")
        self._check_shape(_response(got[1]), shapes.ListOf(shapes.QUEUE), "queue-shape", "queues")

    # -- the invariant every step keeps --------------------------------------------------------

    @invariant()
    def engine_matches_registry(self) -> None:
        """The API lists what the model says, and the engine runs what the API lists."""
        status, body = self.send("GET", "/v1/vhosts")
        listed = _response(body)
        if status != 200 or listed != list(self.model):
            raise ConformanceError(
                "answers", f"GET /v1/vhosts is {listed}, expected {list(self.model)}"
            )
        shown: dict[Key, Any] = {}
        for vhost, entry in self.model.items():
            apps = _response(self.send("GET", f"/v1/vhosts/{vhost}/apps")[1])
            if apps != list(entry.apps):
                raise ConformanceError(
                    "answers", f"apps of {vhost} are {apps}, expected {list(entry.apps)}"
                )
            for app in apps:
                key = (vhost, app)
                if not self._failed(key):
                    shown[key] = _response(self.send("GET", f"/v1/vhosts/{vhost}/apps/{app}:")[1])
        if self.running is None:
            return
        vhosts = sorted(self.running.virtual_hosts())
        if vhosts != sorted(self.model):
            raise ConformanceError(
                "engine-matches-registry",
                f"the engine runs vhosts {vhosts}, the API lists {sorted(self.model)}",
            )
        running = dict(self.running.applications())
        if set(running) != set(shown):
            raise ConformanceError(
                "engine-matches-registry",
                f"the engine runs apps {sorted(running)}, the API lists {sorted(shown)} as running",
            )
        for key, config in shown.items():
            if running[key].to_json() != config:
                raise ConformanceError(
                    "engine-matches-registry",
                    f"{key} runs {running[key].to_json()}, the API shows {config}",
                )


#: An engine without session control: the documented answer.
_NO_SESSIONS = (503, "[HTTP] The media engine does not support sessions (503)")


def _response(body: Any) -> Any:
    return body.get("response") if isinstance(body, dict) else body


def _message(body: Any) -> Any:
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        return body[0].get("message")  # a multi-item answer: its one item's message
    return body.get("message") if isinstance(body, dict) else body


def _app_patches() -> st.SearchStrategy[dict[str, Any]]:
    """PATCH bodies for an app: a changed or unchanged worker count, a WebRTC provider timeout,
    the type, or nothing at all."""
    return st.one_of(
        st.builds(lambda n: {"publishers": {"appWorkerCount": n}}, st.integers(1, 4)),
        st.builds(
            lambda t: {"providers": {"webrtc": {"timeout": t}}}, st.sampled_from([5000, 30000])
        ),
        st.sampled_from([{"type": "live"}, {"type": "vod"}, {}]),
    )


# -- the entry points --------------------------------------------------------------------------


def conformance_machine(
    engine_factory: Callable[[], E],
    *,
    probe: Callable[[E], object] | None = None,
    config: ServerConfig | str | None = None,
    skip: Collection[str] = (),
    pull_urls: Collection[str] = ("rtsp://origin.example.com/app/stream",),
) -> type[ConformanceMachine]:
    """The suite's state machine class bound to an engine factory (arguments as
    :func:`make_conformance_tests`), to subclass with rules of your own: ``self.api``,
    ``self.engine``, ``self.send()`` and ``self.change()`` are there for them.  Its
    ``TestCase`` attribute is the test class."""
    unknown = set(skip) - GROUPS
    if unknown:
        raise ValueError(f"unknown rule groups {sorted(unknown)}; known: {sorted(GROUPS)}")
    if config is None:
        config = DEFAULT_SERVER_XML
    if isinstance(config, str):
        config = parse_server_xml(config, environ={})
    setup = _Setup(engine_factory, probe, config, frozenset(skip), tuple(pull_urls))
    name = getattr(engine_factory, "__name__", "Engine")
    machine = type(f"{name}Conformance", (ConformanceMachine,), {"conformance": setup})
    return cast("type[ConformanceMachine]", machine)


def make_conformance_tests(
    engine_factory: Callable[[], E],
    *,
    probe: Callable[[E], object] | None = None,
    config: ServerConfig | str | None = None,
    settings: Settings | None = None,
    skip: Collection[str] = (),
    pull_urls: Collection[str] = ("rtsp://origin.example.com/app/stream",),
) -> type[unittest.TestCase]:
    """The conformance suite for engines made by ``engine_factory``, as a test class (a
    ``unittest.TestCase`` that pytest and unittest both run).

    ``engine_factory()`` is called for every example and must return a fresh engine.
    ``probe(engine)`` gives the object the suite observes the engine through (default: the
    engine itself; see :class:`EngineProbe`).  ``config`` is the Server.xml (text or parsed;
    default :data:`DEFAULT_SERVER_XML`): its token authenticates the suite's requests, its
    vhosts are read-only as usual.  ``settings`` are hypothesis settings (default
    :data:`DEFAULT_SETTINGS`).  ``skip`` leaves out groups of rules (:data:`GROUPS`), for what
    the engine cannot do yet.  ``pull_urls`` are the sources ``POST …/streams`` pulls from (a
    pull may fail: 502 is an accepted answer).

    >>> TestMyEngine = make_conformance_tests(MyEngine)  # doctest: +SKIP
    """
    machine = conformance_machine(
        engine_factory, probe=probe, config=config, skip=skip, pull_urls=pull_urls
    )
    case: type[unittest.TestCase] = machine.TestCase
    case.settings = settings if settings is not None else DEFAULT_SETTINGS  # type: ignore[attr-defined]
    return case


def run_conformance(
    engine_factory: Callable[[], E],
    *,
    probe: Callable[[E], object] | None = None,
    config: ServerConfig | str | None = None,
    settings: Settings | None = None,
    skip: Collection[str] = (),
    pull_urls: Collection[str] = ("rtsp://origin.example.com/app/stream",),
) -> None:
    """Run the suite now (arguments as :func:`make_conformance_tests`); raises
    :class:`ConformanceError` for the first invariant the engine breaks (hypothesis
    shrinks the calls that lead to it first, unless ``settings`` leave that phase out)."""
    machine = conformance_machine(
        engine_factory, probe=probe, config=config, skip=skip, pull_urls=pull_urls
    )
    run_state_machine_as_test(
        machine, settings=settings if settings is not None else DEFAULT_SETTINGS
    )
