"""Streams: list, pull (create), detail, terminate; stream lookups and their 404s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_runtime_support import (
    APP,
    BARE,
    HOST,
    LOW_PROFILE,
    Runtime,
    err,
    keys_and_types,
    runtime_xml,
)

from omeapi._controllers.streams import pull_properties
from omeapi._engine.values import PullProperties, format_time
from omeapi._wire.request import ApiRequest

#: ``GET /v1/vhosts/default/apps/app/streams/test`` of a live RTMP push on the observed OME
#: (ome-observed.md, case 60).
OBSERVED_STREAM = json.loads(
    '{"input":{"createdTime":"2026-11-26T10:06:01.106+00:00","sourceType":"Rtmp",'
    '"sourceUrl":"TCP://127.0.0.1:40390","tracks":[{"id":0,"name":"Video","type":"Video",'
    '"video":{"bitrate":292000,"bitrateAvg":317016,"bitrateConf":292000,"bitrateLatest":317824,'
    '"bypass":false,"codec":"H264","deltaFramesSinceLastKeyFrame":8,"framerate":25.0,'
    '"framerateAvg":25.0,"framerateConf":25.0,"framerateLatest":25.0,"hasBframes":false,'
    '"height":240,"keyFrameInterval":19.0,"keyFrameIntervalAvg":19.0,"keyFrameIntervalConf":0.0,'
    '"keyFrameIntervalLatest":25.0,"maxHeight":240,"maxWidth":320,"width":320}},{"audio":'
    '{"bitrate":62000,"bitrateAvg":66783,"bitrateConf":62000,"bitrateLatest":66829,"bypass":false,'
    '"channel":2,"codec":"AAC","samplerate":48000},"id":1,"name":"Audio","type":"Audio"},{"id":2,'
    '"name":"Data","type":"Data"}]},"name":"test","outputs":[{"name":"test","playlists":[{'
    '"fileName":"llhls","name":"llhls_default","options":{"enableTsPackaging":false,'
    '"hlsChunklistPathDepth":-1,"webrtcAutoAbr":false},"renditions":[{"audioVariantName":'
    '"bypass_audio","name":"default","videoVariantName":"bypass_video"}]},{"fileName":"master",'
    '"name":"default","options":{"enableTsPackaging":false,"hlsChunklistPathDepth":-1,'
    '"webrtcAutoAbr":true},"renditions":[{"audioVariantName":"bypass_audio","name":"bypass",'
    '"videoVariantName":"bypass_video"}]}],"tracks":[{"id":0,"name":"bypass_video","type":"Video",'
    '"video":{"bitrate":292000,"bitrateAvg":317016,"bitrateConf":292000,"bitrateLatest":317504,'
    '"bypass":true,"codec":"H264","deltaFramesSinceLastKeyFrame":7,"framerate":25.0,'
    '"framerateAvg":25.0,"framerateConf":25.0,"framerateLatest":25.0,"hasBframes":false,'
    '"height":240,"keyFrameInterval":19.0,"keyFrameIntervalAvg":19.0,"keyFrameIntervalConf":0.0,'
    '"keyFrameIntervalLatest":25.0,"maxHeight":240,"maxWidth":320,"width":320}},{"audio":'
    '{"bitrate":62000,"bitrateAvg":66783,"bitrateConf":62000,"bitrateLatest":66893,"bypass":true,'
    '"channel":2,"codec":"AAC","samplerate":48000},"id":1,"name":"bypass_audio","type":"Audio"},'
    '{"id":2,"name":"Data","type":"Data"}]}]}'
)

STREAMS = f"{APP}/streams"
PULL_URL = f"http://{HOST}{STREAMS}"


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


# -- list -------------------------------------------------------------------------------------


def test_list_is_empty_then_lists_input_streams_only(tmp_path: Path) -> None:
    rt = Runtime(tmp_path, runtime_xml(extra_profiles=LOW_PROFILE))
    assert rt.ok("GET", STREAMS) == []
    rt.engine.publish("default", "app", "live1")
    rt.pull("pulled")
    # ``pulled_low`` (the second profile's output) is not an input stream.
    assert rt.ok("GET", STREAMS) == ["live1", "pulled"]
    assert rt.call("GET", f"{STREAMS}/pulled_low") == (
        404,
        err(404, "Could not find the stream: [default/#default#app/pulled_low]"),
    )


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (
            "/v1/vhosts/nope/apps/app/streams",
            404,
            err(404, "Could not find the virtual host: [nope]"),
        ),
        (
            "/v1/vhosts/default/apps/nope/streams",
            404,
            err(404, "Could not find the application: [default/nope]"),
        ),
        (
            f"{STREAMS}/nope",
            404,
            err(404, "Could not find the stream: [default/#default#app/nope]"),
        ),
        (f"{STREAMS}/", 404, err(404, "Could not find the stream: [default/#default#app/]")),
    ],
)
def test_lookup_errors(rt: Runtime, path: str, status: int, body: dict[str, Any]) -> None:
    assert rt.call("GET", path) == (status, body)
    if path.count("/") > 6:
        assert rt.call("DELETE", path) == (status, body)


def test_hash_in_names_is_replaced_in_the_internal_name(rt: Runtime) -> None:
    rt.ok("POST", "/v1/vhosts", [{"name": "v#1"}])
    rt.ok("POST", "/v1/vhosts/v#1/apps", [{"name": "a#b", "type": "live"}])
    assert rt.call("GET", "/v1/vhosts/v#1/apps/a#b/streams/x") == (
        404,
        err(404, "Could not find the stream: [v#1/#v_1#a_b/x]"),
    )


# -- create (pull) ------------------------------------------------------------------------------

PULL_ERRORS = [
    (None, 400, "Request body must be an object"),
    ([], 400, "Request body must be an object"),
    ("s", 400, "Request body must be an object"),
    (3, 400, "Request body must be an object"),
    ({"name": "pull1"}, 400, "Stream name or urls is required"),
    ({"urls": ["rtsp://h/a/s"]}, 400, "Stream name or urls is required"),
    ({"name": 1, "urls": ["rtsp://h/a/s"]}, 400, "Stream name or urls is required"),
    ({"name": "", "urls": ["rtsp://h/a/s"]}, 400, "Stream name or urls is required"),
    ({"name": "p", "urls": "rtsp://h/a/s"}, 400, "Stream name or urls is required"),
    ({"name": "p", "urls": []}, 400, "Urls must be at least one"),
    ({"name": "p", "urls": ["rtsp://h/a/s", 3]}, 400, "Url must be a string"),
    ({"name": "p", "urls": [None]}, 400, "Url must be a string"),
    ({"name": "p", "urls": ["http://h/a/s"]}, 502, f"Could not pull the stream : {PULL_URL}"),
    (
        {"name": "p", "urls": ["rtsp://down.invalid/a"]},
        502,
        f"Could not pull the stream : {PULL_URL}",
    ),
    ({"name": "p", "urls": ["not a url"]}, 502, f"Could not pull the stream : {PULL_URL}"),
]


@pytest.mark.parametrize(("body", "status", "text"), PULL_ERRORS)
def test_pull_errors(rt: Runtime, body: Any, status: int, text: str) -> None:
    assert rt.call("POST", STREAMS, body) == (status, err(status, text))
    assert rt.ok("GET", STREAMS) == []


def test_pull_error_names_the_api_request_url_with_scheme_host_and_query(rt: Runtime) -> None:
    headers = dict(rt.headers)
    headers["Host"] = "api.example:9443"
    request = ApiRequest.build(
        "POST",
        STREAMS,
        headers,
        b'{"name":"p","urls":["ftp://h/x"]}',
        query="a=1",
        scheme="https",
    )
    response = rt.api.handle(request)
    assert (response.status, json.loads(response.body)) == (
        502,
        err(502, f"Could not pull the stream : https://api.example:9443{STREAMS}?a=1"),
    )


def test_pull_success_conflict_and_the_vhost_is_not_read_only_for_streams(rt: Runtime) -> None:
    # ``default`` is declared in Server.xml: streams are runtime state, no 403.
    rt.pull("s1", "rtsp://camera.example/live")
    assert rt.call("POST", STREAMS, {"name": "s1", "urls": ["rtsp://other.example/x"]}) == (
        409,
        err(409, "Stream already exists"),
    )
    rt.engine.publish("default", "app", "pushed")
    assert rt.call("POST", STREAMS, {"name": "pushed", "urls": ["rtsp://h/x"]}) == (
        409,
        err(409, "Stream already exists"),
    )


def test_pull_tries_urls_in_order(rt: Runtime) -> None:
    rt.pull(
        "s1", "http://unsupported.example/x", "rtsp://down.invalid/x", "ovt://edge.example/app/s"
    )
    source = rt.ok("GET", f"{STREAMS}/s1")["input"]
    assert (source["sourceType"], source["sourceUrl"]) == ("Ovt", "ovt://edge.example/app/s")


@pytest.mark.parametrize(
    ("url", "source_type", "codecs"),
    [
        ("rtsp://cam.example/live", "RtspPull", ["Video:H264", "Audio:AAC"]),
        ("rtsps://cam.example/live", "RtspPull", ["Video:H264", "Audio:AAC"]),
        ("rtmp://origin.example/app/s", "RtmpPull", ["Video:H264", "Audio:AAC", "Data"]),
        ("ovt://origin.example:9000/app/s", "Ovt", ["Video:H264", "Audio:OPUS", "Data"]),
        ("srt://origin.example:9999?streamid=x", "SRT", ["Video:H264", "Audio:AAC", "Data"]),
    ],
)
def test_pulled_stream_source_type_and_tracks(
    rt: Runtime, url: str, source_type: str, codecs: list[str]
) -> None:
    rt.pull("s1", url)
    source = rt.ok("GET", f"{STREAMS}/s1")["input"]
    assert source["sourceType"] == source_type
    assert source["sourceUrl"] == url
    got = [
        t["type"]
        + (":" + (t.get("video") or t.get("audio"))["codec"] if t["type"] != "Data" else "")
        for t in source["tracks"]
    ]
    assert got == codecs
    assert [t["id"] for t in source["tracks"]] == list(range(len(codecs)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, PullProperties(retry_count=-1)),
        ("yes", PullProperties(retry_count=-1)),
        ({}, PullProperties(retry_count=1)),
        ({"retryCount": "3"}, PullProperties(retry_count=1)),
        (
            {
                "persistent": True,
                "noInputFailoverTimeoutMs": 3000,
                "unusedStreamDeletionTimeoutMs": 60000,
                "ignoreRtcpSRTimestamp": False,
                "retryCount": 5,
            },
            PullProperties(True, 3000, 60000, False, 5),
        ),
        (
            {"persistent": 1, "noInputFailoverTimeoutMs": "3000", "ignoreRtcpSRTimestamp": None},
            PullProperties(retry_count=1),
        ),
    ],
)
def test_pull_properties_rules(raw: Any, expected: PullProperties) -> None:
    assert pull_properties(raw) == expected


def test_pull_engine_failure_is_502(rt: Runtime) -> None:
    rt.engine.fail_next("create_pull_stream")
    assert rt.call("POST", STREAMS, {"name": "p", "urls": ["rtsp://h/x"]}) == (
        502,
        err(502, f"Could not pull the stream : {PULL_URL}"),
    )


# -- detail ---------------------------------------------------------------------------------


def test_stream_detail_has_exactly_the_observed_shape(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "test")
    detail = rt.ok("GET", f"{STREAMS}/test")
    assert keys_and_types(detail) == keys_and_types(OBSERVED_STREAM)
    # Same names, variants and playlists as the observed OME.
    assert detail["outputs"][0]["playlists"] == OBSERVED_STREAM["outputs"][0]["playlists"]
    assert [t["name"] for t in detail["outputs"][0]["tracks"]] == [
        "bypass_video",
        "bypass_audio",
        "Data",
    ]
    assert detail["input"]["createdTime"] == format_time(rt.clock.now)
    # Floats are written as floats, like ``25.0``.
    assert b'"framerate":30.0' in rt.request("GET", f"{STREAMS}/test").body


def test_stream_detail_moves_with_the_clock(rt: Runtime) -> None:
    rt.engine.publish("default", "app", "test")
    video = rt.ok("GET", f"{STREAMS}/test")["input"]["tracks"][0]["video"]
    assert video["deltaFramesSinceLastKeyFrame"] == 0
    rt.clock.advance(0.5)
    video = rt.ok("GET", f"{STREAMS}/test")["input"]["tracks"][0]["video"]
    assert video["deltaFramesSinceLastKeyFrame"] == 15


def test_outputs_follow_the_output_profiles(tmp_path: Path) -> None:
    rt = Runtime(tmp_path, runtime_xml(extra_profiles=LOW_PROFILE))
    rt.pull("cam", "rtsp://cam.example/live")
    outputs = rt.ok("GET", f"{STREAMS}/cam")["outputs"]
    assert [o["name"] for o in outputs] == ["cam", "cam_low"]
    low = outputs[1]
    video, audio = low["tracks"]
    assert video["name"] == "h264_360" and video["type"] == "Video"
    assert {k: video["video"][k] for k in ("codec", "width", "height", "framerate", "bitrate")} == {
        "codec": "H264",
        "width": 640,
        "height": 360,
        "framerate": 25.0,
        "bitrate": 800 * 1024,
    }
    assert video["video"]["bypass"] is False
    assert {
        k: audio["audio"][k] for k in ("codec", "bitrate", "samplerate", "channel", "bypass")
    } == {
        "codec": "OPUS",
        "bitrate": 96000,
        "samplerate": 48000,
        "channel": 2,
        "bypass": False,
    }
    # Only LL-HLS's default playlist: the profile has none of its own.
    assert [p["name"] for p in low["playlists"]] == ["llhls_default"]
    assert low["playlists"][0]["renditions"] == [
        {"name": "default", "videoVariantName": "h264_360", "audioVariantName": "opus"}
    ]


def test_app_without_llhls_has_no_default_playlist(rt: Runtime) -> None:
    rt.engine.publish("default", "bare", "s")
    outputs = rt.ok("GET", f"{BARE}/streams/s")["outputs"]
    assert outputs[0]["playlists"] == []
    assert [t["name"] for t in outputs[0]["tracks"]] == ["bypass_video", "Data"]


# -- delete -----------------------------------------------------------------------------------


def test_delete_stream(rt: Runtime) -> None:
    rt.pull("s1")
    rt.engine.publish("default", "app", "s2", viewers=2)
    rt.plain("DELETE", f"{STREAMS}/s1")
    rt.plain("DELETE", f"{STREAMS}/s2")
    assert rt.ok("GET", STREAMS) == []
    assert rt.engine.sessions("default", "app") == 0
    assert rt.call("DELETE", f"{STREAMS}/s1") == (
        404,
        err(404, "Could not find the stream: [default/#default#app/s1]"),
    )


def test_delete_stream_engine_failure_is_500(rt: Runtime) -> None:
    rt.pull("s1")
    rt.engine.fail_next("delete_stream")
    assert rt.call("DELETE", f"{STREAMS}/s1") == (500, err(500, "Could not terminate the stream"))
    assert rt.ok("GET", STREAMS) == ["s1"]


def test_restart_drops_streams(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    rt.ok("POST", "/v1/vhosts", [{"name": "dyn"}])
    rt.ok("POST", "/v1/vhosts/dyn/apps", [{"name": "a", "type": "live"}])
    rt.plain("POST", "/v1/vhosts/dyn/apps/a/streams", {"name": "s", "urls": ["rtsp://h/x"]}, 201)
    rt.ok("PATCH", "/v1/vhosts/dyn/apps/a", {"publishers": {"appWorkerCount": 2}})
    assert rt.ok("GET", "/v1/vhosts/dyn/apps/a/streams") == []
