"""Push and record jobs: body rules, messages, shapes and the state machines on the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, BARE, Runtime, err

from omeapi._engine.values import format_time
from omeapi._simulated.jobs import CONNECT_DELAY, JOB_RETENTION, STOP_DELAY

EPOCH = format_time(0)
TEMPLATE = "${VirtualHost}/${StreamName}_${Sequence}_${StartTime:YYYYMMDDhhmmss}.ts"


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


def push(push_id: str = "p1", url: str = "rtmp://dst.example/app", **extra: Any) -> dict[str, Any]:
    return {"id": push_id, "stream": {"name": "s1"}, "protocol": "rtmp", "url": url, **extra}


def record(record_id: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "stream": {"name": "s1"}, **extra}


# -- push: validation ----------------------------------------------------------------------

PUSH_ERRORS = [
    ({}, 400, "Could not find protocol '': [default/app]"),
    (None, 400, "Could not find protocol '': [default/app]"),
    ({"protocol": "hls"}, 400, "Could not find protocol 'hls': [default/app]"),
    ({"protocol": 5}, 400, "Could not find protocol '': [default/app]"),
    ({"protocol": " RTMP ", "stream": []}, 400, "stream must be an object"),
    ({"protocol": "rtmp"}, 400, "There is no required parameter [ id stream.name url]"),
    (
        {"protocol": "srt", "id": "p", "stream": {"name": 1}},
        400,
        "There is no required parameter [ stream.name url]",
    ),
    (
        {"protocol": "rtmp", "id": "", "stream": {"name": "s"}, "url": "  "},
        400,
        "There is no required parameter [ id url]",
    ),
    (push(url="///"), 400, "Could not parse url"),
    (push(url="rtmp:/host/app"), 400, "Could not parse url"),
    (push(url="rtmp://host:99999/app"), 400, "Could not parse url"),
    (push(url="srt://host:9000"), 400, "Unsupported protocol"),
    (push(url="http://host/app"), 400, "Unsupported protocol"),
    ({**push(url="rtmp://h/a"), "protocol": "srt"}, 400, "Unsupported protocol"),
    (
        {**push(url="srt://h:9000?mode=listener"), "protocol": "srt"},
        400,
        "Unsupported connection mode",
    ),
    ({**push(url="tcp://h:9000?listen"), "protocol": "mpegts"}, 400, "Unsupported tcp listen"),
    ({**push(url="rtsp://h:9000"), "protocol": "mpegts"}, 400, "Unsupported protocol"),
]


@pytest.mark.parametrize(("body", "status", "text"), PUSH_ERRORS)
def test_start_push_errors(rt: Runtime, body: Any, status: int, text: str) -> None:
    assert rt.call("POST", f"{APP}:startPush", body) == (status, err(status, text))
    assert rt.ok("GET", f"{APP}:pushes") == []


@pytest.mark.parametrize(
    ("protocol", "url", "stored"),
    [
        ("rtmp", "rtmp://dst.example/app/", "rtmp://dst.example/app"),
        ("RTMP", "  rtmps://dst.example:443/app//  ", "rtmps://dst.example:443/app"),
        ("srt", "srt://dst.example:9000?mode=caller&streamid=x", None),
        ("srt", "srt://dst.example:9000", None),
        ("mpegts", "udp://239.0.0.1:4000", None),
        ("mpegts", "tcp://dst.example:4000", None),
    ],
)
def test_start_push_accepts(rt: Runtime, protocol: str, url: str, stored: str | None) -> None:
    answer = rt.ok("POST", f"{APP}:startPush", {**push(url=url), "protocol": protocol})
    assert answer["url"] == (stored or url)
    assert answer["protocol"] == protocol.lower()


def test_push_and_record_need_their_publisher(rt: Runtime) -> None:
    push_off = err(404, "The push publisher is not enabled for the application: [default/bare]")
    file_off = err(404, "The file publisher is not enabled for the application: [default/bare]")
    for action in ("startPush", "stopPush"):
        body = push() if action == "startPush" else {}
        assert rt.call("POST", f"{BARE}:{action}", body) == (404, push_off)
    # Listing is not an error: such an app has no pushes (OME answers [] too).
    assert rt.ok("GET", f"{BARE}:pushes") == []
    assert rt.ok("POST", f"{BARE}:pushes", {"id": "x"}) == []
    for action in ("startRecord", "stopRecord", "records"):
        assert rt.call("POST", f"{BARE}:{action}", record()) == (404, file_off)
    assert rt.call("GET", f"{BARE}:records") == (404, file_off)
    # The protocol is checked before the publisher, as in OME.
    assert rt.call("POST", f"{BARE}:startPush", {}) == (
        400,
        err(400, "Could not find protocol '': [default/bare]"),
    )


@pytest.mark.parametrize(
    "path",
    ["/v1/vhosts/nope/apps/app:startPush", "/v1/vhosts/default/apps/nope:startRecord"],
)
def test_job_lookups(rt: Runtime, path: str) -> None:
    status, body = rt.call("POST", path, {})
    assert status == 404 and "Could not find the" in body["message"]


def test_push_duplicate_and_unknown_ids(rt: Runtime) -> None:
    rt.ok("POST", f"{APP}:startPush", push())
    assert rt.call("POST", f"{APP}:startPush", push()) == (400, err(400, "Duplicate ID"))
    assert rt.call("POST", f"{APP}:stopPush", {}) == (
        400,
        err(400, "There is no required parameter [ id]"),
    )
    assert rt.call("POST", f"{APP}:stopPush", {"id": "zz"}) == (
        404,
        err(404, "Could not find id 'zz': [default/app]"),
    )
    assert rt.call("POST", f"{APP}:stopPush", []) == (
        400,
        err(400, "Request body must be an object"),
    )


# -- push: shape and state machine ----------------------------------------------------------------


def test_push_object_shape_and_states(rt: Runtime) -> None:
    created = format_time(rt.clock.now)
    body = push(
        url="rtmp://dst.example/live",
        streamKey="key",
        stream={"name": "s1", "trackIds": [0, "1", 1], "variantNames": ["bypass_video", 2]},
    )
    started = rt.ok("POST", f"{APP}:startPush", body)
    assert started == {
        "id": "p1",
        "vhost": "default",
        "app": "app",
        "stream": {"name": "s1", "trackIds": [0, 1], "variantNames": ["bypass_video"]},
        "state": "ready",
        "protocol": "rtmp",
        "url": "rtmp://dst.example/live",
        "streamKey": "key",
        "sentBytes": 0,
        "sentTime": 0,
        "totalsentBytes": 0,
        "totalsentTime": 0,
        "sequence": 0,
        "startTime": EPOCH,
        "finishTime": EPOCH,
        "createdTime": created,
        "isConfig": False,
    }
    # Waits for its stream.
    rt.clock.advance(10)
    assert rt.ok("POST", f"{APP}:pushes", {"id": "p1"})[0]["state"] == "ready"
    rt.pull("s1")
    assert rt.ok("GET", f"{APP}:pushes")[0]["state"] == "connecting"
    rt.clock.advance(CONNECT_DELAY)
    pushing = rt.ok("GET", f"{APP}:pushes")[0]
    assert (pushing["state"], pushing["sequence"]) == ("pushing", 1)
    assert pushing["startTime"] == format_time(rt.clock.now)
    rt.clock.advance(4)
    pushing = rt.ok("GET", f"{APP}:pushes")[0]
    # Video + audio of the bypass output (the selected tracks), for four seconds.
    assert pushing["sentTime"] == 4000
    assert pushing["sentBytes"] == (2_500_000 + 128_000) * 4 // 8
    assert pushing["totalsentBytes"] == pushing["sentBytes"]
    rt.plain("POST", f"{APP}:stopPush", {"id": "p1"})
    stopping = rt.ok("GET", f"{APP}:pushes")[0]
    assert stopping["state"] == "stopping"
    assert stopping["totalsentTime"] == 4000
    rt.clock.advance(STOP_DELAY)
    stopped = rt.ok("GET", f"{APP}:pushes")[0]
    assert stopped["state"] == "stopped"
    assert stopped["finishTime"] == format_time(rt.clock.now)
    # A finished job's id can be used again at once; finished jobs go after a while.
    rt.ok("POST", f"{APP}:startPush", push("p1"))
    rt.plain("POST", f"{APP}:stopPush", {"id": "p1"})
    rt.clock.advance(STOP_DELAY + JOB_RETENTION + 1)
    assert rt.ok("GET", f"{APP}:pushes") == []


def test_push_to_an_unreachable_target_ends_in_error(rt: Runtime) -> None:
    rt.pull("s1")
    rt.ok("POST", f"{APP}:startPush", push(url="rtmp://nowhere.invalid/app"))
    rt.clock.advance(CONNECT_DELAY)
    failed = rt.ok("GET", f"{APP}:pushes")[0]
    assert failed["state"] == "error"
    assert failed["finishTime"] == format_time(rt.clock.now)
    assert failed["sentBytes"] == 0


def test_push_waits_again_when_its_stream_goes(rt: Runtime) -> None:
    rt.pull("s1")
    rt.ok("POST", f"{APP}:startPush", push())
    rt.clock.advance(CONNECT_DELAY + 2)
    rt.plain("DELETE", f"{APP}/streams/s1")
    waiting = rt.ok("GET", f"{APP}:pushes")[0]
    assert (waiting["state"], waiting["sentBytes"], waiting["totalsentTime"]) == ("ready", 0, 2000)
    rt.pull("s1")
    rt.clock.advance(CONNECT_DELAY)
    again = rt.ok("GET", f"{APP}:pushes")[0]
    assert (again["state"], again["sequence"]) == ("pushing", 2)


def test_pushes_list_and_filter(rt: Runtime) -> None:
    rt.ok("POST", f"{APP}:startPush", push("a"))
    rt.ok("POST", f"{APP}:startPush", push("b"))
    assert [p["id"] for p in rt.ok("GET", f"{APP}:pushes")] == ["a", "b"]
    assert [p["id"] for p in rt.ok("POST", f"{APP}:pushes")] == ["a", "b"]
    assert [p["id"] for p in rt.ok("POST", f"{APP}:pushes", {"id": "b"})] == ["b"]
    assert rt.ok("POST", f"{APP}:pushes", {"id": "zz"}) == []
    assert rt.ok("POST", f"{APP}:pushes", {"id": 3}) == rt.ok("GET", f"{APP}:pushes")


# -- record: validation ---------------------------------------------------------------------

RECORD_ERRORS = [
    ({}, "There is no required parameter [ id stream.name]"),
    (None, "There is no required parameter [ id stream.name]"),
    ({"id": "r"}, "There is no required parameter [ stream.name]"),
    ({"stream": {"name": "s"}}, "There is no required parameter [ id]"),
    ({"id": "r", "stream": "s"}, "stream must be an object"),
    (
        record(interval=1000, schedule="0 */5 *"),
        "[Interval] and [Schedule] cannot be used at the same time",
    ),
    (record(schedule="0 0"), "Invalid [schedule] parameter"),
    (record(schedule="0 0 24"), "Invalid [schedule] parameter"),
    (record(schedule="*/0 * *"), "Invalid [schedule] parameter"),
    (record(schedule="a b c"), "Invalid [schedule] parameter"),
    (record(schedule="0 0 0 0"), "Invalid [schedule] parameter"),
    (record(schedule="1" * 40 + " * *"), "Invalid [schedule] parameter"),
]


@pytest.mark.parametrize(("body", "text"), RECORD_ERRORS)
def test_start_record_errors(rt: Runtime, body: Any, text: str) -> None:
    assert rt.call("POST", f"{APP}:startRecord", body) == (400, err(400, text))


@pytest.mark.parametrize("schedule", ["0 0 *", "*/30 * *", "0 */10 1", "* * *", "59 59 23"])
def test_valid_schedules(rt: Runtime, schedule: str) -> None:
    assert rt.ok("POST", f"{APP}:startRecord", record(schedule=schedule))["schedule"] == schedule


def test_record_ids(rt: Runtime) -> None:
    rt.ok("POST", f"{APP}:startRecord", record())
    assert rt.call("POST", f"{APP}:startRecord", record()) == (
        400,
        err(400, "Duplicate ID already exists"),
    )
    assert rt.call("POST", f"{APP}:stopRecord", {}) == (
        400,
        err(400, "There is no required parameter [ id]"),
    )
    assert rt.call("POST", f"{APP}:stopRecord", {"id": "zz"}) == (
        404,
        err(404, "There is no record information related to the ID [zz]"),
    )


# -- record: shape and state machine ------------------------------------------------------------


def test_record_object_shape_and_states(rt: Runtime) -> None:
    created = rt.clock.now
    body = record(
        metadata="m",
        interval=2000,
        segmentationRule="continuity",
        filePath=TEMPLATE,
        stream={"name": "s1", "tracks": [0], "variantNames": []},
    )
    ready = rt.ok("POST", f"{APP}:startRecord", body)
    assert ready == {
        "state": "ready",
        "isConfig": False,
        "id": "r1",
        "metadata": "m",
        "vhost": "default",
        "app": "app",
        "stream": {"name": "s1", "trackIds": [0], "variantNames": []},
        "filePath": "/recordings/" + TEMPLATE,
        "infoPath": "/recordings/${VirtualHost}_${Application}_${StreamName}.xml",
        "interval": 2000,
        "segmentationRule": "continuity",
        "createdTime": format_time(created),
    }
    rt.pull("s1")
    rt.clock.advance(CONNECT_DELAY)
    started = rt.clock.now
    rt.clock.advance(5)  # files of 2 s: the third one is 1 s old
    recording = rt.ok("POST", f"{APP}:records", {"id": "r1"})[0]
    assert recording["state"] == "recording"
    assert recording["startTime"] == format_time(started)
    assert recording["sequence"] == 2
    assert recording["recordTime"] == 1000
    assert recording["totalRecordTime"] == 5000
    assert recording["totalRecordBytes"] == 2_500_000 * 5 // 8
    third = format_time(started + 4).replace("-", "").replace("T", "").replace(":", "")[:14]
    assert recording["outputFilePath"] == f"/recordings/default/s1_2_{third}.ts"
    assert "finishTime" not in recording
    stopping = rt.ok("POST", f"{APP}:stopRecord", {"id": "r1"})
    assert stopping["state"] == "stopping"
    rt.clock.advance(STOP_DELAY)
    stopped = rt.ok("GET", f"{APP}:records")[0]
    assert stopped["state"] == "stopped"
    assert stopped["finishTime"] == format_time(rt.clock.now)
    assert stopped["totalRecordTime"] == 6000


def test_record_defaults_and_error(rt: Runtime) -> None:
    rt.pull("s1")
    answer = rt.ok("POST", f"{APP}:startRecord", record(filePath="/media/x.invalid/f.ts"))
    assert "interval" not in answer and "schedule" not in answer and "metadata" not in answer
    assert answer["segmentationRule"] == "discontinuity"
    rt.clock.advance(CONNECT_DELAY)
    failed = rt.ok("GET", f"{APP}:records")[0]
    assert failed["state"] == "error"
    assert failed["finishTime"] == format_time(rt.clock.now)
    assert "recordBytes" not in failed and "startTime" not in failed


def test_record_schedule_splits_files(rt: Runtime) -> None:
    rt.clock.now = 1_700_000_100.0  # a whole minute + 40 s
    rt.pull("s1")
    rt.ok("POST", f"{APP}:startRecord", record(schedule="*/30 * *"))
    rt.clock.advance(CONNECT_DELAY + 60)
    recording = rt.ok("GET", f"{APP}:records")[0]
    assert recording["state"] == "recording"
    assert recording["sequence"] == 2  # splits at :30 and :00


def test_records_list_and_filter(rt: Runtime) -> None:
    rt.ok("POST", f"{APP}:startRecord", record("a"))
    rt.ok("POST", f"{APP}:startRecord", record("b"))
    assert [r["id"] for r in rt.ok("GET", f"{APP}:records")] == ["a", "b"]
    assert [r["id"] for r in rt.ok("POST", f"{APP}:records", {"id": "a"})] == ["a"]
    assert rt.ok("POST", f"{APP}:records", {"id": "zz"}) == []


def test_engine_failures_are_500_with_the_reason(rt: Runtime) -> None:
    rt.engine.fail_next("start_push")
    assert rt.call("POST", f"{APP}:startPush", push()) == (
        500,
        err(500, "injected failure of start_push"),
    )
    rt.engine.fail_next("start_record")
    assert rt.call("POST", f"{APP}:startRecord", record()) == (
        500,
        err(500, "injected failure of start_record"),
    )


def test_jobs_are_per_app_and_end_with_it(rt: Runtime) -> None:
    rt.ok("POST", "/v1/vhosts", [{"name": "dyn"}])
    rt.ok(
        "POST",
        "/v1/vhosts/dyn/apps",
        [{"name": "a", "type": "live", "publishers": {"push": {}, "file": {}}}],
    )
    rt.ok("POST", "/v1/vhosts/dyn/apps/a:startPush", push())
    assert rt.ok("GET", f"{APP}:pushes") == []
    # A restart (PATCH) is a new app in OME: its jobs are gone.
    rt.ok("PATCH", "/v1/vhosts/dyn/apps/a", {"publishers": {"appWorkerCount": 2}})
    assert rt.ok("GET", "/v1/vhosts/dyn/apps/a:pushes") == []
