"""Sessions (an omeapi extension): the engine interface's ``list_sessions`` and
``disconnect_session``, the simulated engine's sessions against its statistics, the routes
under ``/x-omeapi/v1/``, their scope rules, and the "not supported" answer (503) of an engine
without them (also across the engine host).  Through a real server with several workers:
tests/test_extensions_served.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from test_no_runtime import Mine
from test_runtime_support import APP, HOST, TOKEN, Runtime, err, runtime_xml

from omeapi import (
    ApiRequest,
    EngineError,
    EngineResult,
    SessionInfo,
    SimulatedEngine,
    open_api,
    parse_server_xml,
)
from omeapi._access.tokens import Identity, check_scope
from omeapi._controllers.outcomes import answer
from omeapi._errors import Message

X = "/x-omeapi/v1/vhosts/default/apps/app/streams"
STATS = "/v1/stats/current/vhosts/default/apps/app/streams"


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


def _viewers(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in sessions if s["protocol"] == "llhls"]


def test_sessions_agree_with_the_stream_statistics(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "cam", viewers=3)
    rt.clock.advance(10)
    rt.ok("GET", f"{STATS}/cam")  # the simulation counts up to a look
    rt.engine.add_viewers("default", "app", "cam", 2)
    rt.clock.advance(10)
    sessions = rt.ok("GET", f"{X}/cam/sessions")
    stats = rt.ok("GET", f"{STATS}/cam")
    assert [s["protocol"] for s in sessions] == ["rtmp", *["llhls"] * 5]
    assert set(sessions[0]) == {
        "id",
        "protocol",
        "remoteAddress",
        "since",
        "totalBytesIn",
        "totalBytesOut",
    }
    assert len({s["id"] for s in sessions}) == 6
    assert len(_viewers(sessions)) == stats["connections"]["llhls"] == 5
    # What the sessions sent and received is what the stream counted.
    assert sum(s["totalBytesIn"] for s in sessions) == stats["totalBytesIn"] > 0
    assert sum(s["totalBytesOut"] for s in sessions) == stats["totalBytesOut"] > 0
    # The first viewers watched twice as long as the later ones.
    first, late = sessions[1]["totalBytesOut"], sessions[5]["totalBytesOut"]
    assert abs(first - 2 * late) <= 2
    assert rt.engine.sessions("default", "app") == 6


def test_disconnecting_a_viewer_and_the_statistics_follow(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "cam", viewers=2)
    rt.clock.advance(5)
    sessions = rt.ok("GET", f"{X}/cam/sessions")
    gone = _viewers(sessions)[0]
    rt.plain("DELETE", f"{X}/cam/sessions/{gone['id']}")
    rt.clock.advance(5)
    after = rt.ok("GET", f"{X}/cam/sessions")
    stats = rt.ok("GET", f"{STATS}/cam")
    assert gone["id"] not in {s["id"] for s in after}
    assert len(_viewers(after)) == stats["connections"]["llhls"] == 1
    assert rt.engine.sessions("default", "app") == 2
    # What it received stays counted: the stream's total is the rest plus its share.
    left = sum(s["totalBytesOut"] for s in after)
    assert stats["totalBytesOut"] == left + gone["totalBytesOut"]
    # Again: it is gone.
    status, body = rt.call("DELETE", f"{X}/cam/sessions/{gone['id']}")
    assert (status, body) == (
        404,
        err(404, f"Could not find the session: [default/app/cam/{gone['id']}]"),
    )


def test_disconnecting_the_publisher_ends_the_stream(rt: Runtime) -> None:
    rt.pull("s1", "rtsp://cam.example:554/live")
    sessions = rt.ok("GET", f"{X}/s1/sessions")
    assert [(s["protocol"], s["remoteAddress"]) for s in sessions] == [("rtsp", "cam.example:554")]
    rt.plain("DELETE", f"{X}/s1/sessions/{sessions[0]['id']}")
    assert rt.ok("GET", f"{APP}/streams") == []
    assert rt.call("GET", f"{STATS}/s1")[0] == 404


def test_unknown_stream_app_and_vhost(rt: Runtime) -> None:
    status, body = rt.call("GET", f"{X}/nope/sessions")
    assert status == 404 and "Could not find the stream" in body["message"]
    status, body = rt.call("GET", "/x-omeapi/v1/vhosts/default/apps/none/streams/s/sessions")
    assert (status, body) == (404, err(404, "Could not find the application: [default/none]"))
    status, _ = rt.call("DELETE", "/x-omeapi/v1/vhosts/nv/apps/app/streams/s/sessions/1")
    assert status == 404
    # Other methods: 405 naming the allowed ones.
    response = rt.request("POST", f"{X}/s/sessions")
    assert response.status == 405


def test_listing_reads_and_disconnecting_writes() -> None:
    reader = Identity("monitor", read_only=True)
    check_scope(reader, "GET", "list_sessions", "default")
    with pytest.raises(Exception, match="read-only"):
        check_scope(reader, "DELETE", "disconnect_session", "default")
    other = Identity("ops", vhosts=frozenset({"v2"}))
    with pytest.raises(Exception, match="may not reach"):
        check_scope(other, "GET", "list_sessions", "default")


def test_the_event_feed_reports_a_disconnection(rt: Runtime) -> None:
    events = rt.api.services.events
    assert events is not None and events.log is not None, "the store keeps no events"
    rt.engine.publish("default", "app", "cam", viewers=1)
    viewer = _viewers(rt.ok("GET", f"{X}/cam/sessions"))[0]
    rt.plain("DELETE", f"{X}/cam/sessions/{viewer['id']}")
    last = events.log.events_after(0)[-1]
    assert last.kind == "session.disconnected"
    assert last.vhost == "default"
    assert last.data["app"] == "app" and last.data["stream"] == "cam"
    assert last.data["id"] == viewer["id"]


# -- an engine without sessions ----------------------------------------------------------


def _headers() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode(), "Host": HOST}


class _Streams(Mine):  # type: ignore[misc]
    """A lifecycle-only engine that lists one stream (so that the lookup passes)."""

    def list_streams(self, vhost: str, app: str) -> list[str]:
        return ["s1"]


def test_an_engine_without_sessions_answers_503(tmp_path: Path) -> None:
    config = parse_server_xml(runtime_xml(), file=str(tmp_path / "Server.xml"), environ={})
    api = open_api(config, _Streams(), brake=False)
    for method, path in (("GET", f"{X}/s1/sessions"), ("DELETE", f"{X}/s1/sessions/7")):
        response = api.handle(ApiRequest.build(method, path, _headers(), b""))
        body = json.loads(response.body)
        assert (response.status, body) == (
            503,
            err(503, "The media engine does not support sessions"),
        )


def test_unavailable_is_503_whatever_the_table() -> None:
    """A table with a FAILED row and none for UNAVAILABLE: 503, not the FAILED row's 500."""
    table = {EngineResult.FAILED: Message(500, "Failed to do it")}
    error = answer(table, EngineError(EngineResult.UNAVAILABLE, "no such module"))
    assert (error.status, error.text) == (503, "no such module")
    error = answer({}, EngineError(EngineResult.UNAVAILABLE))
    assert error.status == 503
    # OME's text where the table has one.
    named = {EngineResult.UNAVAILABLE: Message(503, "Transcoder module is not available")}
    assert answer(named, EngineError(EngineResult.UNAVAILABLE)).text.startswith("Transcoder")


def test_session_info_round_trips_through_the_engine_host(tmp_path: Path) -> None:
    remote = pytest.importorskip("omeapi_remote")
    engine = SimulatedEngine(clock=lambda: 1_700_000_000.0)

    config = parse_server_xml(runtime_xml(), file=str(tmp_path / "Server.xml"), environ={})
    open_api(config, engine, brake=False)  # starts the config's vhosts and apps
    engine.publish("default", "app", "cam", viewers=2)
    path = str(tmp_path / "engine.sock")
    with remote.publish_engine(engine, path):
        far = remote.remote_engine(path)
        try:
            sessions = far.list_sessions("default", "app", "cam")
            assert [type(s) for s in sessions] == [SessionInfo] * 3
            assert sessions == engine.list_sessions("default", "app", "cam")
            far.disconnect_session("default", "app", "cam", sessions[2].id)
            assert len(engine.list_sessions("default", "app", "cam")) == 2
            with pytest.raises(EngineError) as caught:
                far.disconnect_session("default", "app", "cam", "nope")
            assert caught.value.result is EngineResult.NOT_EXISTS
        finally:
            far.close()  # type: ignore[attr-defined]


def test_a_host_engine_without_sessions_answers_not_supported(tmp_path: Path) -> None:
    remote = pytest.importorskip("omeapi_remote")
    path = str(tmp_path / "engine.sock")

    class Bare:  # an engine of its own, with no session methods at all
        def list_streams(self, vhost: str, app: str) -> list[str]:
            return []

    with remote.publish_engine(Bare(), path):  # type: ignore[arg-type]
        far = remote.remote_engine(path)
        try:
            with pytest.raises(EngineError) as caught:
                far.list_sessions("default", "app", "cam")
            assert caught.value.result is EngineResult.UNAVAILABLE
            with pytest.raises(Exception, match="no method 'get_stream'"):
                far.get_stream("default", "app", "cam")
        finally:
            far.close()  # type: ignore[attr-defined]
