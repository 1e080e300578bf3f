"""A table of OME 0.21 answers, one row per shape that changed since 0.20.

Each row was read from OME's source at the ``v0.21.0`` tag (the JSON serialisers in
``modules/json_serdes``, the REST controllers in ``api_server/controllers/v1``, the
orchestrator's pull checks and the config items' ``Register`` calls), and gives what omeapi
answers on each wire: ``0.21`` as OME 0.21.0 does, ``0.20`` byte for byte as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_runtime_support import APP, Runtime, err, runtime_xml

from omeapi import open_api
from omeapi._config.ome_wire import wire_for
from omeapi._engine.values import (
    AudioInfo,
    DwellStats,
    Playlist,
    QueueMetrics,
    Rendition,
    StreamInfo,
    SttTrackInfo,
    SubtitleInfo,
    Track,
    VideoInfo,
)

S = f"{APP}/streams/s1"
VHOSTS = "/v1/vhosts"

STT_PROFILE = """<MediaOptions><STT><Enable>true</Enable><Rendition>
<Engine>whisper</Engine><Model>base.bin</Model><SourceLanguage>en</SourceLanguage>
<OutputSubtitleLabel>auto</OutputSubtitleLabel></Rendition></STT></MediaOptions>"""


#: A Whisper (speech-to-text) rendition's subtitle object on the 0.21 wire.
STT_SUBTITLE = {
    "codec": "WHISPER",
    "codecStatus": "Ready",
    "language": "en",
    "autoSelect": True,
    "default": False,
    "forced": False,
    "timebase": {"num": 1, "den": 1000},
    "stt": {
        "engine": "whisper",
        "model": "base.bin",
        "sourceLanguage": "en",
        "translation": False,
        "outputLabel": "auto",
    },
}


def _api(tmp_path: Path, version: str, xml: str | None = None) -> Runtime:
    rt = Runtime(tmp_path, xml)
    rt.api = open_api(rt.api.config, rt.engine, brake=False, ome_version=version)
    return rt


def _fields(version: str) -> frozenset[str]:
    return wire_for(version).fields


# -- values: what the serialisers write -------------------------------------------------------

VIDEO = VideoInfo(
    "H264",
    1280,
    720,
    30.0,
    2_000_000,
    max_width=1920,
    max_height=1080,
    timebase=(1, 90000),
    max_framerate=60.0,
    codec_module="OPENH264",
    codec_status="Ready",
    language="en",
    config_change_count=2,
    last_config_changed=0.0,
)
_VIDEO_020 = {
    "bypass": False,
    "codec": "H264",
    "width": 1280,
    "maxWidth": 1920,
    "height": 720,
    "maxHeight": 1080,
    "bitrate": 2000000,
    "bitrateConf": 0,
    "bitrateAvg": 0,
    "bitrateLatest": 0,
    "framerate": 30.0,
    "framerateConf": 0.0,
    "framerateAvg": 0.0,
    "framerateLatest": 0.0,
    "hasBframes": False,
    "keyFrameInterval": 0.0,
    "keyFrameIntervalConf": 0.0,
    "keyFrameIntervalAvg": 0.0,
    "keyFrameIntervalLatest": 0.0,
    "deltaFramesSinceLastKeyFrame": 0,
    "timebase": {"num": 1, "den": 90000},
}
_EPOCH = VIDEO.to_json(_fields("0.21"))["lastConfigChanged"]  # local time zone's epoch

AUDIO = AudioInfo("AAC", 48000, 2, 128000, bypass=True, codec_module="FDKAAC", language="ko")
_AUDIO_020 = {
    "bypass": True,
    "codec": "AAC",
    "samplerate": 48000,
    "channel": 2,
    "bitrate": 128000,
    "bitrateConf": 0,
    "bitrateAvg": 0,
    "bitrateLatest": 0,
}

WEBVTT = Track(3, "Subtitle", "en_sub", subtitle=SubtitleInfo(language="en", default=True))
WHISPER = Track(
    4,
    "Subtitle",
    "auto",
    subtitle=SubtitleInfo(
        "WHISPER",
        "Ready",
        language="en",
        auto_select=True,
        timebase=(1, 1000),
        stt=SttTrackInfo("whisper", "base.bin", "en", False, "auto"),
    ),
)

RELAY = StreamInfo(
    "r1",
    "RtmpPull",
    0.0,
    (Track(0, "Video", "v", video=attrs.evolve(VIDEO, timebase=(0, 0))),),
    relay=True,
    playlists=(Playlist("llhls_default", "llhls", (Rendition("default", "v"),)),),
)

QUEUE = QueueMetrics(
    7,
    "",
    "MediaRouterStream",
    dwell=DwellStats(1, 2, 3, 4, 5, 6),
    dwell_latest=DwellStats(10, 20, 30, 40, 50, 60),
)

#: QUEUE as OME 0.20 answers it (0.21 adds the dwell times, and "No Urn" for no URN).
QUEUE_0_20 = {
    "id": 7,
    "urn": "",
    "type": "MediaRouterStream",
    "size": 0,
    "threshold": 0,
    "peak": 0,
    "drop": 0,
    "inputPerSecond": 0,
    "outputPerSecond": 0,
    "avgWaitingTime": 0,
}

#: (row, value, {version: its JSON on that wire})
VALUE_ROWS: list[tuple[str, Any, dict[str, Any]]] = [
    (
        # stream.cpp SetVideoTrack: maxFramerate (0.20.5); codecModule unless bypassed,
        # codecStatus/language/characteristics when set; configChangeCount, and
        # lastConfigChanged once it changed
        "video track",
        Track(0, "Video", "v", video=VIDEO),
        {
            "0.20": {"id": 0, "type": "Video", "name": "v", "video": _VIDEO_020},
            "0.21": {
                "id": 0,
                "type": "Video",
                "name": "v",
                "video": {
                    **_VIDEO_020,
                    "maxFramerate": 60.0,
                    "codecModule": "OPENH264",
                    "codecStatus": "Ready",
                    "language": "en",
                    "configChangeCount": 2,
                    "lastConfigChanged": _EPOCH,
                },
            },
        },
    ),
    (
        # SetAudioTrack: no codecModule for a bypassed track; configChangeCount 0, no
        # lastConfigChanged
        "audio track",
        Track(1, "Audio", audio=AUDIO),
        {
            "0.20": {"id": 1, "type": "Audio", "audio": _AUDIO_020},
            "0.21": {
                "id": 1,
                "type": "Audio",
                "audio": {**_AUDIO_020, "language": "ko", "configChangeCount": 0},
            },
        },
    ),
    (
        # SetTrack, MediaType::Data: data{codec}
        "data track",
        Track(2, "Data", "Data", data_codec="None"),
        {
            "0.20": {"id": 2, "type": "Data", "name": "Data"},
            "0.21": {"id": 2, "type": "Data", "name": "Data", "data": {"codec": "None"}},
        },
    ),
    (
        # SetTrack, MediaType::Subtitle: codec, the optional strings, the three flags, and
        # timebase only when valid
        "WebVTT subtitle track",
        WEBVTT,
        {
            "0.20": {"id": 3, "type": "Subtitle", "name": "en_sub"},
            "0.21": {
                "id": 3,
                "type": "Subtitle",
                "name": "en_sub",
                "subtitle": {
                    "codec": "WebVTT",
                    "language": "en",
                    "autoSelect": False,
                    "default": True,
                    "forced": False,
                },
            },
        },
    ),
    (
        # a Whisper (speech-to-text) subtitle track adds stt{engine, model, sourceLanguage,
        # translation, outputLabel}
        "STT subtitle track",
        WHISPER,
        {
            "0.20": {"id": 4, "type": "Subtitle", "name": "auto"},
            "0.21": {
                "id": 4,
                "type": "Subtitle",
                "name": "auto",
                "subtitle": STT_SUBTITLE,
            },
        },
    ),
    (
        # SetTimebase: 0.21 writes a timebase when it is valid (num > 0 and den > 0); our
        # 0.20 wire keeps the contract's rule (den > 0)
        "timebase with num 0",
        AudioInfo("AAC", 48000, 2, 0, timebase=(0, 48000)),
        {
            "0.20": {
                **_AUDIO_020,
                "bitrate": 0,
                "bypass": False,
                "timebase": {"num": 0, "den": 48000},
            },
            "0.21": {**_AUDIO_020, "bitrate": 0, "bypass": False, "configChangeCount": 0},
        },
    ),
    (
        # JsonFromStream: a relay stream with no output streams is its own output (0.20.5)
        "relay stream outputs",
        RELAY,
        {
            "0.20": {
                "name": "r1",
                "input": RELAY.to_json()["input"],
                "outputs": [],
            },
            "0.21": {
                "name": "r1",
                "input": RELAY.to_json(_fields("0.21"))["input"],
                "outputs": [
                    {
                        "name": "r1",
                        "tracks": RELAY.to_json(_fields("0.21"))["input"]["tracks"],
                        "playlists": [
                            {
                                "name": "llhls_default",
                                "fileName": "llhls",
                                "options": {
                                    "webrtcAutoAbr": True,
                                    "hlsChunklistPathDepth": -1,
                                    "enableTsPackaging": False,
                                },
                                "renditions": [{"name": "default", "videoVariantName": "v"}],
                            }
                        ],
                    }
                ],
            },
        },
    ),
    (
        # metrics.cpp JsonFromQueueMetrics: dwell percentiles, lifetime and latest, and
        # "No Urn" for a queue without one
        "internal queue",
        QUEUE,
        {
            "0.20": QUEUE_0_20,
            "0.21": {
                **QUEUE_0_20,
                "urn": "No Urn",
                "dwellMinUs": 1,
                "dwellAvgUs": 2,
                "dwellP50Us": 3,
                "dwellP90Us": 4,
                "dwellP99Us": 5,
                "dwellMaxUs": 6,
                "dwellLatestMinUs": 10,
                "dwellLatestAvgUs": 20,
                "dwellLatestP50Us": 30,
                "dwellLatestP90Us": 40,
                "dwellLatestP99Us": 50,
                "dwellLatestMaxUs": 60,
            },
        },
    ),
]


@pytest.mark.parametrize("version", ["0.20", "0.21"])
@pytest.mark.parametrize(("row", "value", "answers"), VALUE_ROWS, ids=[r[0] for r in VALUE_ROWS])
def test_value_answers(row: str, value: Any, answers: dict[str, Any], version: str) -> None:
    assert value.to_json(_fields(version)) == answers[version]
    if version == "0.20":
        assert value.to_json(_fields(version)) == value.to_json()  # the default is 0.20's


# -- the API: requests and answers ---------------------------------------------------------


def _new_app(rt: Runtime, app: dict[str, Any]) -> tuple[int, Any]:
    rt.ok("POST", VHOSTS, [{"name": "dyn", "host": {"names": ["*"]}}])
    status, body = rt.call("POST", f"{VHOSTS}/dyn/apps", [app])
    if status == 200 and isinstance(body, list):
        return body[0]["statusCode"], body[0].get("response", body[0].get("message"))
    return status, body


def _version(rt: Runtime) -> Any:
    return rt.ok("GET", "/v1/version")["version"]


def _renamed_keys(rt: Runtime) -> Any:
    # Register calls renamed at 7444c74e4: the app answer speaks the version's names
    app = {
        "name": "a",
        "type": "live",
        "publishers": {"hls": {"dVR": {"enable": True}}, "mPEGTSPush": {}},
        "outputProfiles": {"outputProfile": []},
    }
    if rt.api.services.wire.version == "0.21":
        app["publishers"] = {"hls": {"dvr": {"enable": True}}, "mpegtsPush": {}}
    status, created = _new_app(rt, app)
    return status, sorted(created["publishers"]), created["publishers"]["hls"]


def _other_versions_key(rt: Runtime) -> Any:
    key = "dvr" if rt.api.services.wire.version == "0.20" else "dVR"
    app = {"name": "a", "type": "live", "publishers": {"hls": {key: {}}}}
    return _new_app(rt, app)


def _file_provider_flag(rt: Runtime) -> Any:
    # providers.h: FILE is a deprecated bool in 0.21 (read from any JSON value, echoed)
    status, created = _new_app(rt, {"name": "f", "type": "live", "providers": {"file": True}})
    return status, created if status != 200 else created["providers"]


def _stt(action: str) -> Callable[[Runtime], Any]:
    def run(rt: Runtime) -> Any:
        rt.pull("s1")
        return rt.call("POST", f"{S}:{action}")

    return run


def _pull(urls: list[str], properties: dict[str, Any] | None = None) -> Callable[[Runtime], Any]:
    def run(rt: Runtime) -> Any:
        body: dict[str, Any] = {"name": "p1", "urls": urls}
        if properties is not None:
            body["properties"] = properties
        return rt.call("POST", f"{APP}/streams", body)

    return run


def _pulled_request(properties: dict[str, Any]) -> Callable[[Runtime], Any]:
    # streams_controller.cpp: retryCount defaults to 0 (0.20.5; was 1); relay is read
    def run(rt: Runtime) -> Any:
        from omeapi._controllers.streams import pull_properties

        got = pull_properties(properties, rt.api.services.wire)
        return got.retry_count, got.relay

    return run


def _relay_stream(rt: Runtime) -> Any:
    rt.plain(
        "POST",
        f"{APP}/streams",
        {"name": "r1", "urls": ["rtmp://o.example/app/r1"], "properties": {"relay": True}},
        201,
    )
    outputs = rt.ok("GET", f"{APP}/streams/r1")["outputs"]
    return [(o["name"], [t["type"] for t in o["tracks"]], len(o["playlists"])) for o in outputs]


def _stt_tracks(rt: Runtime) -> Any:
    rt.pull("s1")
    outputs = rt.ok("GET", S)["outputs"]
    return [t for t in outputs[0]["tracks"] if t["type"] == "Subtitle"]


def _queues(rt: Runtime) -> Any:
    rt.pull("s1")
    queue = rt.ok("GET", "/v1/stats/current/internals/queues")[-1]
    return sorted(k for k in queue if k.startswith("dwell"))


def _send_event(event_format: str) -> Callable[[Runtime], Any]:
    # stream_actions_controller.cpp: 0.21 takes only id3v2
    def run(rt: Runtime) -> Any:
        rt.pull("s1")
        events = {
            "id3v2": [{"frameType": "TXXX", "info": "i", "data": "d"}],
            "cue": [{"cueType": "out", "duration": 1000}],
            "scte35": [{"spliceCommand": "spliceInsert", "id": 1, "type": "out"}],
        }[event_format]
        body = {"eventFormat": event_format, "events": events}
        return rt.call("POST", f"{S}:sendEvent", body)[0]

    return run


_WHERE = "[default/app/s1]"
#: an action 0.20 lacks: the path is a stream name no POST route takes
_NO_ROUTE = err(405, "Method not allowed: POST")


def _config_error(text: str) -> dict[str, Any]:
    return {"message": f"[Config] {text}", "statusCode": 400}


_PULL_URL = f"http://localhost:48081{APP}/streams"

#: (row, run, {version: what it answers}, the Server.xml's extra output profiles)
API_ROWS: list[tuple[str, Callable[[Runtime], Any], dict[str, Any], str]] = [
    ("GET /v1/version", _version, {"0.20": "0.20.0", "0.21": "0.21.0"}, ""),
    (
        "renamed app keys",
        _renamed_keys,
        {
            "0.20": (200, ["hls", "mPEGTSPush"], {"dVR": {"enable": True}}),
            "0.21": (200, ["hls", "mpegtsPush"], {"dvr": {"enable": True}}),
        },
        "",
    ),
    (
        "the other version's key",
        _other_versions_key,
        {
            "0.20": (400, _config_error("Unknown item found: application.publishers.hls.dvr")),
            "0.21": (400, _config_error("Unknown item found: application.publishers.hls.dVR")),
        },
        "",
    ),
    (
        "providers.file: true",
        _file_provider_flag,
        {
            "0.20": (200, {"file": {}}),
            "0.21": (200, {"file": True}),
        },
        "",
    ),
    (
        ":enableStt without an STT encoder",
        _stt("enableStt"),
        {
            "0.20": (405, _NO_ROUTE),
            "0.21": (404, err(404, f"Could not find STT encoder for stream: {_WHERE}")),
        },
        "",
    ),
    (
        ":enableStt",
        _stt("enableStt"),
        {
            "0.20": (405, _NO_ROUTE),
            "0.21": (200, {"message": "OK", "response": {"enabled": True}, "statusCode": 200}),
        },
        STT_PROFILE,
    ),
    (
        ":disableStt",
        _stt("disableStt"),
        {
            "0.20": (405, _NO_ROUTE),
            "0.21": (200, {"message": "OK", "response": {"enabled": False}, "statusCode": 200}),
        },
        STT_PROFILE,
    ),
    (
        ":sttStatus",
        _stt("sttStatus"),
        {
            "0.20": (405, _NO_ROUTE),
            "0.21": (
                200,
                {
                    "message": "OK",
                    "response": {
                        "enabled": True,
                        "renditions": [
                            {
                                "codec": "whisper",
                                "engine": "whisper",
                                "model": "base.bin",
                                "sourceLanguage": "en",
                                "outputLabel": "auto",
                            }
                        ],
                    },
                    "statusCode": 200,
                },
            ),
        },
        STT_PROFILE,
    ),
    (
        "STT subtitle tracks of an output",
        _stt_tracks,
        {
            "0.20": [{"id": 3, "type": "Subtitle", "name": "auto"}],
            "0.21": [
                {
                    "id": 3,
                    "type": "Subtitle",
                    "name": "auto",
                    "subtitle": STT_SUBTITLE,
                }
            ],
        },
        STT_PROFILE,
    ),
    (
        "a relay stream's outputs",
        _relay_stream,
        {
            # 0.20 does not read relay: the app's output profile makes the output
            "0.20": [("r1", ["Video", "Audio", "Data"], 2)],
            "0.21": [("r1", ["Video", "Audio", "Data"], 1)],
        },
        "",
    ),
    (
        "queue dwell times",
        _queues,
        {
            "0.20": [],
            "0.21": sorted(
                f"dwell{latest}{stat}Us"
                for latest in ("", "Latest")
                for stat in ("Min", "Avg", "P50", "P90", "P99", "Max")
            ),
        },
        "",
    ),
    (
        "pull retryCount default",
        _pulled_request({}),
        {"0.20": (1, None), "0.21": (0, None)},
        "",
    ),
    (
        "pull properties.relay",
        _pulled_request({"relay": True, "retryCount": 3}),
        {"0.20": (3, None), "0.21": (3, True)},
        "",
    ),
    (
        # orchestrator.cpp: a URL the parser refuses (no "://") is INVALID_REQUEST → 400
        "pull of an invalid URL",
        _pull(["origin.example/app/s"]),
        {
            "0.20": (502, err(502, f"Could not pull the stream : {_PULL_URL}")),
            "0.21": (400, err(400, "Invalid URL: origin.example/app/s")),
        },
        "",
    ),
    (
        # … and so is a list whose schemes differ (case-insensitively)
        "pull of mixed schemes",
        _pull(["rtmp://a.example/app/s", "RTSP://b.example/app/s"]),
        {
            "0.20": (201, {"message": "Created", "statusCode": 201}),
            "0.21": (400, err(400, "Only urls with the same scheme can be sent as a group.")),
        },
        "",
    ),
    (
        "pull of one scheme in two cases",
        _pull(["RTMP://a.example/app/s", "rtmp://b.example/app/s"]),
        {
            "0.20": (201, {"message": "Created", "statusCode": 201}),
            "0.21": (201, {"message": "Created", "statusCode": 201}),
        },
        "",
    ),
    (
        # a provider that cannot pull stays a 502
        "pull that fails",
        _pull(["rtmp://never.invalid/app/s"]),
        {
            "0.20": (502, err(502, f"Could not pull the stream : {_PULL_URL}")),
            "0.21": (502, err(502, f"Could not pull the stream : {_PULL_URL}")),
        },
        "",
    ),
    (":sendEvent id3v2", _send_event("id3v2"), {"0.20": 200, "0.21": 200}, ""),
    (":sendEvent cue", _send_event("cue"), {"0.20": 200, "0.21": 400}, ""),
    (":sendEvent scte35", _send_event("scte35"), {"0.20": 200, "0.21": 400}, ""),
]


@pytest.mark.parametrize("version", ["0.20", "0.21"])
@pytest.mark.parametrize(
    ("row", "run", "answers", "profiles"), API_ROWS, ids=[r[0] for r in API_ROWS]
)
def test_api_answers(
    tmp_path: Path,
    row: str,
    run: Callable[[Runtime], Any],
    answers: dict[str, Any],
    profiles: str,
    version: str,
) -> None:
    rt = _api(tmp_path, version, runtime_xml(extra_profiles=profiles) if profiles else None)
    assert run(rt) == answers[version]
