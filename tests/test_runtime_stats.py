"""Statistics: shapes, lookups, and counts that add up and move with sessions and time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, START, Runtime, err, keys_and_types

from omeapi._engine.values import format_time

#: ``GET /v1/stats/current/vhosts/default/apps/app/streams/test`` on the observed OME (case 61).
OBSERVED_METRICS = json.loads(
    '{"avgThroughputIn":380280,"avgThroughputOut":0,"connections":{"file":0,"hlsv3":0,'
    '"llhls":0,"ovt":0,"push":0,"srt":0,"thumbnail":0,"webrtc":0},"createdTime":'
    '"2026-11-26T10:06:01.106+00:00","lastRecvTime":"2026-11-26T10:06:04.382+00:00",'
    '"lastSentTime":"2026-11-26T10:06:01.106+00:00","lastThroughputIn":47535,'
    '"lastThroughputOut":0,"lastUpdatedTime":"2026-11-26T10:06:04.382+00:00",'
    '"maxThroughputIn":394008,"maxThroughputOut":0,"maxTotalConnectionTime":'
    '"2026-11-26T10:06:01.106+00:00","maxTotalConnections":0,"totalBytesIn":150085,'
    '"totalBytesOut":0,"totalConnections":0}'
)

STATS = "/v1/stats/current"
APP_STATS = f"{STATS}/vhosts/default/apps/app"
ADDITIVE = (
    "totalBytesIn",
    "totalBytesOut",
    "lastThroughputIn",
    "lastThroughputOut",
    "totalConnections",
)
#: bits per second of the simulated source (H264 + AAC) and of its bypass output
RATE = 2_500_000 + 128_000


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


def test_every_level_has_the_observed_shape(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "test")
    rt.clock.advance(3)
    for path in (STATS, f"{STATS}/vhosts/default", APP_STATS, f"{APP_STATS}/streams/test"):
        assert keys_and_types(rt.ok("GET", path)) == keys_and_types(OBSERVED_METRICS), path


def test_a_stream_right_after_it_started(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "test")
    now = format_time(START)
    assert rt.ok("GET", f"{APP_STATS}/streams/test") == {
        "avgThroughputIn": 0,
        "avgThroughputOut": 0,
        "connections": dict.fromkeys(
            ("file", "hlsv3", "llhls", "ovt", "push", "srt", "thumbnail", "webrtc"), 0
        ),
        "createdTime": now,
        "lastRecvTime": now,
        "lastSentTime": now,
        "lastThroughputIn": RATE,
        "lastThroughputOut": 0,
        "lastUpdatedTime": now,
        "maxThroughputIn": RATE,
        "maxThroughputOut": 0,
        "maxTotalConnectionTime": now,
        "maxTotalConnections": 0,
        "totalBytesIn": 0,
        "totalBytesOut": 0,
        "totalConnections": 0,
    }


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (f"{STATS}/vhosts/nope", 404, err(404, "Could not find the virtual host: [nope]")),
        (f"{STATS}/vhosts/", 404, err(404, "Could not find the virtual host: []")),
        (
            f"{STATS}/vhosts/default/apps/nope",
            404,
            err(404, "Could not find the application: [default/nope]"),
        ),
        # This one route admits ":" in the app name.
        (
            f"{STATS}/vhosts/default/apps/app:x",
            404,
            err(404, "Could not find the application: [default/app:x]"),
        ),
        (
            f"{APP_STATS}/streams/nope",
            404,
            err(404, "Could not find the stream: [default/#default#app/nope]"),
        ),
        (f"{STATS}/vhosts", 404, err(404, "Controller not found")),
        (f"{STATS}/", 404, err(404, "Controller not found")),
    ],
)
def test_stats_lookups(rt: Runtime, path: str, status: int, body: dict[str, Any]) -> None:
    assert rt.call("GET", path) == (status, body)


def test_output_streams_have_no_stats(tmp_path: Path) -> None:
    from test_runtime_support import LOW_PROFILE, runtime_xml

    rt = Runtime(tmp_path, runtime_xml(extra_profiles=LOW_PROFILE))
    rt.engine.publish("default", "app", "s")
    assert rt.call("GET", f"{APP_STATS}/streams/s_low") == (
        404,
        err(404, "Could not find the stream: [default/#default#app/s_low]"),
    )


def world(rt: Runtime) -> None:
    """Two vhosts, three apps, four streams with viewers, a push and a record."""
    rt.ok("POST", "/v1/vhosts", [{"name": "second"}])
    rt.ok(
        "POST",
        "/v1/vhosts/second/apps",
        [{"name": "a", "type": "live"}, {"name": "b", "type": "live"}],
    )
    rt.engine.publish("default", "app", "s1", viewers=2)
    rt.pull("s2")
    rt.engine.publish("second", "a", "s3", viewers=1)
    rt.engine.publish("second", "b", "s4", viewers=5)
    rt.ok(
        "POST",
        f"{APP}:startPush",
        {"id": "p", "stream": {"name": "s2"}, "protocol": "srt", "url": "srt://d:9"},
    )
    rt.ok("POST", f"{APP}:startRecord", {"id": "r", "stream": {"name": "s1"}})


def sums(rt: Runtime, paths: list[str]) -> dict[str, int]:
    total = dict.fromkeys(ADDITIVE, 0)
    connections: dict[str, int] = {}
    for path in paths:
        metrics = rt.ok("GET", path)
        for key in ADDITIVE:
            total[key] += metrics[key]
        for kind, count in metrics["connections"].items():
            connections[kind] = connections.get(kind, 0) + count
    return {**total, **{f"connections.{k}": v for k, v in connections.items()}}


def level(rt: Runtime, path: str) -> dict[str, int]:
    return sums(rt, [path])


def test_levels_add_up(rt: Runtime) -> None:
    world(rt)
    for step in (0.0, 1.5, 7.25, 60.0):
        rt.clock.advance(step)
        streams = {
            "default/app": [f"{APP_STATS}/streams/s1", f"{APP_STATS}/streams/s2"],
            "second/a": [f"{STATS}/vhosts/second/apps/a/streams/s3"],
            "second/b": [f"{STATS}/vhosts/second/apps/b/streams/s4"],
        }
        for app, paths in streams.items():
            vhost, name = app.split("/")
            assert level(rt, f"{STATS}/vhosts/{vhost}/apps/{name}") == sums(rt, paths), app
        assert level(rt, f"{STATS}/vhosts/default") == sums(
            rt, [APP_STATS, f"{STATS}/vhosts/default/apps/bare"]
        )
        assert level(rt, f"{STATS}/vhosts/second") == sums(
            rt, [f"{STATS}/vhosts/second/apps/a", f"{STATS}/vhosts/second/apps/b"]
        )
        assert level(rt, STATS) == sums(rt, [f"{STATS}/vhosts/default", f"{STATS}/vhosts/second"])


def test_counts_move_with_time_and_sessions(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "s1")
    rt.clock.advance(2)
    stream = f"{APP_STATS}/streams/s1"
    first = rt.ok("GET", stream)
    assert first["totalBytesIn"] == RATE * 2 // 8
    assert first["totalBytesOut"] == 0
    assert first["avgThroughputIn"] == RATE
    rt.engine.add_viewers("default", "app", "s1", 3)
    rt.clock.advance(4)
    second = rt.ok("GET", stream)
    assert second["totalBytesIn"] == RATE * 6 // 8
    assert second["totalBytesOut"] == 3 * RATE * 4 // 8
    assert second["connections"]["llhls"] == 3
    assert second["totalConnections"] == 3
    assert second["maxTotalConnections"] == 3
    assert second["maxTotalConnectionTime"] == format_time(rt.clock.now)
    assert second["lastThroughputOut"] == 3 * RATE
    assert second["lastSentTime"] == format_time(rt.clock.now)
    server = rt.ok("GET", STATS)
    assert server["totalBytesIn"] == second["totalBytesIn"]
    assert server["maxTotalConnections"] == 3


def test_push_and_record_sessions_are_counted(rt: Runtime) -> None:
    rt.pull("s1")
    rt.ok(
        "POST",
        f"{APP}:startPush",
        {"id": "p", "stream": {"name": "s1"}, "protocol": "rtmp", "url": "rtmp://d/a"},
    )
    rt.ok("POST", f"{APP}:startRecord", {"id": "r", "stream": {"name": "s1"}})
    rt.clock.advance(1)
    metrics = rt.ok("GET", APP_STATS)
    assert (metrics["connections"]["push"], metrics["connections"]["file"]) == (1, 1)
    rt.clock.advance(2)
    pushed = rt.ok("GET", f"{APP}:pushes")[0]["totalsentBytes"]
    assert rt.ok("GET", APP_STATS)["totalBytesOut"] == pushed


def test_deleted_streams_stay_counted_above_them(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "s1")
    rt.clock.advance(4)
    before = rt.ok("GET", APP_STATS)["totalBytesIn"]
    rt.plain("DELETE", f"{APP}/streams/s1")
    rt.clock.advance(4)
    after = rt.ok("GET", APP_STATS)
    assert after["totalBytesIn"] == before == RATE * 4 // 8
    assert after["lastThroughputIn"] == 0
    assert after["maxThroughputIn"] == RATE


def test_internals(rt: Runtime) -> None:
    assert rt.ok("GET", f"{STATS}/internals") == ["/v1/stats/current/internals/queues"]
    rt.engine.publish("default", "app", "s1")
    queues = rt.ok("GET", f"{STATS}/internals/queues")
    keys = {
        "avgWaitingTime",
        "drop",
        "id",
        "inputPerSecond",
        "outputPerSecond",
        "peak",
        "size",
        "threshold",
        "type",
        "urn",
    }
    assert queues and all(set(q) == keys for q in queues)
    assert [q["id"] for q in queues] == list(range(1, len(queues) + 1))
    assert "urn:ome:default:#default#app:s1:mediarouter" in {q["urn"] for q in queues}


def test_a_vhost_made_again_starts_from_zero_traffic() -> None:
    """An app's share of its vhost's rates is taken back from the counter it was added to:
    a vhost deleted and made again under its name starts at zero, never below (the
    conformance suite found ``lastThroughputIn`` at -2628000 here)."""
    from omeapi import PullRequest, SimulatedEngine, application_from_json, virtual_host_from_json

    now = [1000.0]
    engine = SimulatedEngine(clock=lambda: now[0])
    vhost = virtual_host_from_json({"name": "v1"})
    app = application_from_json({"name": "a", "type": "live", "providers": {"rtspPull": {}}})
    engine.create_virtual_host(vhost)
    engine.create_application("v1", app)
    engine.create_pull_stream("v1", "a", PullRequest("s", ("rtsp://origin.example.com/a/s",)))
    now[0] += 5
    assert (engine.metrics("v1") or pytest.fail()).last_throughput_in > 0
    engine.delete_application("v1", "a")
    engine.delete_virtual_host("v1")
    engine.create_virtual_host(vhost)
    now[0] += 5
    again = engine.metrics("v1")
    server = engine.metrics()
    assert again is not None and server is not None
    assert (again.last_throughput_in, again.last_throughput_out) == (0, 0)
    assert (server.last_throughput_in, server.last_throughput_out) == (0, 0)
