"""One session from end to end: vhost → app → pull → push and record → events and subtitles
→ statistics → stop everything → delete.  Every step's answer is checked."""

from __future__ import annotations

from pathlib import Path

from test_runtime_support import Runtime, err

from omeapi._engine.values import (
    CueEvent,
    Id3Event,
    Id3Frame,
    StreamEvent,
    SubtitleCue,
    format_time,
)
from omeapi._simulated.jobs import CONNECT_DELAY, STOP_DELAY

V = "/v1/vhosts/walk"
A = f"{V}/apps/live"
S = f"{A}/streams/cam"
ST = "/v1/stats/current"


def test_walk_through(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    clock, engine = rt.clock, rt.engine

    # 1. A vhost and an app with the push and file publishers (OME's default profile).
    assert rt.ok("POST", "/v1/vhosts", [{"name": "walk"}]) == [{"name": "walk"}]
    app = {
        "name": "live",
        "type": "live",
        "providers": {"rtmp": {}, "rtspPull": {}},
        "publishers": {"llhls": {}, "push": {}, "file": {"rootPath": "/rec"}},
    }
    created = rt.ok("POST", f"{V}/apps", [app])[0]
    assert created["name"] == "live" and created["dynamic"] is False
    assert rt.ok("GET", f"{A}/streams") == []
    assert rt.ok("GET", f"{ST}/vhosts/walk")["totalBytesIn"] == 0

    # 2. Pull a camera.
    rt.plain("POST", f"{A}/streams", {"name": "cam", "urls": ["rtsp://cam.example/live"]}, 201)
    assert rt.ok("GET", f"{A}/streams") == ["cam"]
    detail = rt.ok("GET", S)
    assert detail["input"]["sourceType"] == "RtspPull"
    assert detail["input"]["sourceUrl"] == "rtsp://cam.example/live"
    (output,) = detail["outputs"]
    assert output["name"] == "cam"
    tracks = {t["name"]: t for t in output["tracks"]}
    assert list(tracks) == ["bypass_video", "opus", "aac"]
    assert tracks["bypass_video"]["video"]["bypass"] is True
    assert (tracks["opus"]["audio"]["codec"], tracks["opus"]["audio"]["bypass"]) == ("OPUS", False)
    # ``aac`` has BypassIfMatch codec eq, and the source is AAC: passed through.
    assert (tracks["aac"]["audio"]["codec"], tracks["aac"]["audio"]["bypass"]) == ("AAC", True)
    assert [p["name"] for p in output["playlists"]] == ["llhls_default"]

    # 3. Push it and record it.
    push = {
        "id": "yt",
        "stream": {"name": "cam"},
        "protocol": "rtmp",
        "url": "rtmp://live.example/app",
        "streamKey": "k",
    }
    assert rt.ok("POST", f"{A}:startPush", push)["state"] == "ready"
    record = {"id": "rec", "stream": {"name": "cam"}, "filePath": "${StreamName}.ts"}
    answer = rt.ok("POST", f"{A}:startRecord", record)
    assert (answer["state"], answer["filePath"]) == ("ready", "/rec/${StreamName}.ts")
    clock.advance(CONNECT_DELAY)
    (pushing,) = rt.ok("GET", f"{A}:pushes")
    assert (pushing["state"], pushing["sequence"]) == ("pushing", 1)
    (recording,) = rt.ok("POST", f"{A}:records", {})
    assert (recording["state"], recording["outputFilePath"]) == ("recording", "/rec/cam.ts")

    # 4. Events and subtitles.
    rt.plain(
        "POST",
        f"{S}:sendEvent",
        {"eventFormat": "id3v2", "events": [{"frameType": "TIT2", "data": "Live"}]},
    )
    assert rt.call(
        "POST",
        f"{S}:sendEvents",
        [{"eventFormat": "cue", "events": [{"cueType": "out", "duration": 1000}]}],
    ) == (200, [{"message": "OK", "statusCode": 200}])
    rt.plain(
        "POST",
        f"{S}:sendSubtitles",
        {"format": "webvtt", "data": [{"label": "en", "subtitles": [{"text": "Hello"}]}]},
    )
    assert engine.events("walk", "live", "cam") == [
        StreamEvent(Id3Event((Id3Frame("TIT2", "Live"),))),
        StreamEvent(CueEvent("out", 1000)),
    ]
    assert engine.subtitles("walk", "live", "cam") == [SubtitleCue("en", "Hello", 0, 1000)]

    # 5. Viewers come; the statistics show it and add up.
    engine.add_viewers("walk", "live", "cam", 2)
    clock.advance(10)
    stream = rt.ok("GET", f"{ST}/vhosts/walk/apps/live/streams/cam")
    assert stream["connections"] == {
        "webrtc": 0,
        "llhls": 2,
        "ovt": 0,
        "file": 1,
        "push": 1,
        "thumbnail": 0,
        "hlsv3": 0,
        "srt": 0,
    }
    assert stream["totalConnections"] == 4
    input_rate = 2_500_000 + 128_000
    assert stream["totalBytesIn"] == input_rate * (CONNECT_DELAY + 10) // 8
    assert stream["totalBytesOut"] > 0
    for path in (f"{ST}/vhosts/walk/apps/live", f"{ST}/vhosts/walk"):
        upper = rt.ok("GET", path)
        for key in ("totalBytesIn", "totalBytesOut", "totalConnections", "lastThroughputOut"):
            assert upper[key] == stream[key], (path, key)
    server = rt.ok("GET", ST)
    assert server["totalConnections"] == 4
    assert server["totalBytesIn"] == stream["totalBytesIn"]

    # 6. Stop everything.
    rt.plain("POST", f"{A}:stopPush", {"id": "yt"})
    assert rt.ok("POST", f"{A}:stopRecord", {"id": "rec"})["state"] == "stopping"
    clock.advance(STOP_DELAY)
    assert [p["state"] for p in rt.ok("GET", f"{A}:pushes")] == ["stopped"]
    (stopped,) = rt.ok("GET", f"{A}:records")
    assert (stopped["state"], stopped["finishTime"]) == ("stopped", format_time(clock.now))
    rt.plain("POST", f"{S}:concludeHlsLive", {"urgent": True})
    assert engine.concluded("walk", "live", "cam")
    rt.plain("DELETE", S)
    assert rt.ok("GET", f"{A}/streams") == []
    assert rt.call("GET", f"{ST}/vhosts/walk/apps/live/streams/cam") == (
        404,
        err(404, "Could not find the stream: [walk/#walk#live/cam]"),
    )
    assert rt.ok("GET", f"{ST}/vhosts/walk/apps/live")["connections"]["llhls"] == 0

    # 7. Delete the app and the vhost.
    rt.plain("DELETE", A)
    rt.plain("DELETE", V)
    assert rt.call("GET", f"{ST}/vhosts/walk") == (
        404,
        err(404, "Could not find the virtual host: [walk]"),
    )
    assert rt.ok("GET", "/v1/vhosts") == ["default"]
    # The server keeps what flowed.
    assert rt.ok("GET", ST)["totalBytesIn"] >= stream["totalBytesIn"]
