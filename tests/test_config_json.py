"""The JSON side of the config: REST bodies in, OME's JSON form out, and round trips.

ome-server-xml.md §1.5 (JSON conversions), §1.6/§6.3 (JSON errors), §6 (the JSON form);
ome-observed.md cases 17, 21, 33 and 43 are the shapes OME actually answers.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_XML
from hypothesis import HealthCheck, given, settings
from strategies import (
    application_json,
    output_profile_json,
    server_xml,
    virtual_host_json,
)

from omeapi._config import (
    ApplicationConfig,
    ConfigError,
    HostConfig,
    Item,
    Port,
    RangedPort,
    Scalar,
    ServerConfig,
    Substitution,
    VirtualHostConfig,
    application_from_json,
    load_server_config,
    output_profile_from_json,
    parse_server_xml,
    virtual_host_from_json,
)
from omeapi._config._table import ROWS
from omeapi._config.tree import SCHEMA, JsonReader, to_json
from omeapi._config.values import PortRange

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec"
OME_CONF = REPO.parent / "shared" / "fixtures" / "ome-conf"

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def config_error(fn: Any, body: Any) -> str:
    with pytest.raises(ConfigError) as info:
        fn(body, environ={})
    return info.value.text


def at(item: Item, path: str) -> Any:
    node: Any = item
    for name in path.split("."):
        node = node.get(name)
        if isinstance(node, tuple):
            node = node[0]
    return node


def server_from_json(value: Any, config_dir: str) -> Item:
    """A whole server read back from its JSON form (relative paths anchored like the file)."""
    return JsonReader(Substitution(environ={}), base_dir=config_dir).read_item(
        SCHEMA, value, "Server", False
    )


# ------------------------------------------------------------------------- REST body errors

APP = {"name": "a", "type": "live"}
PROFILE = {"name": "p", "outputStreamName": "s"}

ERRORS = [
    # (reader, body, message)
    (virtual_host_from_json, {}, "virtualHost.name is not optional"),
    (virtual_host_from_json, "not an object", "virtualHost.name is not optional"),
    (virtual_host_from_json, {"name": "v", "nope": 1}, "Unknown item found: virtualHost.nope"),
    (virtual_host_from_json, {"zeta": 1, "alpha": 2}, "Unknown item found: virtualHost.alpha"),
    (virtual_host_from_json, {"Name": "v"}, "Unknown item found: virtualHost.Name"),
    (
        virtual_host_from_json,
        {"name": "v", "host": {"names": ["a"], "tls": {"cert": "x"}}},
        "Unknown item found: virtualHost.host.tls.cert",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "host": {"names": {"name": "a"}}},
        "Child name is not an array",
    ),
    (virtual_host_from_json, {"name": "v", "origins": []}, "origins is not an array"),
    (
        virtual_host_from_json,
        {"name": "v", "origins": {"origin": {"location": "/"}}},
        "Child origin is not an array",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "origins": {"origin": [{"location": "/"}]}},
        "origin.pass is not optional",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "origins": {"origin": [{"location": "/", "pass": {"scheme": "ovt"}}]}},
        "origin.pass.urls is not optional",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "crossDomains": {"urls": "*"}},
        "Child urls is not an array",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "crossDomains": {"headers": [{"key": "k"}]}},
        "headers.value is not optional",
    ),
    (
        virtual_host_from_json,
        {"name": "v", "applications": ["x"]},
        "application.name is not optional",
    ),
    (
        virtual_host_from_json,
        {"name": {"a": 1}},
        "Could not convert value - from: object, to: string",
    ),
    (virtual_host_from_json, {"name": ["v"]}, "Could not convert value - from: array, to: string"),
    (application_from_json, {"name": "a"}, "application.type is not optional"),
    (application_from_json, {**APP, "dynamic": False}, "Unknown item found: application.dynamic"),
    (application_from_json, {**APP, "type": "Live"}, "Unknown type: Live"),
    (application_from_json, {**APP, "outputProfiles": []}, "outputProfiles is not an array"),
    (
        application_from_json,
        {**APP, "outputProfiles": {"outputProfile": {}}},
        "Child outputProfile is not an array",
    ),
    (
        application_from_json,
        {**APP, "outputProfiles": {"outputProfile": [{"name": "p"}]}},
        "outputProfile.outputStreamName is not optional",
    ),
    (
        application_from_json,
        {**APP, "providers": {"rtmp": {}, "RTMP": {}}},
        "Unknown item found: application.providers.RTMP",
    ),
    (output_profile_from_json, {"name": "p"}, "outputProfile.outputStreamName is not optional"),
    (
        output_profile_from_json,
        {**PROFILE, "encode": {}},
        "Unknown item found: outputProfile.encode",
    ),
    (
        output_profile_from_json,
        {**PROFILE, "encodes": {"videos": [{"codec": "h264"}]}},
        "Bitrate must be specified when bypass is false",
    ),
    (
        output_profile_from_json,
        {**PROFILE, "encodes": {"videos": [{"bypass": "false"}]}},
        "Codec must be specified when bypass is false",
    ),
    (
        output_profile_from_json,
        {**PROFILE, "encodes": {"videos": [{"codec": "h264", "bitrate": 0}]}},
        "Bitrate must be greater than 0",
    ),
    (
        output_profile_from_json,
        {
            **PROFILE,
            "encodes": {"videos": [{"bypass": True}]},
            "playlists": [{"fileName": "m", "renditions": [{"name": "r", "video": "x"}]}],
        },
        "Playlist Error",
    ),
    (output_profile_from_json, {**PROFILE, "playlists": {}}, "Child playlists is not an array"),
]


@pytest.mark.parametrize(("reader", "body", "message"), ERRORS)
def test_rest_body_errors(reader: Any, body: Any, message: str) -> None:
    assert config_error(reader, body) == message


def test_json_errors_have_no_file() -> None:
    with pytest.raises(ConfigError) as info:
        virtual_host_from_json({"name": "v", "x": 1}, environ={})
    assert info.value.file is None
    assert info.value.message == "[Config] Unknown item found: virtualHost.x"


def test_attributes_object_is_skipped() -> None:
    vhost = virtual_host_from_json({"name": "v", "$": {"include": "/etc/passwd"}}, environ={})
    assert vhost.name == "v"


def test_non_object_where_an_item_is_expected_is_empty() -> None:
    vhost = virtual_host_from_json({"name": "v", "host": "x"}, environ={})
    assert vhost.host == HostConfig(None, None)


# --------------------------------------------------------------------------- list forms


@pytest.mark.parametrize(
    "host",
    [{"names": ["a.com", "*.b.com"]}, {"names": {"name": ["a.com", "*.b.com"]}}],
    ids=["bare array", "wrapped"],
)
def test_omitted_list_forms(host: dict[str, Any]) -> None:
    vhost = virtual_host_from_json({"name": "v", "host": host}, environ={})
    assert vhost.host_names == ("a.com", "*.b.com")
    assert vhost.to_json()["host"] == {"names": ["a.com", "*.b.com"]}


def test_omitted_list_forms_for_applications() -> None:
    bare = virtual_host_from_json({"name": "v", "applications": [APP]}, environ={})
    wrapped = virtual_host_from_json(
        {"name": "v", "applications": {"application": [APP]}}, environ={}
    )
    assert bare == wrapped
    assert [a.name for a in bare.applications] == ["a"]


def test_empty_list_counts_as_absent() -> None:
    vhost = virtual_host_from_json({"name": "v", "host": {"names": []}}, environ={})
    assert vhost.host == HostConfig((), None)
    assert vhost.to_json()["host"] == {"names": []}


def test_json_shapes_of_lists() -> None:
    body = {
        "name": "v",
        "origins": {
            "origin": [{"location": "/", "pass": {"scheme": "ovt", "urls": {"url": ["h:9000/a"]}}}],
            "properties": {"retryCount": 2},
        },
        "crossDomains": {"urls": ["*"], "headers": [{"key": "k", "value": "v"}]},
    }
    assert virtual_host_from_json(body, environ={}).to_json() == body


# ------------------------------------------------------------------ §1.5 JSON conversions

VIDEO = "Encodes.Video"

CONVERSIONS = [
    # (field of a video encode, JSON value, converted value)
    ("name", "x", "x"),
    ("name", 3, "3"),
    ("name", -3, "-3"),
    ("name", 1.5, "1.500000"),
    ("name", 2.0, "2"),
    ("name", True, "true"),
    ("name", False, "false"),
    ("name", None, ""),
    ("name", " padded ", " padded "),
    ("width", 640, 640),
    ("width", "640", 640),
    ("width", " 12abc", 12),
    ("width", "0x10", 0),
    ("width", 2**31, 0),
    ("width", 3.7, 3),
    ("width", True, 0),
    ("width", "", 0),
    ("bypass", True, True),
    ("bypass", False, False),
    ("bypass", "TRUE", True),
    ("bypass", "yes", False),
    ("bypass", 1, True),
    ("bypass", 0, False),
    ("bypass", 2.5, True),
    ("framerate", 30, 30.0),
    ("framerate", 29.97, 29.97),
    ("framerate", "25", 25.0),
    ("framerate", "abc", 0.0),
    ("framerate", "1e400", 0.0),
    ("framerate", True, 0.0),
]


@pytest.mark.parametrize(("field", "raw", "value"), CONVERSIONS)
def test_json_conversion(field: str, raw: Any, value: Any) -> None:
    video = {"bypass": True, "codec": "h264", "bitrate": 1, field: raw}
    profile = output_profile_from_json({**PROFILE, "encodes": {"videos": [video]}}, environ={})
    node = at(profile.node, f"{VIDEO}.{field.capitalize()}")
    assert node == Scalar(raw, value)


def test_json_long() -> None:
    body = {"name": "v", "origins": {"properties": {"retryCount": 2**40}}}
    vhost = virtual_host_from_json(body, environ={})
    assert at(vhost.node, "Origins.Properties.RetryCount").value == 2**40


def test_json_ranged_port() -> None:
    body = {**APP, "providers": {"mpegts": {"streams": [{"name": "s", "port": 4000}]}}}
    config = application_from_json(body, environ={})
    assert at(config.node, "Providers.MPEGTS.StreamMap.Stream.Port").value == RangedPort(
        (PortRange(4000, 4000),)
    )
    body["providers"]["mpegts"]["streams"][0]["port"] = "9-1"  # type: ignore[index]
    assert config_error(application_from_json, body) == "Invalid port range: 9-1"


def test_json_env_substitution_in_strings() -> None:
    env = {"SITE": "example.com", "W": "1280"}
    body = {
        **PROFILE,
        "encodes": {"videos": [{"bypass": True, "name": "${env:SITE}", "width": "${env:W:640}"}]},
    }
    profile = output_profile_from_json(body, environ=env)
    assert at(profile.node, f"{VIDEO}.Name") == Scalar("${env:SITE}", "example.com")
    # Deliberate: OME would read 0 here (no substitution for numeric kinds).
    assert at(profile.node, f"{VIDEO}.Width") == Scalar("${env:W:640}", 1280)
    assert profile.to_json()["encodes"]["videos"][0]["width"] == "${env:W:640}"


def test_json_resolve_path_has_an_empty_current_path() -> None:
    body = {
        "name": "v",
        "host": {"tls": {"certPath": "cert.crt", "keyPath": "/k", "chainCertPath": "./c"}},
    }
    tls = virtual_host_from_json(body, environ={}).host.tls  # type: ignore[union-attr]
    assert tls is not None
    assert (tls.cert_path, tls.key_path, tls.chain_cert_path) == ("/cert.crt", "/k", "/./c")


def test_json_nan_values_compare_equal() -> None:
    body = {**PROFILE, "encodes": {"videos": [{"bypass": True, "framerate": math.nan}]}}
    assert output_profile_from_json(body, environ={}) == output_profile_from_json(body, environ={})


# ------------------------------------------------------------------- OME's JSON form (§6)


def test_to_json_keeps_raw_xml_text_before_substitution() -> None:
    config = parse_server_xml(
        '<Server version="${env:V:8}"><Type>origin</Type><IP>*</IP><Bind><Managers><API>'
        "<Port>${env:PORT:8081}</Port><WorkerCount> 4</WorkerCount></API></Managers></Bind>"
        "<Modules><HTTP2/><LLHLS><Enable>TRUE</Enable></LLHLS></Modules></Server>",
        environ={"PORT": "9000"},
    )
    assert config.api_binding is not None
    assert config.api_binding.port == Port(9000)
    assert config.to_json() == {
        "$": {"version": "${env:V:8}"},
        "type": "origin",
        "ip": ["*"],
        "bind": {"managers": {"api": {"port": "${env:PORT:8081}", "workerCount": " 4"}}},
        "modules": {"hTTP2": {}, "lLHLS": {"enable": "TRUE"}},
    }


def test_to_json_keeps_api_json_types() -> None:
    body = {
        **APP,
        "publishers": {"appWorkerCount": 2, "llhls": {"chunkDuration": 0.5, "originMode": True}},
    }
    assert application_from_json(body, environ={}).to_json() == body


def test_json_names_follow_the_table() -> None:
    config = parse_server_xml(
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind><Managers><API><TLSPort>1'
        "</TLSPort></API></Managers><Providers><RTSPC/><WebRTC/></Providers></Bind>"
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications><Application><Name>a</Name>"
        "<Type>live</Type><OutputProfiles><HWAccels/><OutputProfile><Name>p</Name>"
        "<OutputStreamName>s</OutputStreamName><Encodes><Video><Bypass>1</Bypass><BypassIfMatch>"
        "<SAR>eq</SAR></BypassIfMatch></Video><Image><Codec>jpeg</Codec></Image></Encodes>"
        "<Playlist><FileName>f</FileName><Rendition><Name>r</Name><VideoIndexHint>0"
        "</VideoIndexHint></Rendition><RenditionTemplate><Name>t</Name><VideoTemplate>"
        "<MaxWidth>1</MaxWidth></VideoTemplate></RenditionTemplate></Playlist></OutputProfile>"
        "</OutputProfiles><Providers><RTSPPull/><FILE/></Providers><Publishers><MPEGTSPush/>"
        "<LLHLS><DVR/><DRM/></LLHLS></Publishers></Application></Applications></VirtualHost>"
        "</VirtualHosts></Server>",
        environ={},
    )
    out = config.to_json()
    assert out["bind"] == {
        "managers": {"api": {"tlsPort": "1"}},
        "providers": {"rtspc": {}, "webrtc": {}},
    }
    (vhost,) = out["virtualHosts"]
    (app,) = vhost["applications"]
    assert app["providers"] == {"rtspPull": {}, "file": {}}
    assert app["publishers"] == {"mPEGTSPush": {}, "llhls": {"dVR": {}, "dRM": {}}}
    profiles = app["outputProfiles"]
    assert set(profiles) == {"hwaccels", "outputProfile"}
    (profile,) = profiles["outputProfile"]
    assert profile["encodes"] == {
        "videos": [{"bypass": "1", "bypassIfMatch": {"sAR": "eq"}}],
        "images": [{"codec": "jpeg"}],
    }
    assert profile["playlists"] == [
        {
            "fileName": "f",
            "renditions": [{"name": "r", "video_index_hint": "0"}],
            "rendition_templates": [{"name": "t", "video_template": {"max_width": "1"}}],
        }
    ]


def test_virtual_host_json_drops_applications() -> None:
    config = parse_server_xml(
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind/><VirtualHosts><VirtualHost>'
        "<Name>v</Name><Applications><Application><Name>a</Name><Type>live</Type></Application>"
        "</Applications></VirtualHost></VirtualHosts></Server>",
        environ={},
    )
    vhost = config.virtual_hosts[0]
    assert vhost.to_json() == {"name": "v"}
    assert to_json(vhost.node)["applications"] == [{"name": "a", "type": "live"}]


# Shapes OME answered (ome-observed.md), rebuilt from the XML that produced them.

# The configuration of the OME that answered ome-observed.md (shared with the handler tests).
OBSERVED_XML = SERVER_XML


def observed(case: int) -> Any:
    """The body OME answered in ome-observed.md case ``case`` (its ``response`` part)."""
    path = SPEC / "ome-observed.md"
    if not path.is_file():
        pytest.skip("../shared/spec/ome-observed.md absent")
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^### {case}\. .*?```\n(.*?)```", text, re.S | re.M)
    assert m is not None, case
    body = json.loads([line for line in m.group(1).splitlines() if line[:1] in "{["][-1])
    return body[0]["response"] if isinstance(body, list) else body["response"]


@pytest.fixture(scope="module")
def observed_config() -> ServerConfig:
    return parse_server_xml(OBSERVED_XML, environ={})


def test_observed_17_vhost(observed_config: ServerConfig) -> None:
    assert observed_config.virtual_hosts[0].to_json() == observed(17)


def test_observed_21_app(observed_config: ServerConfig) -> None:
    expected = observed(21)
    assert expected.pop("dynamic") is False  # the API adds it, the config does not
    assert observed_config.virtual_hosts[0].applications[0].to_json() == expected


def test_observed_43_output_profile(observed_config: ServerConfig) -> None:
    profile = observed_config.virtual_hosts[0].applications[0].profile("bypass_stream")
    assert profile is not None
    assert profile.to_json() == observed(43)


def test_observed_33_api_created_app_keeps_json_types() -> None:
    body = observed(33)
    body.pop("dynamic")
    app = application_from_json(body, environ={})
    assert app.to_json() == body
    (profile,) = app.output_profiles
    assert profile.name == "default"
    # A String kind given a JSON number: the number is kept raw, its text is the value.
    assert at(profile.node, "Encodes.Audio.Bitrate") == Scalar(128000, "128000")


# ------------------------------------------------------------------------------ round trips


def vhost_round_trip(vhost: VirtualHostConfig) -> VirtualHostConfig:
    return virtual_host_from_json(to_json(vhost.node), environ={})


def app_round_trip(app: ApplicationConfig) -> ApplicationConfig:
    return application_from_json(app.to_json(), environ={})


def assert_round_trips(config: ServerConfig) -> None:
    """XML → objects → JSON → objects: the same objects, whole and per part."""
    again = server_from_json(config.to_json(), config.config_dir)
    assert again == config.node
    rebuilt = ServerConfig.from_item(again, file=config.file, config_dir=config.config_dir)
    assert rebuilt == config
    assert json.loads(json.dumps(config.to_json())) == config.to_json()
    for vhost in config.virtual_hosts:
        if _relative_paths(vhost.node):
            continue  # REST input resolves relative paths against "/", not the config dir
        copy = vhost_round_trip(vhost)
        assert (copy.name, copy.host, copy.node) == (vhost.name, vhost.host, vhost.node)
        assert copy.applications == vhost.applications
        for app in vhost.applications:
            assert app_round_trip(app) == app
            for profile in app.output_profiles:
                assert output_profile_from_json(profile.to_json(), environ={}) == profile


def _relative_paths(item: Item) -> bool:
    """Whether a ResolvePath value below ``item`` was written as a relative path."""
    for name, node in item.fields.items():
        spec = item.spec.by_xml.get(name)
        if isinstance(node, Scalar):
            text = Substitution(environ={})(str(node.raw))
            if spec is not None and spec.resolve_path and text and not text.startswith("/"):
                return True
        for child in node if isinstance(node, tuple) else (node,):
            if isinstance(child, Item) and _relative_paths(child):
                return True
    return False


def test_round_trip_example_file() -> None:
    assert_round_trips(load_server_config(REPO / "examples" / "Server.xml", environ={}))


def test_round_trip_observed(observed_config: ServerConfig) -> None:
    assert_round_trips(observed_config)


@pytest.mark.skipif(not OME_CONF.is_dir(), reason="../shared/fixtures/ome-conf absent")
@pytest.mark.parametrize("name", ["Server.xml", "Origin.xml", "Edge.xml"])
def test_round_trip_ome_examples(name: str) -> None:
    assert_round_trips(load_server_config(OME_CONF / name, environ={}))


@FUZZ
@given(server_xml())
def test_round_trip_generated_configs(xml: str) -> None:
    assert_round_trips(parse_server_xml(xml, file="/etc/ome/Server.xml", environ={}))


@FUZZ
@given(virtual_host_json())
def test_round_trip_vhost_bodies(body: dict[str, Any]) -> None:
    vhost = virtual_host_from_json(body, environ={})
    again = virtual_host_from_json(vhost.to_json(), environ={})
    assert again == vhost
    assert again.to_json() == vhost.to_json()


@FUZZ
@given(application_json())
def test_round_trip_app_bodies(body: dict[str, Any]) -> None:
    app = application_from_json(body, environ={})
    assert app.to_json() == body  # raw JSON values, types and all
    assert application_from_json(app.to_json(), environ={}) == app


@FUZZ
@given(output_profile_json())
def test_round_trip_profile_bodies(body: dict[str, Any]) -> None:
    profile = output_profile_from_json(body, environ={})
    assert profile.to_json() == body
    assert output_profile_from_json(profile.to_json(), environ={}) == profile


# ------------------------------------------------------------------------ the schema table


def test_schema_table_matches_the_research_tsv() -> None:
    tsv = SPEC / "ome-schema.tsv"
    if not tsv.is_file():
        pytest.skip("../shared/spec/ome-schema.tsv absent")
    with tsv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == len(ROWS) == 618
    resolve = (
        "TLS.CertPath",
        "TLS.KeyPath",
        "TLS.ChainCertPath",
        "API.Storage.Path",
        "Alert.RulesFile",
    )
    for row, (path, json_name, kind, flags, default) in zip(rows, ROWS, strict=True):
        words = flags.split()
        assert path == row["path"]
        assert path.rsplit(".", 1)[-1] == row["xml_name"], path
        assert json_name == row["json_name"], path
        assert kind == row["kind"], path
        assert ("R" in words) == (row["required"] == "R"), path
        assert ("omit" in words) == (row["omit_json_name"] == "yes"), path
        assert ("path" in words) == path.endswith(resolve), path
        assert default == row["default"], path
