"""The OME version switch: 0.20's wire and 0.21's, from one table (omeapi._config.ome_wire)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runtime_support import APP, Runtime, err

from omeapi import NoRuntime, open_api, parse_server_xml
from omeapi._config import application_from_json
from omeapi._config._wire_names import REMOVED_IN_0_21, RENAMED
from omeapi._config.ome_wire import ANSWER_FIELDS, OME_VERSIONS, wire_for
from omeapi._config.tree import spec_at
from omeapi._engine.values import SttRendition, SttStatus
from omeapi._errors import ConfigError
from omeapi._routes import EXTENSION_ROUTES, ROUTES, routes_for
from omeapi._simulated.engine import SimulatedEngine
from omeapi._simulated.streams import stt_renditions
from omeapi.testing.strategies import application_json

S = f"{APP}/streams/s1"


class Versioned(Runtime):
    """The runtime fixture's API, speaking ``version``."""

    def __init__(self, directory: Path, version: str, xml: str | None = None) -> None:
        super().__init__(directory, xml)
        self.api = open_api(self.api.config, self.engine, brake=False, ome_version=version)


def _new_vhost(rt: Runtime, name: str = "dyn") -> str:
    status, _ = rt.call("POST", "/v1/vhosts", [{"name": name, "host": {"names": ["*"]}}])
    assert status == 200
    return f"/v1/vhosts/{name}/apps"


# -- the tables ------------------------------------------------------------------------------


def test_every_renamed_key_is_the_schema_name_in_0_20() -> None:
    for path, old, new in RENAMED:
        assert spec_at(path).json_name == old
        assert new != old and new[0].islower()
    assert {old for _p, old, _n in RENAMED} >= {"hTTP2", "lLHLS", "dVR", "dRM", "mPEGTSPush"}
    for path in REMOVED_IN_0_21:
        assert path.startswith(
            "Server.VirtualHosts.VirtualHost.Applications.Application.Providers.FILE."
        )


def test_the_default_wire_is_0_20_and_unknown_versions_are_refused() -> None:
    assert wire_for().version == "0.20"
    assert wire_for("0.21.0").version == "0.21"
    with pytest.raises(ValueError):
        wire_for("0.19")
    assert set(ANSWER_FIELDS.values()) <= set(OME_VERSIONS)


def test_routes_of_0_20_are_the_table_and_0_21_adds_stt_after_subtitles() -> None:
    # OME's own routes are the table, as they are; omeapi's extensions come after them.
    assert routes_for(())[: len(ROUTES)] == ROUTES
    assert routes_for(())[len(ROUTES) :] == EXTENSION_ROUTES
    newer = routes_for(wire_for("0.21").stream_actions)
    actions = [r.action for r in newer]
    at = actions.index("send_subtitles")
    assert actions[at + 1 : at + 4] == ["enable_stt", "disable_stt", "stt_status"]
    assert not any(r.local for r in newer if r.action.endswith("stt") or "stt_" in r.action)


# -- /v1/version ---------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "api"), [("0.20", "0.20.0"), ("0.21", "0.21.0")])
def test_version_answers_the_wire_version(tmp_path: Path, version: str, api: str) -> None:
    rt = Versioned(tmp_path, version)
    assert rt.ok("GET", "/v1/version")["version"] == api


# -- STT -------------------------------------------------------------------------------------

STT_XML_PROFILE = """<MediaOptions><STT><Enable>true</Enable><Rendition>
<Engine>whisper</Engine><Model>base.bin</Model><SourceLanguage>en</SourceLanguage>
<OutputSubtitleLabel>auto</OutputSubtitleLabel></Rendition></STT></MediaOptions>"""


def test_stt_routes_are_0_21_only(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.20")
    rt.pull("s1")
    # As any action 0.20 lacks: the path is a stream name no POST route takes.
    assert rt.call("POST", f"{S}:enableStt")[0] == 405


def test_stt_without_an_encoder_is_404(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.21")
    rt.pull("s1")
    where = "[default/app/s1]"
    for action in ("enableStt", "disableStt"):
        assert rt.call("POST", f"{S}:{action}") == (
            404,
            err(404, f"Could not find STT encoder for stream: {where}"),
        )
    assert rt.ok("POST", f"{S}:sttStatus") == {"enabled": False, "renditions": []}
    assert rt.call("POST", f"{APP}/streams/nope:enableStt")[0] == 404


def test_stt_on_an_engine_without_one_is_503(tmp_path: Path) -> None:
    class Bare(NoRuntime):
        def list_streams(self, vhost: str, app: str) -> list[str]:
            return ["s1"]

    rt = Versioned(tmp_path, "0.21")
    bare: Any = Bare()
    for name in ("create_virtual_host", "delete_virtual_host", "create_application"):
        setattr(bare, name, lambda *a: None)
    bare.live_fields = lambda: frozenset()
    rt.api = open_api(rt.api.config, bare, brake=False, ome_version="0.21", start_engine=False)
    for action in ("enableStt", "disableStt", "sttStatus"):
        assert rt.call("POST", f"{S}:{action}") == (
            503,
            err(503, "Transcoder module is not available"),
        )


def test_simulated_stt_follows_the_app_config(tmp_path: Path) -> None:
    config = parse_server_xml(
        "<Server version='8'><Name>x</Name><Type>origin</Type><IP>*</IP><Bind/>"
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications><Application><Name>a</Name>"
        f"<Type>live</Type><OutputProfiles>{STT_XML_PROFILE}</OutputProfiles>"
        "</Application></Applications></VirtualHost></VirtualHosts></Server>",
        environ={},
    )
    app = config.virtual_hosts[0].applications[0]
    (rendition,) = stt_renditions(app)
    assert rendition == SttRendition(
        "whisper",
        (
            ("engine", "whisper"),
            ("model", "base.bin"),
            ("sourceLanguage", "en"),
            ("outputLabel", "auto"),
        ),
    )
    engine = SimulatedEngine()
    engine.create_virtual_host(config.virtual_hosts[0])
    engine.create_application("v", app)
    engine.publish("v", "a", "s")
    assert engine.stt_status("v", "a", "s") == SttStatus(True, (rendition,))
    engine.disable_stt("v", "a", "s")
    assert engine.stt_status("v", "a", "s").enabled is False
    engine.enable_stt("v", "a", "s")
    assert engine.stt_status("v", "a", "s").to_json()["enabled"] is True


# -- renamed keys, both directions ----------------------------------------------------------

HLS_APP = {"name": "a", "type": "live", "publishers": {"hls": {"dVR": {"enable": True}}}}


def test_0_20_keeps_its_names(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.20")
    apps = _new_vhost(rt)
    (created,) = rt.ok("POST", apps, [HLS_APP])
    assert created["publishers"]["hls"] == {"dVR": {"enable": True}}
    newer = {"name": "b", "type": "live", "publishers": {"hls": {"dvr": {}}}}
    status, body = rt.call("POST", apps, [newer])
    assert status == 400 and "Unknown item found" in body["message"]


def test_0_21_speaks_the_new_names_both_ways(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.21")
    apps = _new_vhost(rt)
    app = {
        "name": "a",
        "type": "live",
        "publishers": {"hls": {"dvr": {"enable": True}}, "mpegtsPush": {}},
    }
    (created,) = rt.ok("POST", apps, [app])
    assert created["publishers"]["hls"] == {"dvr": {"enable": True}}
    assert "mpegtsPush" in created["publishers"]
    got = rt.ok("GET", f"{apps}/a")
    assert got["publishers"]["hls"] == {"dvr": {"enable": True}}
    patched = rt.ok("PATCH", f"{apps}/a", {"publishers": {"hls": {"dvr": {"enable": False}}}})
    assert patched["publishers"]["hls"]["dvr"] == {"enable": False}
    # 0.20's name is unknown to 0.21.
    status, body = rt.call("POST", apps, [HLS_APP])
    assert status == 400
    assert body["message"] == "[Config] Unknown item found: application.publishers.hls.dVR"


def test_0_21_refuses_the_removed_file_provider_children(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.21")
    apps = _new_vhost(rt)
    bad = {"name": "f", "type": "live", "providers": {"file": {"rootPath": "/x"}}}
    status, body = rt.call("POST", apps, [bad])
    assert status == 400 and body["message"].endswith("application.providers.file.rootPath")


def test_0_21_output_profile_names(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.21")
    apps = _new_vhost(rt)
    rt.ok("POST", apps, [{"name": "a", "type": "live"}])
    profile = {
        "name": "p",
        "outputStreamName": "${OriginStreamName}_p",
        "encodes": {"videos": [{"name": "v", "bypass": True, "bypassIfMatch": {"sar": "eq"}}]},
    }
    (created,) = rt.ok("POST", f"{apps}/a/outputProfiles", [profile])
    assert created["encodes"]["videos"][0]["bypassIfMatch"] == {"sar": "eq"}
    got = rt.ok("GET", f"{apps}/a/outputProfiles/p")
    assert got["encodes"]["videos"][0]["bypassIfMatch"] == {"sar": "eq"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(application_json(), st.sampled_from(OME_VERSIONS))
def test_an_app_under_either_version_parses_to_the_same_config(
    app: dict[str, Any], version: str
) -> None:
    """The tree's JSON of an app, written in a version's names and read back through that
    version, is the same config."""
    try:
        config = application_from_json(app, environ={})
    except ConfigError:
        return
    wire = wire_for(version)
    spoken = json.loads(json.dumps(wire.app_out(config.to_json())))
    again = application_from_json(wire.app_in(spoken), environ={})
    assert again == config
    assert wire_for("0.20").app_in(config.to_json()) == config.to_json()


# -- answers and requests that differ ------------------------------------------------------


def test_0_21_tracks_carry_the_newer_fields(tmp_path: Path) -> None:
    from omeapi._engine.values import AudioInfo, Track, VideoInfo

    video = Track(
        0,
        "Video",
        "v",
        video=VideoInfo("H264", 1280, 720, 30.0, 2_000_000, max_framerate=30.0, language="en"),
    )
    data = Track(2, "Data", data_codec="ID3v2")
    audio = Track(1, "Audio", audio=AudioInfo("AAC", 48000, 2, 128000, codec_module="FDKAAC"))
    old, new = wire_for("0.20").fields, wire_for("0.21").fields
    assert "maxFramerate" not in video.to_json(old)["video"]
    assert video.to_json(new)["video"]["maxFramerate"] == 30.0
    assert video.to_json(new)["video"]["language"] == "en"
    assert video.to_json(new)["video"]["configChangeCount"] == 0
    assert "lastConfigChanged" not in video.to_json(new)["video"]
    assert audio.to_json(new)["audio"]["codecModule"] == "FDKAAC"
    assert data.to_json(old) == {"id": 2, "type": "Data"}
    assert data.to_json(new)["data"] == {"codec": "ID3v2"}
    assert video.to_json(old) == video.to_json()


@pytest.mark.parametrize(("version", "retry"), [("0.20", 1), ("0.21", 0)])
def test_pull_retry_default_follows_the_wire(version: str, retry: int) -> None:
    from omeapi._controllers.streams import pull_properties

    wire = wire_for(version)
    assert pull_properties({}, wire).retry_count == retry
    assert pull_properties(None, wire).retry_count == -1
    relay = pull_properties({"relay": True}, wire).relay
    assert relay is (True if version == "0.21" else None)


def test_0_21_send_event_takes_only_id3v2(tmp_path: Path) -> None:
    rt = Versioned(tmp_path, "0.21")
    rt.pull("s1")
    cue = {"eventFormat": "cue", "events": [{"cueType": "out", "duration": 1000}]}
    assert rt.call("POST", f"{S}:sendEvent", cue) == (
        400,
        err(400, "eventFormat is not supported: [cue]"),
    )
