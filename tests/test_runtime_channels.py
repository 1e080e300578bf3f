"""Scheduled and multiplex channels: parsers and messages, files, state, restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import APP, BARE, START, Runtime, err

from omeapi._engine.channels import parse_iso8601
from omeapi._engine.values import format_time

SCH = f"{APP}/scheduledChannels"
MUX = f"{APP}/multiplexChannels"
#: a program that started 10 s before the clock's start, one minute of items, repeating
ON_AIR = "2023-11-14T22:13:10.000+00:00"


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


def schedule(name: str = "ch", **extra: Any) -> dict[str, Any]:
    return {
        "stream": {"name": name},
        "programs": [
            {
                "name": "morning",
                "scheduled": ON_AIR,
                "repeat": True,
                "items": [
                    {"url": "file://intro.mp4", "duration": 20000},
                    {"url": "stream://default/app/live", "start": 5000, "duration": 40000},
                ],
            }
        ],
        **extra,
    }


def multiplex(name: str = "mx", **extra: Any) -> dict[str, Any]:
    return {
        "outputStream": {"name": name},
        "sourceStreams": [
            {
                "name": "cam1",
                "url": "stream://default/app/cam1",
                "trackMap": [
                    {"sourceTrackName": "bypass_video", "newTrackName": "cam1_video"},
                    {
                        "sourceTrackName": "bypass_audio",
                        "newTrackName": "cam1_audio",
                        "bitrateConf": 96000,
                    },
                ],
            }
        ],
        **extra,
    }


# -- scheduled: POST ----------------------------------------------------------------------------

SCHEDULE_ERRORS = [
    ({}, "Failed to find Stream object"),
    ({"stream": "x"}, "Failed to find Stream object"),
    ({"stream": {}}, "Failed to find Stream.Name object"),
    ({"stream": {"name": 1}}, "Failed to find Stream.Name object"),
    ({"stream": {"name": "c", "audioMap": {}}}, "audioMap must be an array"),
    ({"stream": {"name": "c"}, "fallbackProgram": []}, "FallbackProgram must be an object"),
    ({"stream": {"name": "c"}, "programs": {}}, "programs must be an array"),
    (
        {"stream": {"name": "c"}, "programs": [{}]},
        "Failed to find scheduled object, scheduled is required",
    ),
    (
        {"stream": {"name": "c"}, "programs": [{"scheduled": ON_AIR}, {"name": "next"}]},
        "Failed to find scheduled object, scheduled is required",
    ),
    (
        {"stream": {"name": "c"}, "programs": [{"scheduled": "tomorrow"}]},
        "Failed to parse scheduled attribute: not an ISO 8601 date-time: tomorrow",
    ),
    (
        {"stream": {"name": "c"}, "programs": [{"scheduled": "2023-02-30T00:00:00Z"}]},
        "Failed to parse scheduled attribute: day is out of range for month: 2023-02-30T00:00:00Z",
    ),
    (
        {"stream": {"name": "c"}, "programs": [{"scheduled": ON_AIR, "items": {}}]},
        "items must be an array",
    ),
    (
        {"stream": {"name": "c"}, "fallbackProgram": {"items": [{}]}},
        "Failed to find url object, url is required",
    ),
    (
        {"stream": {"name": "c"}, "fallbackProgram": {"items": [{"url": "http://x/a.mp4"}]}},
        "Failed to parse url attribute, url must be file:// or stream://",
    ),
    ({"stream": {"name": "a/b"}}, "Invalid stream name"),
    ({"stream": {"name": ".."}}, "Invalid stream name"),
    ({"stream": {"name": ""}}, "Invalid stream name"),
]


@pytest.mark.parametrize(("body", "text"), SCHEDULE_ERRORS)
def test_create_scheduled_errors(rt: Runtime, body: dict[str, Any], text: str) -> None:
    assert rt.call("POST", SCH, body) == (400, err(400, text))
    assert not (rt.directory / "schedules").exists()


@pytest.mark.parametrize("body", [None, [], "x", 1])
def test_create_scheduled_needs_an_object(rt: Runtime, body: Any) -> None:
    assert rt.call("POST", SCH, body) == (400, err(400, "Invalid request body"))


def test_scheduled_needs_the_provider(rt: Runtime) -> None:
    forbidden = (403, {"message": "Forbidden", "statusCode": 403})
    assert rt.call("POST", f"{BARE}/scheduledChannels", schedule()) == forbidden
    # The body shape is checked before the provider.
    assert rt.call("POST", f"{BARE}/scheduledChannels", []) == (
        400,
        err(400, "Invalid request body"),
    )
    assert rt.ok("GET", f"{BARE}/scheduledChannels") == []


def test_create_scheduled_writes_the_file_and_starts_the_stream(rt: Runtime) -> None:
    rt.plain("POST", SCH, schedule(), 201)
    path = rt.directory / "schedules" / "ch.sch"
    stored = json.loads(path.read_text())
    assert stored["stream"] == {
        "name": "ch",
        "bypassTranscoder": False,
        "videoTrack": True,
        "audioTrack": True,
        "audioMap": None,
        "errorToleranceDurationMs": 3000,
    }
    assert rt.ok("GET", SCH) == ["ch"]
    assert rt.ok("GET", f"{APP}/streams") == ["ch"]
    assert rt.ok("GET", f"{APP}/streams/ch")["input"]["sourceType"] == "Scheduled"
    assert rt.call("POST", SCH, schedule()) == (409, err(409, "Stream 'ch' already exists"))
    rt.engine.publish("default", "app", "live")
    assert rt.call("POST", SCH, schedule("live")) == (409, err(409, "Stream 'live' already exists"))


def test_get_scheduled_shape_and_current_program(rt: Runtime) -> None:
    body = schedule(
        fallbackProgram={"items": [{"url": "file://fallback.mp4"}]},
        stream={
            "name": "ch",
            "bypassTranscoder": True,
            "audioMap": [{"name": "main", "language": "en"}],
            "errorToleranceDurationMs": 1000,
        },
    )
    rt.plain("POST", SCH, body, 201)
    got = rt.ok("GET", f"{SCH}/ch")
    assert got == {
        "stream": {
            "name": "ch",
            "bypassTranscoder": True,
            "videoTrack": True,
            "audioTrack": True,
            "audioMap": [{"name": "main", "language": "en", "characteristics": ""}],
            "errorToleranceDurationMs": 1000,
        },
        "fallbackProgram": {
            "name": "",
            "scheduled": format_time(0),
            "repeat": False,
            "items": [{"url": "file://fallback.mp4", "start": 0, "duration": -1}],
        },
        "programs": [
            {
                "name": "morning",
                "scheduled": format_time(parse_iso8601(ON_AIR)),
                "repeat": True,
                "items": [
                    {"url": "file://intro.mp4", "start": 0, "duration": 20000},
                    {"url": "stream://default/app/live", "start": 5000, "duration": 40000},
                ],
            }
        ],
        "currentProgram": {
            "state": "onair",
            "name": "morning",
            "scheduled": format_time(parse_iso8601(ON_AIR)),
            "end": format_time(0),
            "duration": 60000,
            "repeat": True,
            "currentItem": {
                "url": "file://intro.mp4",
                "duration": 20000,
                "start": 0,
                "currentPosition": 10000,
            },
        },
    }
    rt.clock.advance(15)  # 25 s in: 5 s into the second item, which starts at 5 s
    item = rt.ok("GET", f"{SCH}/ch")["currentProgram"]["currentItem"]
    assert (item["url"], item["currentPosition"]) == ("stream://default/app/live", 10000)
    rt.clock.advance(60)  # it repeats
    item = rt.ok("GET", f"{SCH}/ch")["currentProgram"]["currentItem"]
    assert (item["url"], item["currentPosition"]) == ("stream://default/app/live", 10000)


def test_programs_that_ended_are_dropped(rt: Runtime) -> None:
    def program(name: str, at: float) -> dict[str, Any]:
        items = [{"url": "file://a.mp4", "duration": 1000}]
        return {"name": name, "scheduled": format_time(at), "items": items}

    # ``first`` ends where ``second`` begins; ``second`` after its one second of items.
    body = {
        "stream": {"name": "ch"},
        "programs": [program("first", START - 7200), program("second", START - 3600)],
    }
    rt.plain("POST", SCH, body, 201)
    got = rt.ok("GET", f"{SCH}/ch")
    assert "programs" not in got
    assert got["currentProgram"] == {"state": "offair"}


def test_a_program_whose_items_are_over_is_off_air_until_the_next(rt: Runtime) -> None:
    old, later = START - 3600, START + 3600
    body = {
        "stream": {"name": "ch"},
        "programs": [
            {
                "name": "old",
                "scheduled": format_time(old),
                "items": [{"url": "file://a.mp4", "duration": 1000}],
            },
            {"name": "later", "scheduled": format_time(later), "items": []},
        ],
    }
    rt.plain("POST", SCH, body, 201)
    got = rt.ok("GET", f"{SCH}/ch")
    assert [p["name"] for p in got["programs"]] == ["old", "later"]
    assert got["currentProgram"] == {
        "state": "offair",
        "name": "old",
        "scheduled": format_time(old),
        "end": format_time(later),
        "duration": 1000,
        "repeat": False,
    }


def test_scheduled_lookups(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "live")
    not_scheduled = (400, err(400, "Stream is not a scheduled stream"))
    assert rt.call("GET", f"{SCH}/live") == not_scheduled
    assert rt.call("PATCH", f"{SCH}/live", {"programs": []}) == not_scheduled
    assert rt.call("DELETE", f"{SCH}/live") == not_scheduled
    missing = (404, err(404, "Could not find the stream: [default/#default#app/nope]"))
    for method in ("GET", "PATCH", "DELETE"):
        assert rt.call(method, f"{SCH}/nope", {}) == missing
    assert rt.call("GET", f"{SCH}/") == (
        404,
        err(404, "Could not find the stream: [default/#default#app/]"),
    )


def test_patch_scheduled(rt: Runtime) -> None:
    rt.plain("POST", SCH, schedule(), 201)
    assert rt.call("PATCH", f"{SCH}/ch", []) == (400, err(400, "Invalid request body"))
    assert rt.call("PATCH", f"{SCH}/ch", {"stream": {"name": "x"}}) == (
        400,
        err(400, "Stream object could not be patched"),
    )
    assert rt.call("PATCH", f"{SCH}/ch", {"programs": {}}) == (
        400,
        err(400, "programs must be an array"),
    )
    new_programs = [
        {
            "name": "evening",
            "scheduled": ON_AIR,
            "items": [{"url": "file://e.mp4", "duration": 90000}],
        }
    ]
    patch = {"programs": new_programs, "fallbackProgram": {"items": [{"url": "file://f.mp4"}]}}
    # OME answers 201 here.
    rt.plain("PATCH", f"{SCH}/ch", patch, 201)
    got = rt.ok("GET", f"{SCH}/ch")
    assert [p["name"] for p in got["programs"]] == ["evening"]
    assert got["fallbackProgram"]["items"][0]["url"] == "file://f.mp4"
    assert got["stream"]["name"] == "ch"
    stored = json.loads((rt.directory / "schedules" / "ch.sch").read_text())
    assert [p["name"] for p in stored["programs"]] == ["evening"]


def test_delete_scheduled_removes_file_and_stream(rt: Runtime) -> None:
    rt.plain("POST", SCH, schedule(), 201)
    rt.plain("DELETE", f"{SCH}/ch")
    assert not (rt.directory / "schedules" / "ch.sch").exists()
    assert rt.ok("GET", SCH) == []
    assert rt.ok("GET", f"{APP}/streams") == []


def test_schedule_save_failure_is_500(rt: Runtime) -> None:
    (rt.directory / "schedules").write_text("a file where the directory should be")
    path = rt.directory / "schedules" / "ch.sch"
    assert rt.call("POST", SCH, schedule()) == (
        500,
        err(500, f"Could not save the schedule file {path}"),
    )
    assert rt.ok("GET", SCH) == []


def test_channel_files_come_back_when_the_app_starts_again(tmp_path: Path) -> None:
    first = Runtime(tmp_path)
    first.plain("POST", SCH, schedule(), 201)
    first.plain("POST", MUX, multiplex(), 201)
    # A new process over the same configuration directory.
    second = Runtime(tmp_path)
    assert second.ok("GET", SCH) == ["ch"]
    assert second.ok("GET", MUX) == ["mx"]
    assert second.ok("GET", f"{SCH}/ch")["programs"][0]["name"] == "morning"
    # A file omeapi cannot read is left alone.
    (tmp_path / "schedules" / "junk.sch").write_text("<Schedule/>")
    assert Runtime(tmp_path).ok("GET", SCH) == ["ch"]


# -- multiplex ---------------------------------------------------------------------------------

MUX_ERRORS = [
    ({}, "Failed to find outputStream object"),
    ({"outputStream": {}}, "Failed to find outputStream/name object"),
    ({"outputStream": {"name": "m"}}, "Failed to find sourceStreams object"),
    (
        {"outputStream": {"name": "m"}, "sourceStreams": [{}]},
        "Failed to find sourceStreams/name object",
    ),
    (
        {"outputStream": {"name": "m"}, "sourceStreams": [{"name": "a"}]},
        "Failed to find sourceStreams/url object",
    ),
    (
        {"outputStream": {"name": "m"}, "sourceStreams": [{"name": "a", "url": "not a url"}]},
        "Failed to parse url: not a url",
    ),
    (
        {"outputStream": {"name": "m"}, "sourceStreams": [{"name": "a", "url": "stream://d/a/s"}]},
        "Failed to find sourceStreams/trackMap object",
    ),
    (
        {
            "outputStream": {"name": "m"},
            "sourceStreams": [{"name": "a", "url": "stream://d/a/s", "trackMap": [{}]}],
        },
        "Failed to find sourceStreams/trackMap/sourceTrackName object",
    ),
    (
        {
            "outputStream": {"name": "m"},
            "sourceStreams": [
                {"name": "a", "url": "stream://d/a/s", "trackMap": [{"sourceTrackName": "v"}]}
            ],
        },
        "Failed to find sourceStreams/trackMap/newTrackName object",
    ),
    (multiplex(playlists=[{}]), "Failed to find playlists/name object"),
    (multiplex(playlists=[{"name": "p"}]), "Failed to find playlists/fileName object"),
    (
        multiplex(playlists=[{"name": "p", "fileName": "f", "renditions": [{}]}]),
        "Failed to find playlists/renditions/name object",
    ),
    (
        multiplex(
            playlists=[{"name": "p", "fileName": "f", "renditions": [{"name": "r", "video": "v"}]}]
        ),
        "Failed to find video variant name v in SourceStream/TrackMap object",
    ),
    (
        multiplex(
            playlists=[{"name": "p", "fileName": "f", "renditions": [{"name": "r", "audio": "a"}]}]
        ),
        "Failed to find audio variant name a in SourceStream/TrackMap object",
    ),
    (multiplex("../up"), "Invalid stream name"),
]


@pytest.mark.parametrize(("body", "text"), MUX_ERRORS)
def test_create_multiplex_errors(rt: Runtime, body: dict[str, Any], text: str) -> None:
    assert rt.call("POST", MUX, body) == (400, err(400, text))


def test_multiplex_needs_the_provider(rt: Runtime) -> None:
    base = f"{BARE}/multiplexChannels"
    assert rt.call("POST", base, multiplex()) == (403, {"message": "Forbidden", "statusCode": 403})
    assert rt.call("POST", base, "x") == (400, err(400, "Invalid request body"))
    missing = (404, err(404, "Could not get the multiplex application"))
    assert rt.call("GET", base) == missing
    assert rt.call("GET", f"{base}/mx") == missing
    assert rt.call("DELETE", f"{base}/mx") == missing
    assert rt.call("GET", f"{base}/") == (400, err(400, "Invalid stream name"))


def test_multiplex_lifecycle_and_state(rt: Runtime) -> None:
    assert rt.ok("GET", MUX) == []
    assert rt.call("GET", f"{MUX}/") == (400, err(400, "Invalid stream name"))
    assert rt.call("GET", f"{MUX}/mx") == (404, err(404, "Could not get the multiplex stream <mx>"))
    body = multiplex(
        outputStream={"name": "mx", "bypassTranscoder": True},
        playlists=[
            {
                "name": "LLHLS ABR",
                "fileName": "abr",
                "options": {"webrtcAutoAbr": False, "hlsChunklistPathDepth": -1},
                "renditions": [{"name": "main", "video": "cam1_video", "audio": "cam1_audio"}],
            }
        ],
    )
    rt.plain("POST", MUX, body, 201)
    assert json.loads((rt.directory / "mux" / "mx.mux").read_text())["outputStream"] == {
        "name": "mx",
        "bypassTranscoder": True,
    }
    assert rt.call("POST", MUX, body) == (409, err(409, "Stream 'mx' already exists"))
    waiting = rt.ok("GET", f"{MUX}/mx")
    assert waiting == {
        "outputStream": {"name": "mx", "bypassTranscoder": True},
        "sourceStreams": [
            {
                "name": "cam1",
                "url": "stream://default/app/cam1",
                "trackMap": [
                    {"sourceTrackName": "bypass_video", "newTrackName": "cam1_video"},
                    {
                        "sourceTrackName": "bypass_audio",
                        "newTrackName": "cam1_audio",
                        "bitrateConf": 96000,
                    },
                ],
            }
        ],
        "playlists": [
            {
                "name": "LLHLS ABR",
                "fileName": "abr",
                "options": {"webrtcAutoAbr": False},
                "renditions": [{"name": "main", "video": "cam1_video", "audio": "cam1_audio"}],
            }
        ],
        "state": "Pulling",
        "pullingMessage": "Waiting for source streams: stream://default/app/cam1",
    }
    rt.engine.publish("default", "app", "cam1")
    playing = rt.ok("GET", f"{MUX}/mx")
    assert playing["state"] == "Playing" and "pullingMessage" not in playing
    assert rt.ok("GET", MUX) == ["mx"]
    detail = rt.ok("GET", f"{APP}/streams/mx")
    assert detail["input"]["sourceType"] == "Multiplex"
    assert [t["name"] for t in detail["input"]["tracks"]] == ["cam1_video", "cam1_audio"]
    rt.plain("DELETE", f"{MUX}/mx")
    assert not (rt.directory / "mux" / "mx.mux").exists()
    assert rt.call("DELETE", f"{MUX}/mx") == (
        404,
        err(404, "Could not get the multiplex stream <mx>"),
    )
    assert rt.ok("GET", MUX) == []


def test_multiplex_on_a_non_multiplex_stream_is_not_found(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "live")
    assert rt.call("GET", f"{MUX}/live") == (
        404,
        err(404, "Could not get the multiplex stream <live>"),
    )


def test_multiplex_save_failure_is_500(rt: Runtime) -> None:
    (rt.directory / "mux").write_text("not a directory")
    path = rt.directory / "mux" / "mx.mux"
    assert rt.call("POST", MUX, multiplex()) == (
        500,
        err(500, f"Could not save the multiplex file {path}"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", START),
        ("2023-11-14T22:13:20.000+00:00", START),
        ("2023-11-15T07:13:20.5+09:00", START + 0.5),
        ("2023-11-14 22:13:20+0000", START),
        ("2023-11-14T17:13:20-05", START),
    ],
)
def test_iso8601(text: str, expected: float) -> None:
    assert parse_iso8601(text) == expected
