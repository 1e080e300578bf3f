"""Random JSON bodies (any type, any nesting) to every runtime route that reads a body: never
a 5xx (except the one OME also gives for client input that is fine but cannot be served: a
pull that fails, 502), and always OME's envelope, or a bare array where the route is
multi-item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runtime_support import APP, Runtime

from omeapi._routes import ROUTES

S = f"{APP}/streams/s1"

#: Every runtime route that parses a body, with a path that reaches it.
BODY_ROUTES = [
    *(
        ("POST", f"{S}:{action}")
        for action in (
            "hlsDumps",
            "startHlsDump",
            "stopHlsDump",
            "sendEvent",
            "sendEvents",
            "concludeHlsLive",
            "sendSubtitles",
        )
    ),
    *(
        ("POST", f"{APP}:{action}")
        for action in (
            "startPush",
            "stopPush",
            "pushes",
            "startRecord",
            "stopRecord",
            "records",
        )
    ),
    ("POST", f"{APP}/streams"),
    ("POST", f"{APP}/scheduledChannels"),
    ("PATCH", f"{APP}/scheduledChannels/ch"),
    ("POST", f"{APP}/multiplexChannels"),
    ("POST", "/v1/vhosts:reloadAllCertificates"),
    ("POST", "/v1/vhosts:reloadCertificate"),
    ("POST", "/v1/vhosts/default:reloadCertificate"),
    ("POST", "/v1/vhosts/default:reloadAllCertificates"),
    ("POST", "/v1/managers/api:reloadCertificate"),
]
MULTI = {f"{S}:sendEvents"}
#: 5xx answers that are not about the body's shape: the source could not be pulled.
ALLOWED_5XX = {(502, "[HTTP] Could not pull the stream : ")}

#: Keys and values the runtime parsers look at, so random bodies get past the first checks.
KEYS = [
    "name", "urls", "properties", "retryCount", "persistent", "id", "stream", "protocol",
    "url", "streamKey", "trackIds", "tracks", "variantNames", "filePath", "infoPath",
    "interval", "schedule", "metadata", "segmentationRule", "outputStreamName", "outputPath",
    "playlist", "infoFile", "userData", "eventFormat", "events", "eventType", "urgent",
    "frameType", "info", "data", "cueType", "duration", "spliceCommand", "type",
    "autoReturn", "format", "label", "subtitles", "text", "startOffset", "durationMs",
    "settings", "fallbackProgram", "programs", "scheduled", "repeat", "items", "start",
    "audioMap", "outputStream", "sourceStreams", "trackMap", "sourceTrackName",
    "newTrackName", "bitrateConf", "framerateConf", "playlists", "renditions", "fileName",
    "video", "audio", "options", "webrtcAutoAbr", "hlsChunklistPathDepth", "bypassTranscoder",
    "errorToleranceDurationMs",
]  # fmt: skip
WORDS = [
    "s1", "ch", "rtmp", "srt", "mpegts", "RTMP", "id3v2", "cue", "scte35", "webvtt", "out",
    "in", "cont", "TXXX", "PRIV", "TIT2", "video", "audio", "event", "spliceInsert",
    "rtmp://h.example/app", "srt://h:9000?mode=listener", "udp://h:4000", "tcp://h:1?listen",
    "rtsp://cam.example/x", "rtsp://down.invalid/x", "file://a.mp4",
    "stream://default/app/s1", "2023-11-14T22:13:20Z", "2023-13-40T99:00:00Z", "0 */5 *",
    "*/0 * *", "continuity", "/tmp/x", "../x", "", " ",
]  # fmt: skip

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=12,
)
bodies = json_values | st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    runtime = Runtime(Path(tmp_path_factory.mktemp("fuzz")))
    runtime.pull("s1")
    runtime.plain("POST", f"{APP}/scheduledChannels", {"stream": {"name": "ch"}}, 201)
    return runtime


def test_every_body_route_is_fuzzed() -> None:
    body_routes = {r.action for r in ROUTES if r.body}
    runtime_actions = body_routes - {
        "create_vhosts",
        "create_apps",
        "patch_app",
        "create_profiles",
        "patch_profile",
    }
    from omeapi._routes import Router

    router = Router()
    reached = set()
    for method, path in BODY_ROUTES:
        match = router.match(method, path)
        assert match is not None, path
        reached.add(match.route.action)
    assert reached == runtime_actions


def check(rt: Runtime, method: str, path: str, body: Any) -> None:
    response = rt.request(method, path, raw=json.dumps(body).encode())
    decoded = json.loads(response.body)
    if isinstance(decoded, list):
        assert path in MULTI, (path, body, decoded)
        for item in decoded:
            assert set(item) <= {"message", "statusCode"} and item["statusCode"] < 500, item
        return
    assert set(decoded) == {"message", "statusCode"} or set(decoded) == {
        "message",
        "response",
        "statusCode",
    }, decoded
    assert decoded["statusCode"] == response.status
    assert isinstance(decoded["message"], str)
    if response.status >= 500:
        assert any(
            response.status == status and decoded["message"].startswith(prefix)
            for status, prefix in ALLOWED_5XX
        ), (method, path, body, decoded)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_random_bodies_never_give_a_5xx(rt: Runtime, method: str, path: str, body: Any) -> None:
    check(rt, method, path, body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(bodies, min_size=1, max_size=4))
def test_random_send_events_items(rt: Runtime, events: list[Any]) -> None:
    check(rt, "POST", f"{S}:sendEvents", events)
