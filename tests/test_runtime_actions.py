"""Stream actions: LL-HLS dumps, events (ID3v2, cue, SCTE-35), sendEvents, subtitles,
concludeHlsLive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, BARE, Runtime, err

from omeapi._engine.values import (
    CueEvent,
    HlsDump,
    Id3Event,
    Id3Frame,
    Scte35Event,
    StreamEvent,
    SubtitleCue,
)

S = f"{APP}/streams/s1"
WHERE = "[default/app/s1]"

ACTIONS = (
    "hlsDumps",
    "startHlsDump",
    "stopHlsDump",
    "sendEvent",
    "sendEvents",
    "concludeHlsLive",
    "sendSubtitles",
)


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    runtime = Runtime(tmp_path)
    runtime.pull("s1")
    return runtime


# -- common to every action ------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_look_up_the_input_stream_first(rt: Runtime, action: str) -> None:
    assert rt.call("POST", f"{APP}/streams/nope:{action}", {}) == (
        404,
        err(404, "Could not find the stream: [default/#default#app/nope]"),
    )
    assert rt.call("POST", f"/v1/vhosts/default/apps/nope/streams/s1:{action}", {}) == (
        404,
        err(404, "Could not find the application: [default/nope]"),
    )
    # Invalid JSON is refused before any lookup.
    status, body = rt.call("POST", f"{APP}/streams/nope:{action}", raw=b"{")
    assert status == 400 and body["message"].startswith("[HTTP] [JSON] * Line 1, Column 2")


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "sendEvents"])
@pytest.mark.parametrize("body", [[], [{}], "text", 7, True])
def test_non_object_bodies_are_400_not_500(rt: Runtime, action: str, body: Any) -> None:
    assert rt.call("POST", f"{S}:{action}", body) == (
        400,
        err(400, "Request body must be an object"),
    )


def test_stream_names_may_hold_colons(rt: Runtime) -> None:
    rt.pull("a:b")
    rt.plain("POST", f"{APP}/streams/a:b:concludeHlsLive")
    assert rt.engine.concluded("default", "app", "a:b")


# -- HLS dumps ---------------------------------------------------------------------------------

DUMP_ERRORS = [
    ("hlsDumps", {}, 400, "outputStreamName is required"),
    ("hlsDumps", {"outputStreamName": ""}, 400, "outputStreamName is required"),
    ("hlsDumps", {"outputStreamName": 5}, 400, "outputStreamName is required"),
    ("hlsDumps", {"outputStreamName": "x"}, 404, "Could not find output stream: [default/app/x]"),
    ("stopHlsDump", {}, 400, "outputStreamName is required"),
    (
        "stopHlsDump",
        {"outputStreamName": "x"},
        404,
        "Could not find output stream: [default/app/x]",
    ),
    (
        "stopHlsDump",
        {"outputStreamName": "s1", "id": "nope"},
        404,
        "Could not stop dump: [default/app/s1] (there is no dump with id 'nope')",
    ),
    ("startHlsDump", {}, 400, "id, outputStreamName and outputPath are required"),
    (
        "startHlsDump",
        {"id": "d", "outputStreamName": "s1"},
        400,
        "id, outputStreamName and outputPath are required",
    ),
    (
        "startHlsDump",
        {"id": "", "outputStreamName": "s1", "outputPath": "/d"},
        400,
        "id, outputStreamName and outputPath are required",
    ),
    (
        "startHlsDump",
        {"id": "d", "outputStreamName": "zz", "outputPath": "/d"},
        404,
        "Could not find output stream: [default/app/zz]",
    ),
]


@pytest.mark.parametrize(("action", "body", "status", "text"), DUMP_ERRORS)
def test_dump_errors(rt: Runtime, action: str, body: Any, status: int, text: str) -> None:
    assert rt.call("POST", f"{S}:{action}", body) == (status, err(status, text))


def test_dumps_need_llhls(rt: Runtime) -> None:
    rt.engine.publish("default", "bare", "b")
    for action, body in (
        ("hlsDumps", {"outputStreamName": "b"}),
        ("startHlsDump", {"outputStreamName": "b", "id": "d", "outputPath": "/d"}),
        ("stopHlsDump", {"outputStreamName": "b"}),
    ):
        assert rt.call("POST", f"{BARE}/streams/b:{action}", body) == (
            404,
            err(404, "Could not find LLHLS stream: [default/bare/b]"),
        )


def test_dump_lifecycle(rt: Runtime) -> None:
    assert rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1"}) == []
    start = {
        "outputStreamName": "s1",
        "id": "d1",
        "outputPath": "/dumps/s1",
        "playlist": ["llhls.m3u8", 3],
        "infoFile": "/dumps/s1.info",
        "userData": "meta",
    }
    rt.plain("POST", f"{S}:startHlsDump", start)
    rt.plain(
        "POST", f"{S}:startHlsDump", {"outputStreamName": "s1", "id": "d2", "outputPath": "/x"}
    )
    d1 = {
        "enabled": True,
        "id": "d1",
        "infoFile": "/dumps/s1.info",
        "outputPath": "/dumps/s1",
        "outputStreamName": "s1",
        "playlist": ["llhls.m3u8"],
        "userData": "meta",
    }
    d2 = {"enabled": True, "id": "d2", "outputPath": "/x", "outputStreamName": "s1"}
    assert rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1"}) == [d1, d2]
    assert rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1", "id": "d2"}) == [d2]
    assert rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1", "id": "zz"}) == []
    # An id in use: the client's mistake.
    assert rt.call("POST", f"{S}:startHlsDump", start) == (
        409,
        err(409, "Could not start dump: [default/app/s1] (a dump with id 'd1' already exists)"),
    )
    rt.plain("POST", f"{S}:stopHlsDump", {"outputStreamName": "s1", "id": "d1"})
    assert rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1", "id": "d1"}) == [
        {**d1, "enabled": False}
    ]
    rt.plain("POST", f"{S}:stopHlsDump", {"outputStreamName": "s1"})
    assert [d["enabled"] for d in rt.ok("POST", f"{S}:hlsDumps", {"outputStreamName": "s1"})] == [
        False,
        False,
    ]
    # A stopped dump's id can start again.
    rt.plain("POST", f"{S}:startHlsDump", start)


def test_dump_engine_failures(rt: Runtime) -> None:
    rt.engine.fail_next("start_hls_dump")
    assert rt.call(
        "POST", f"{S}:startHlsDump", {"outputStreamName": "s1", "id": "d", "outputPath": "/d"}
    ) == (
        500,
        err(500, "Could not start dump: [default/app/s1] (injected failure of start_hls_dump)"),
    )
    rt.engine.fail_next("stop_hls_dump")
    assert rt.call("POST", f"{S}:stopHlsDump", {"outputStreamName": "s1"}) == (
        500,
        err(500, "Could not stop dump: [default/app/s1] (injected failure of stop_hls_dump)"),
    )


def test_hls_dump_value_renders_like_ome() -> None:
    assert HlsDump("i", "o", "/p", False).to_json() == {
        "enabled": False,
        "id": "i",
        "outputPath": "/p",
        "outputStreamName": "o",
    }


# -- sendEvent ------------------------------------------------------------------------------

EVENT_ERRORS = [
    ({}, "eventFormat(string) and events(array) are required"),
    ({"eventFormat": "id3v2"}, "eventFormat(string) and events(array) are required"),
    ({"eventFormat": "id3v2", "events": []}, "eventFormat(string) and events(array) are required"),
    ({"eventFormat": "id3v2", "events": {}}, "eventFormat(string) and events(array) are required"),
    ({"eventFormat": 1, "events": [{}]}, "eventFormat(string) and events(array) are required"),
    ({"eventFormat": "amf", "events": [{}]}, "eventFormat is not supported: [amf]"),
    ({"eventFormat": "sei", "events": [{}]}, "eventFormat is not supported: [sei]"),
    ({"eventFormat": "id3v2", "events": [{}]}, "frameType is required in events"),
    ({"eventFormat": "id3v2", "events": [3]}, "frameType is required in events"),
    ({"eventFormat": "id3v2", "events": [{"frameType": 1}]}, "frameType is required in events"),
    (
        {"eventFormat": "id3v2", "events": [{"frameType": "TIT2"}, {"frameType": "APIC"}]},
        "frameType is not supported: [APIC]",
    ),
    (
        {"eventFormat": "id3v2", "events": [{"frameType": "priv"}]},
        "frameType is not supported: [priv]",
    ),
    ({"eventFormat": "cue", "events": [{}]}, "cueType is required in events"),
    ({"eventFormat": "cue", "events": [{"cueType": 1}]}, "cueType is required in events"),
    ({"eventFormat": "CUE", "events": [{"cueType": "pause"}]}, "cueType is not supported: [pause]"),
    (
        {
            "eventFormat": "scte35",
            "events": [{"spliceCommand": "timeSignal", "id": 1, "type": "out"}],
        },
        "Now only spliceInsert is supported",
    ),
    ({"eventFormat": "scte35", "events": [{"type": "out"}]}, "id is required in events"),
    ({"eventFormat": "scte35", "events": [{"id": -1, "type": "out"}]}, "id is required in events"),
    ({"eventFormat": "scte35", "events": [{"id": "1", "type": "out"}]}, "id is required in events"),
    (
        {"eventFormat": "scte35", "events": [{"id": 2**32, "type": "out"}]},
        "id is required in events",
    ),
    ({"eventFormat": "scte35", "events": [{"id": 1}]}, "type is required in events"),
    ({"eventFormat": "scte35", "events": [{"id": 1, "type": "mid"}]}, "type must be 'out' or 'in'"),
    (
        {"eventFormat": "cue", "events": [{"cueType": "out"}], "eventType": 3},
        "eventType must be string",
    ),
    (
        {"eventFormat": "cue", "events": [{"cueType": "out"}], "eventType": None},
        "eventType must be string",
    ),
    (
        {"eventFormat": "cue", "events": [{"cueType": "out"}], "eventType": "data"},
        "eventType is not supported: [data]",
    ),
]


@pytest.mark.parametrize(("body", "text"), EVENT_ERRORS)
def test_send_event_errors(rt: Runtime, body: dict[str, Any], text: str) -> None:
    assert rt.call("POST", f"{S}:sendEvent", body) == (400, err(400, text))
    assert rt.engine.events("default", "app", "s1") == []


def test_send_event_null_body_is_an_empty_object(rt: Runtime) -> None:
    assert rt.call("POST", f"{S}:sendEvent") == (
        400,
        err(400, "eventFormat(string) and events(array) are required"),
    )


SENT_EVENTS = [
    (
        {
            "eventFormat": "id3v2",
            "eventType": "Video",
            "urgent": True,
            "events": [
                {"frameType": "TXXX", "info": "key", "data": "value"},
                {"frameType": "TIT2", "data": "title", "info": "ignored"},
                {"frameType": "PRIV", "info": "owner", "data": "bytes"},
                {"frameType": "TALB", "data": 5},
            ],
        },
        StreamEvent(
            Id3Event(
                (
                    Id3Frame("TXXX", "value", "key"),
                    Id3Frame("TIT2", "title"),
                    Id3Frame("PRIV", "bytes", "owner"),
                    Id3Frame("TALB", ""),
                )
            ),
            "video",
            True,
        ),
    ),
    (
        {"eventFormat": "Cue", "events": [{"cueType": "OUT", "duration": 30000}, {"cueType": "x"}]},
        StreamEvent(CueEvent("out", 30000)),
    ),
    (
        {"eventFormat": "cue", "events": [{"cueType": "in", "duration": -5}], "urgent": "yes"},
        StreamEvent(CueEvent("in", 0)),
    ),
    (
        {
            "eventFormat": "SCTE35",
            "eventType": "audio",
            "events": [{"id": 7, "type": "out", "duration": 60000, "autoReturn": True}],
        },
        StreamEvent(Scte35Event(7, "out", 60000, True), "audio"),
    ),
    (
        {
            "eventFormat": "scte35",
            "events": [{"spliceCommand": "spliceInsert", "id": 8, "type": "in"}],
        },
        StreamEvent(Scte35Event(8, "in")),
    ),
]


@pytest.mark.parametrize(("body", "event"), SENT_EVENTS)
def test_send_event_injects(rt: Runtime, body: dict[str, Any], event: StreamEvent) -> None:
    rt.plain("POST", f"{S}:sendEvent", body)
    assert rt.engine.events("default", "app", "s1") == [event]


def test_send_event_engine_failure(rt: Runtime) -> None:
    rt.engine.fail_next("send_event")
    body = {"eventFormat": "cue", "events": [{"cueType": "out"}]}
    assert rt.call("POST", f"{S}:sendEvent", body) == (
        500,
        err(500, f"Internal Server Error - Could not inject event: {WHERE}"),
    )


# -- sendEvents -------------------------------------------------------------------------------

GOOD = {"eventFormat": "cue", "events": [{"cueType": "out"}]}
BAD = {"eventFormat": "cue", "events": [{}]}


@pytest.mark.parametrize("body", [None, {}, [], "x", {"events": [GOOD]}])
def test_send_events_needs_a_non_empty_array(rt: Runtime, body: Any) -> None:
    assert rt.call("POST", f"{S}:sendEvents", body) == (400, err(400, "events(array) is required"))


@pytest.mark.parametrize(
    ("items", "status", "entries"),
    [
        ([GOOD, GOOD], 200, [{"message": "OK", "statusCode": 200}] * 2),
        (
            [GOOD, BAD, 3],
            207,
            [
                {"message": "OK", "statusCode": 200},
                {"message": "cueType is required in events", "statusCode": 400},
                {"message": "Request body must be an object", "statusCode": 400},
            ],
        ),
        ([BAD], 400, [{"message": "cueType is required in events", "statusCode": 400}]),
    ],
)
def test_send_events_is_multi_item(
    rt: Runtime, items: list[Any], status: int, entries: list[dict[str, Any]]
) -> None:
    assert rt.call("POST", f"{S}:sendEvents", items) == (status, entries)
    sent = sum(1 for e in entries if e["statusCode"] == 200)
    assert len(rt.engine.events("default", "app", "s1")) == sent


def test_send_events_engine_failure_is_a_per_item_500(rt: Runtime) -> None:
    rt.engine.fail_next("send_event")
    assert rt.call("POST", f"{S}:sendEvents", [GOOD, GOOD]) == (
        207,
        [
            {
                "message": f"Internal Server Error - Could not inject event: {WHERE}",
                "statusCode": 500,
            },
            {"message": "OK", "statusCode": 200},
        ],
    )


# -- concludeHlsLive --------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"urgent": True}, {"urgent": "no"}])
def test_conclude_hls_live(rt: Runtime, body: Any) -> None:
    rt.plain("POST", f"{S}:concludeHlsLive", body)
    assert rt.engine.concluded("default", "app", "s1")


def test_conclude_engine_failure(rt: Runtime) -> None:
    rt.engine.fail_next("conclude_hls_live")
    assert rt.call("POST", f"{S}:concludeHlsLive") == (
        500,
        err(500, f"Internal Server Error - Could not inject ConcludeLive event: {WHERE}"),
    )


# -- sendSubtitles ----------------------------------------------------------------------------

CUE = {"text": "Hi"}
SUBTITLE_ERRORS = [
    ({}, "format(string) and data(array) are required"),
    ({"format": "webvtt"}, "format(string) and data(array) are required"),
    ({"format": "webvtt", "data": []}, "format(string) and data(array) are required"),
    ({"format": 1, "data": [{}]}, "format(string) and data(array) are required"),
    ({"format": "srt", "data": [{}]}, "format is not supported: [srt]"),
    ({"format": "webvtt", "data": [{}]}, "label(string) and subtitles(array) are required"),
    ({"format": "webvtt", "data": [7]}, "label(string) and subtitles(array) are required"),
    (
        {"format": "webvtt", "data": [{"label": "en", "subtitles": []}]},
        "label(string) and subtitles(array) are required",
    ),
    (
        {"format": "webvtt", "data": [{"label": 1, "subtitles": [CUE]}]},
        "label(string) and subtitles(array) are required",
    ),
    (
        {"format": "webvtt", "data": [{"label": "en", "subtitles": [{}]}]},
        "text(string) is required in subtitles",
    ),
    # A bad cue after a good one: nothing is sent (OME would have sent the first).
    (
        {"format": "webvtt", "data": [{"label": "en", "subtitles": [CUE, {"text": 3}]}]},
        "text(string) is required in subtitles",
    ),
]


@pytest.mark.parametrize(("body", "text"), SUBTITLE_ERRORS)
def test_send_subtitles_errors(rt: Runtime, body: dict[str, Any], text: str) -> None:
    assert rt.call("POST", f"{S}:sendSubtitles", body) == (400, err(400, text))
    assert rt.engine.subtitles("default", "app", "s1") == []


def test_send_subtitles_timing(rt: Runtime) -> None:
    body = {
        "format": "WebVTT",
        "data": [
            {
                "label": "English",
                "subtitles": [
                    {"text": "Hi", "startOffset": 0, "durationMs": 3000, "settings": "line:90%"},
                    {"text": "there"},
                    {"text": "later", "startOffset": 500, "durationMs": 2000},
                ],
            },
            {"label": "Korean", "subtitles": [{"text": "안녕", "durationMs": "long"}]},
        ],
    }
    rt.plain("POST", f"{S}:sendSubtitles", body)
    assert rt.engine.subtitles("default", "app", "s1") == [
        SubtitleCue("English", "Hi", 0, 3000, "line:90%"),
        SubtitleCue("English", "there", 3000, 1000),
        SubtitleCue("English", "later", 4500, 2000),
        SubtitleCue("Korean", "안녕", 6500, 1000),
    ]


def test_send_subtitles_engine_failure(rt: Runtime) -> None:
    rt.engine.fail_next("send_subtitles")
    body = {"format": "webvtt", "data": [{"label": "en", "subtitles": [CUE]}]}
    assert rt.call("POST", f"{S}:sendSubtitles", body) == (
        500,
        err(500, f"Could not send WebVTT frame: {WHERE}"),
    )
