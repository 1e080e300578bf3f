"""``NoRuntime``: an engine with only the app lifecycle is a complete, typed ``MediaEngine``
whose runtime routes answer 4xx (or an empty list), never 5xx."""

from __future__ import annotations

import base64
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, HOST, TOKEN, runtime_xml

from omeapi import (
    Api,
    ApiRequest,
    EngineError,
    EngineResult,
    NoRuntime,
    RuntimeEngine,
    open_api,
    parse_server_xml,
)
from omeapi._routes import ROUTES

REPO = Path(__file__).resolve().parent.parent

#: The embedder's engine, as its documentation would show it (also checked by mypy below).
LIFECYCLE_ONLY = """
from collections.abc import Set

from omeapi import (
    Api,
    ApplicationConfig,
    EngineError,
    EngineResult,
    MediaEngine,
    NoRuntime,
    open_api,
    RestartOutcome,
    VirtualHostConfig,
    parse_server_xml,
)


class Mine(NoRuntime):
    def __init__(self) -> None:
        self.vhosts: set[str] = set()
        self.apps: dict[tuple[str, str], ApplicationConfig] = {}

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        self.vhosts.add(vhost.name)

    def delete_virtual_host(self, name: str) -> None:
        self.vhosts.discard(name)

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        if vhost not in self.vhosts:
            raise EngineError(EngineResult.NOT_EXISTS)
        self.apps[(vhost, app.name)] = app

    def delete_application(self, vhost: str, app: str) -> int:
        self.apps.pop((vhost, app), None)
        return 0

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        self.apps[(vhost, new.name)] = new
        return RestartOutcome(0)

    def live_fields(self) -> Set[str]:
        return frozenset()

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        self.apps[(vhost, new.name)] = new


def build(xml: str) -> Api:
    engine: MediaEngine = Mine()
    return open_api(parse_server_xml(xml, environ={}), engine, brake=False)
"""

#: The same without ``restart_application``: mypy must reject it as a MediaEngine.
INCOMPLETE = LIFECYCLE_ONLY.replace("    def restart_application(", "    def _restart(")


def test_mypy_accepts_a_lifecycle_only_engine(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(LIFECYCLE_ONLY)
    (tmp_path / "incomplete.py").write_text(INCOMPLETE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "mine.py",
            "incomplete.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "MYPYPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert errors, done.stdout + done.stderr  # the incomplete engine is caught ...
    assert all(line.startswith("incomplete.py:") for line in errors), done.stdout  # ... only it
    assert any("MediaEngine" in line for line in errors)


RUNTIME_METHODS = sorted(
    name
    for name, value in vars(RuntimeEngine).items()
    if inspect.isfunction(value) and not name.startswith("_")
)


def test_no_runtime_implements_every_runtime_method() -> None:
    assert len(RUNTIME_METHODS) == 32  # every method of _engine/runtime.py
    own = {name for name, value in vars(NoRuntime).items() if inspect.isfunction(value)}
    # Speech-to-text and sessions have their default (503) in the protocol itself, for
    # every engine.
    own |= OPTIONAL
    assert set(RUNTIME_METHODS) <= own
    for name in RUNTIME_METHODS:
        ours = inspect.signature(getattr(NoRuntime, name))
        assert ours == inspect.signature(getattr(RuntimeEngine, name)), name


#: The runtime methods whose default is "not supported" (503), not "not there".
OPTIONAL = {"enable_stt", "disable_stt", "stt_status", "list_sessions", "disconnect_session"}


def _arguments(name: str) -> list[Any]:
    """Placeholder arguments for a runtime method (``metrics(*scope)`` gets none)."""
    params = list(inspect.signature(getattr(NoRuntime, name)).parameters.values())[1:]
    return ["x" for p in params if p.kind is not p.VAR_POSITIONAL]


@pytest.mark.parametrize("name", RUNTIME_METHODS)
def test_every_runtime_method_says_not_there(name: str) -> None:
    method = getattr(NoRuntime(), name)
    try:
        answer = method(*_arguments(name))
    except EngineError as error:
        # Speech-to-text needs a transcoder (OME's 503 when there is none); sessions need
        # an engine that can list them.
        expected = EngineResult.UNAVAILABLE if name in OPTIONAL else EngineResult.NOT_EXISTS
        assert error.result is expected
        return
    assert answer in ([], None), (name, answer)


def _lifecycle_only_engine() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(LIFECYCLE_ONLY, "mine.py", "exec"), namespace)
    return namespace["Mine"]


#: The engine of :data:`LIFECYCLE_ONLY` itself, for the requests below.
Mine = _lifecycle_only_engine()


S = f"{APP}/streams/s1"
STATS = "/v1/stats/current/vhosts/default"
PUSH = {"id": "p1", "stream": {"name": "s1"}, "protocol": "rtmp", "url": "rtmp://dst.example/a"}
SCHEDULE = {
    "stream": {"name": "ch"},
    "programs": [
        {"name": "p", "scheduled": "2023-11-14T22:13:20Z", "items": [{"url": "file://a.mp4"}]}
    ],
}
MULTIPLEX = {
    "outputStream": {"name": "mx"},
    "sourceStreams": [
        {
            "name": "cam1",
            "url": "stream://default/app/cam1",
            "trackMap": [{"sourceTrackName": "bypass_video", "newTrackName": "v"}],
        }
    ],
}

#: Every runtime route: (route action, method, path, body); lists answer 200 with nothing.
RUNTIME_REQUESTS: list[tuple[str, str, str, Any]] = [
    ("list_records", "GET", f"{APP}:records", None),
    ("list_records", "POST", f"{APP}:records", {}),
    ("start_record", "POST", f"{APP}:startRecord", {"id": "r1", "stream": {"name": "s1"}}),
    ("stop_record", "POST", f"{APP}:stopRecord", {"id": "r1"}),
    ("list_pushes", "GET", f"{APP}:pushes", None),
    ("list_pushes", "POST", f"{APP}:pushes", {}),
    ("start_push", "POST", f"{APP}:startPush", PUSH),
    ("stop_push", "POST", f"{APP}:stopPush", {"id": "p1"}),
    ("create_stream", "POST", f"{APP}/streams", {"name": "s1", "urls": ["rtmp://o.example/a/s1"]}),
    ("list_streams", "GET", f"{APP}/streams", None),
    ("get_stream", "GET", S, None),
    ("delete_stream", "DELETE", S, None),
    ("hls_dumps", "POST", f"{S}:hlsDumps", {"outputStreamName": "s1"}),
    (
        "start_hls_dump",
        "POST",
        f"{S}:startHlsDump",
        {"outputStreamName": "s1", "id": "d", "outputPath": "/d"},
    ),
    ("stop_hls_dump", "POST", f"{S}:stopHlsDump", {"outputStreamName": "s1"}),
    (
        "send_event",
        "POST",
        f"{S}:sendEvent",
        {
            "eventFormat": "id3v2",
            "eventType": "event",
            "events": [{"frameType": "TXXX", "info": "i", "data": "d"}],
        },
    ),
    (
        "send_events",
        "POST",
        f"{S}:sendEvents",
        [
            {
                "eventFormat": "id3v2",
                "eventType": "event",
                "events": [{"frameType": "TXXX", "info": "i", "data": "d"}],
            }
        ],
    ),
    ("conclude_hls_live", "POST", f"{S}:concludeHlsLive", None),
    (
        "send_subtitles",
        "POST",
        f"{S}:sendSubtitles",
        {"label": "en", "subtitles": [{"startOffset": 0, "durationMs": 1000, "text": "hi"}]},
    ),
    ("list_scheduled", "GET", f"{APP}/scheduledChannels", None),
    ("create_scheduled", "POST", f"{APP}/scheduledChannels", SCHEDULE),
    ("get_scheduled", "GET", f"{APP}/scheduledChannels/ch", None),
    ("patch_scheduled", "PATCH", f"{APP}/scheduledChannels/ch", {"programs": []}),
    ("delete_scheduled", "DELETE", f"{APP}/scheduledChannels/ch", None),
    ("list_multiplex", "GET", f"{APP}/multiplexChannels", None),
    ("create_multiplex", "POST", f"{APP}/multiplexChannels", MULTIPLEX),
    ("get_multiplex", "GET", f"{APP}/multiplexChannels/mx", None),
    ("delete_multiplex", "DELETE", f"{APP}/multiplexChannels/mx", None),
    ("stats_server", "GET", "/v1/stats/current", None),
    ("stats_vhost", "GET", STATS, None),
    ("stats_app", "GET", f"{STATS}/apps/app", None),
    ("stream_stats", "GET", f"{STATS}/apps/app/streams/s1", None),
    ("stats_internals", "GET", "/v1/stats/current/internals", None),
    ("stats_queues", "GET", "/v1/stats/current/internals/queues", None),
]

#: The routes that are about configuration, not the runtime.
CONFIG_ACTIONS = {
    "version",
    "create_vhosts",
    "list_vhosts",
    "get_vhost",
    "delete_vhost",
    "vhosts_colon",
    "reload_all_certificates",
    "reload_certificate_without_vhost",
    "reload_certificate",
    "create_apps",
    "list_apps",
    "get_app",
    "patch_app",
    "delete_app",
    "get_app_raw",
    "create_profiles",
    "list_profiles",
    "get_profile",
    "patch_profile",
    "delete_profile",
    "reload_api_certificate",
}


def test_the_table_has_every_runtime_route() -> None:
    actions = {route.action for route in ROUTES}
    assert {action for action, *_ in RUNTIME_REQUESTS} == actions - CONFIG_ACTIONS


@pytest.fixture
def api(tmp_path: Path) -> Api:
    config = parse_server_xml(runtime_xml(), file=str(tmp_path / "Server.xml"), environ={})
    return open_api(config, Mine(), brake=False)


#: Routes that answer 200 with nothing in it: lists, and statistics of an idle server.
EMPTY = {
    "list_records",
    "list_pushes",
    "list_streams",
    "list_scheduled",
    "list_multiplex",
    "stats_server",
    "stats_vhost",
    "stats_app",
    "stats_internals",
    "stats_queues",
}


def _case(request: tuple[str, str, str, Any]) -> Any:
    return pytest.param(*request, id=f"{request[0]}-{request[1]}")


@pytest.mark.parametrize(("action", "method", "path", "body"), [_case(r) for r in RUNTIME_REQUESTS])
def test_runtime_routes_answer_4xx(
    api: Api, action: str, method: str, path: str, body: Any
) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode(), "Host": HOST}
    data = b"" if body is None else json.dumps(body).encode()
    response = api.handle(ApiRequest.build(method, path, headers, data))
    answer = json.loads(response.body)
    if action not in EMPTY:
        assert 400 <= response.status < 500, answer
        return
    assert response.status == 200, answer
    found = answer["response"]
    if isinstance(found, dict):  # statistics: all zero
        assert found["totalBytesIn"] == found["totalBytesOut"] == 0
        assert found["maxTotalConnections"] == 0
    elif action != "stats_internals":
        assert found == []
