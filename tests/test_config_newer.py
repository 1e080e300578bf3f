"""Elements of OME releases after 0.20: accepted, round-tripped, checked and reported."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omeapi._config import ConfigError, parse_server_xml
from omeapi._config._table import ROWS as ROWS_020
from omeapi._config._table_newer import ROWS as NEWER_ROWS
from omeapi._config.newer import default_transport, merged, newest
from omeapi._config.tree import SCHEMA, JsonReader, spec_at, to_json
from omeapi._config.values import Substitution
from omeapi.cli import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "Server.xml"
OME_CONF = REPO.parent / "shared" / "fixtures" / "ome-conf"

APP = "Server.VirtualHosts.VirtualHost.Applications.Application"

#: Our own example: a handful of newer elements in an otherwise plain origin.
NEWER_XML = textwrap.dedent(
    """\
    <?xml version="1.0" encoding="UTF-8"?>
    <Server version="8">
      <Name>newer</Name>
      <Type>origin</Type>
      <IP>*</IP>
      <Bind>
        <Publishers>
          <WebRTC>
            <IceCandidates>
              <IceCandidate>127.0.0.1:10000/udp</IceCandidate>
              <IceWorkerCount>2</IceWorkerCount>
              <TcpIceWorkerCount>3</TcpIceWorkerCount>
              <TcpRelayForce>true</TcpRelayForce>
              <DefaultTransport>relay</DefaultTransport>
            </IceCandidates>
          </WebRTC>
        </Publishers>
      </Bind>
      <Modules>
        <Jemalloc><BackgroundPurge>false</BackgroundPurge></Jemalloc>
        <Whisper><PreloadModel><Path>m.bin</Path><Devices>all</Devices></PreloadModel></Whisper>
      </Modules>
      <VirtualHosts>
        <VirtualHost>
          <Name>vh</Name>
          <Applications>
            <Application>
              <Name>app</Name>
              <Type>live</Type>
              <OutputProfiles>
                <MediaOptions>
                  <STT>
                    <Rendition>
                      <Engine>whisper</Engine>
                      <OutputSubtitleLabel>en</OutputSubtitleLabel>
                      <Model>m.bin</Model>
                      <StepMs>1000</StepMs>
                    </Rendition>
                  </STT>
                </MediaOptions>
                <OutputProfile>
                  <Name>p</Name>
                  <OutputStreamName>${OriginStreamName}</OutputStreamName>
                  <Encodes>
                    <Video><Name>v</Name><Codec>h264</Codec><Bitrate>1M</Bitrate>
                      <ExtraOptions>nal-hrd=cbr</ExtraOptions></Video>
                  </Encodes>
                  <TrackSet>
                    <Name>ts</Name>
                    <Strict>true</Strict>
                    <Video><Name>v</Name><IndexHint>0</IndexHint></Video>
                  </TrackSet>
                </OutputProfile>
              </OutputProfiles>
              <Providers>
                <RTMP><FirstMediaWaitTimeoutMs>8000</FirstMediaWaitTimeoutMs></RTMP>
                <WebRTC>
                  <FIRInterval>1000</FIRInterval>
                  <Rtx><Enable>true</Enable><MaxHoldMs>200</MaxHoldMs></Rtx>
                </WebRTC>
              </Providers>
              <Subtitles>
                <Enable>true</Enable>
                <DefaultLabel>en</DefaultLabel>
                <Rendition><Label>en</Label><Language>en</Language></Rendition>
              </Subtitles>
            </Application>
          </Applications>
        </VirtualHost>
      </VirtualHosts>
    </Server>
    """
)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first ``needle`` in ``text``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _app(out: dict[str, Any]) -> dict[str, Any]:
    (vhost,) = out["virtualHosts"]
    (app,) = vhost["applications"]
    assert isinstance(app, dict)
    return app


# -------------------------------------------------------------------------- the rows


@pytest.mark.parametrize("row", NEWER_ROWS, ids=lambda r: r[0])
def test_every_newer_row_has_a_version_after_0_20(row: tuple[str, ...]) -> None:
    path, _json, kind, flags, _default, _after, since = row
    assert since in {"0.20.5", "0.21.0"}
    assert newest([since, "0.20.0"]) == since != "0.20.0"
    old_paths = {r[0] for r in ROWS_020}
    assert path not in old_paths
    parent = path.rpartition(".")[0]
    # A child of a newer element is no older than it.
    parent_row = next((r for r in NEWER_ROWS if r[0] == parent), None)
    if parent_row is not None:
        assert newest([since, parent_row[6]]) == since
    assert spec_at(path).kind.value == kind
    assert set(flags.split()) <= {"R", "omit", "path", "copy"}


#: The JSON names OME gives explicitly; every other follows the first-letter rule.
EXPLICIT_JSON = {"tracksets", "videos", "audios", "stt", "firInterval"}


@pytest.mark.parametrize("row", NEWER_ROWS, ids=lambda r: r[0])
def test_newer_json_names_follow_the_rule(row: tuple[str, ...]) -> None:
    path, json_name = row[0], row[1]
    xml_name = path.rsplit(".", 1)[-1]
    if json_name not in EXPLICIT_JSON:
        assert json_name == xml_name[0].lower() + xml_name[1:]


def test_merging_keeps_the_0_20_rows_in_order() -> None:
    rows = merged(ROWS_020)
    assert len(rows) == len(ROWS_020) + len(NEWER_ROWS)
    newer = {r[0] for r in NEWER_ROWS}
    assert [r for r in rows if r[0] not in newer] == list(ROWS_020)


def test_newer_elements_take_ome_registration_order() -> None:
    ice = spec_at("Server.Bind.Providers.WebRTC.IceCandidates")
    assert [c.xml_name for c in ice.children] == [
        "IceCandidate",
        "TcpRelay",
        "EnableLinkLocalAddress",
        "TcpRelayWorkerCount",
        "IceWorkerCount",
        "TcpIceWorkerCount",
        "TcpRelayForce",
        "DefaultTransport",
        "TcpForce",
    ]
    assert [c.xml_name for c in spec_at("Server.Modules").children][-3:] == [
        "Whisper",
        "Jemalloc",
        "TaskPool",
    ]
    assert [c.xml_name for c in spec_at(f"{APP}.Providers.WebRTC").children][-5:] == [
        "Timeout",
        "CrossDomains",
        "FIRInterval",
        "RtcpBasedTimestamp",
        "Rtx",
    ]
    assert [c.xml_name for c in spec_at(APP).children][-2:] == ["EventGenerator", "Subtitles"]


# ----------------------------------------------------------------------- loading them


def test_a_config_with_newer_elements_loads() -> None:
    config = parse_server_xml(NEWER_XML, environ={})
    bind = config.node.item("Bind")
    assert bind is not None
    ice = bind.item("Publishers").item("WebRTC").item("IceCandidates")  # type: ignore[union-attr]
    assert ice is not None
    assert ice.value("TcpRelayForce") is True
    assert ice.value("TcpIceWorkerCount") == 3
    assert ice.value("DefaultTransport") == "RELAY"  # OME keeps it upper-cased


def test_newer_elements_round_trip_to_json() -> None:
    config = parse_server_xml(NEWER_XML, environ={})
    out = config.to_json()
    ice = out["bind"]["publishers"]["webrtc"]["iceCandidates"]
    assert ice["tcpRelayForce"] == "true"
    assert ice["tcpIceWorkerCount"] == "3"
    assert ice["defaultTransport"] == "relay"  # the raw value, as OME echoes it
    assert out["modules"] == {
        "jemalloc": {"backgroundPurge": "false"},
        "whisper": {"preloadModel": [{"path": "m.bin", "devices": "all"}]},
    }
    app = _app(out)
    assert app["subtitles"]["rendition"] == [{"label": "en", "language": "en"}]
    assert app["providers"]["webrtc"] == {
        "firInterval": "1000",
        "rtx": {"enable": "true", "maxHoldMs": "200"},
    }
    assert app["providers"]["rtmp"] == {"firstMediaWaitTimeoutMs": "8000"}
    profiles = app["outputProfiles"]
    assert profiles["mediaOptions"]["stt"]["rendition"][0]["stepMs"] == "1000"
    (profile,) = profiles["outputProfile"]
    assert profile["tracksets"] == [
        {"name": "ts", "strict": "true", "videos": [{"name": "v", "indexHint": "0"}]}
    ]
    assert profile["encodes"]["videos"][0]["extraOptions"] == "nal-hrd=cbr"
    # JSON back into the tree gives the same tree.
    again = JsonReader(Substitution(environ={})).read_item(SCHEMA, out, "Server", False)
    assert again == config.node
    assert to_json(again) == out


@given(st.text(max_size=12))
def test_default_transport_is_always_one_ome_knows(text: str) -> None:
    value = default_transport(text, {})
    assert value in {"UDP", "TCP", "RELAY", "UDPTCP", "ALL"}
    if text.upper() in {"UDP", "TCP", "RELAY", "UDPTCP", "ALL"}:
        assert value == text.upper()


def _server(inner: str, *, app: str = "") -> str:
    vhosts = ""
    if app:
        vhosts = (
            "<VirtualHosts><VirtualHost><Name>vh</Name><Applications><Application>"
            f"<Name>app</Name><Type>live</Type>{app}</Application></Applications>"
            "</VirtualHost></VirtualHosts>"
        )
    if "<Bind>" not in inner:
        inner = "<Bind/>" + inner
    return f'<Server version="8"><Type>origin</Type><IP>*</IP>{inner}{vhosts}</Server>'


PROFILE = "<OutputProfiles><OutputProfile><Name>p</Name><OutputStreamName>s</OutputStreamName>%s"
PROFILE += "</OutputProfile></OutputProfiles>"

REFUSED = [
    pytest.param(
        _server(
            "",
            app="<Providers><RTMP><FirstMediaWaitTimeoutMs>0</FirstMediaWaitTimeoutMs>"
            "</RTMP></Providers>",
        ),
        "FirstMediaWaitTimeoutMs requires a positive value: 0",
        id="first-media-wait-zero",
    ),
    pytest.param(
        _server(
            "",
            app="<Providers><SRT><FirstMediaWaitTimeoutMs>10</FirstMediaWaitTimeoutMs>"
            "</SRT></Providers>",
        ),
        "FirstMediaWaitTimeoutMs is not supported for this provider type: SRT",
        id="first-media-wait-srt",
    ),
    pytest.param(
        _server(
            "",
            app="<Providers><Schedule><FirstMediaWaitTimeoutMs>10"
            "</FirstMediaWaitTimeoutMs></Schedule></Providers>",
        ),
        "FirstMediaWaitTimeoutMs is not supported for this provider type: Scheduled",
        id="first-media-wait-schedule",
    ),
    pytest.param(
        _server(
            "",
            app=PROFILE % "<TrackSet><Name>a</Name><Video><Name>v</Name></Video>"
            "</TrackSet><TrackSet><Name>a</Name><Audio><Name>x</Name></Audio></TrackSet>",
        ),
        "Duplicate TrackSet name: a",
        id="trackset-duplicate",
    ),
    pytest.param(
        _server("", app=PROFILE % "<TrackSet><Name>a</Name></TrackSet>"),
        "TrackSet 'a' must contain at least one Video or Audio entry",
        id="trackset-empty",
    ),
    pytest.param(
        _server("", app="<Subtitles><Enable>true</Enable></Subtitles>"),
        "Subtitle is enabled but no renditions are defined",
        id="app-subtitles-no-rendition",
    ),
    pytest.param(
        _server(
            "",
            app="<Subtitles><DefaultLabel>x</DefaultLabel><Rendition><Label>en"
            "</Label><Language>en</Language></Rendition></Subtitles>",
        ),
        "Default label 'x' not found in subtitle renditions",
        id="app-subtitles-default-label",
    ),
    pytest.param(
        _server(
            "<Modules><Whisper><PreloadModel><Devices>0</Devices></PreloadModel>"
            "</Whisper></Modules>"
        ),
        "PreloadModel.path is not optional",
        id="preload-model-path-required",
    ),
    pytest.param(
        _server(
            "",
            app="<OutputProfiles><MediaOptions><STT><Rendition><Engine>whisper"
            "</Engine><Model>m</Model></Rendition></STT></MediaOptions></OutputProfiles>",
        ),
        "Rendition.outputSubtitleLabel is not optional",
        id="stt-rendition-label-required",
    ),
]


@pytest.mark.parametrize(("xml", "message"), REFUSED)
def test_newer_elements_keep_ome_checks(xml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server_xml(xml, environ={})
    assert info.value.text == message


@pytest.mark.parametrize(
    ("inner", "path"),
    [
        (
            "<Bind><Publishers><WebRTC><IceCandidates><TcpRelayForced>true</TcpRelayForced>"
            "</IceCandidates></WebRTC></Publishers></Bind>",
            "Server.bind.publishers.webrtc.iceCandidates.TcpRelayForced",
        ),
        ("<Modules><Jemalloc><Purge/></Jemalloc></Modules>", "Server.modules.jemalloc.Purge"),
    ],
)
def test_unknown_elements_are_still_refused(inner: str, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server_xml(_server(inner), environ={})
    assert info.value.text == f"Unknown item found: {path} in Server.xml"


# ---------------------------------------------------------------------- omeapi check


def test_check_names_the_version_and_the_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "Server.xml"
    file.write_text(NEWER_XML, encoding="utf-8")
    assert main(["check", str(file)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    head = f"{file}: OK (version 8, origin, 1 virtual hosts, 1 applications, API disabled; "
    assert out.startswith(head + "uses elements of OME 0.21.0+: ")
    ice = "<Bind><Publishers><WebRTC><IceCandidates>"
    assert f"{ice}<TcpIceWorkerCount> at line {line_of(NEWER_XML, '<TcpIceWorkerCount>')}, " in out
    assert f"{ice}<TcpRelayForce> at line {line_of(NEWER_XML, '<TcpRelayForce>')}, " in out
    assert out.endswith(" more)\n")


def test_check_gives_each_element_its_own_version_when_older(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _server(
        "<Bind><Providers><WebRTC><IceCandidates>\n<TcpRelayForce>true</TcpRelayForce>"
        "</IceCandidates></WebRTC></Providers></Bind>",
        app="<Providers><WebRTC>\n<RtcpBasedTimestamp>true</RtcpBasedTimestamp></WebRTC>"
        "</Providers>",
    )
    file = tmp_path / "Server.xml"
    file.write_text(text, encoding="utf-8")
    assert main(["check", str(file)]) == 0
    assert capsys.readouterr().out == (
        f"{file}: OK (version 8, origin, 1 virtual hosts, 1 applications, API disabled; "
        "uses elements of OME 0.21.0+: "
        "<Bind><Providers><WebRTC><IceCandidates><TcpRelayForce> at line 2, "
        "<VirtualHosts><VirtualHost><Applications><Application><Providers><WebRTC>"
        "<RtcpBasedTimestamp> at line 3 (0.20.5))\n"
    )


def test_check_follows_includes_and_skips_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vhost = tmp_path / "VHost.xml"
    vhost.write_text(
        "<VirtualHost><Name>vh</Name><Applications><Application><Name>a</Name><Type>live"
        "</Type>\n<Subtitles/></Application></Applications></VirtualHost>",
        encoding="utf-8",
    )
    file = tmp_path / "Server.xml"
    file.write_text(
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind/>'
        '<Modules><TaskPool ignore="true"/></Modules>'
        '<VirtualHosts><VirtualHost include="VHost.xml"/></VirtualHosts></Server>',
        encoding="utf-8",
    )
    assert main(["check", str(file)]) == 0
    assert capsys.readouterr().out == (
        f"{file}: OK (version 8, origin, 1 virtual hosts, 1 applications, API disabled; "
        "uses elements of OME 0.20.5+: <VirtualHosts><VirtualHost><Applications><Application>"
        f"<Subtitles> at line 2 of {vhost})\n"
    )


def test_a_0_20_config_reports_no_newer_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "uses elements" not in out
    assert out.startswith(f"{EXAMPLE}: OK (version 8, origin, ")


@pytest.mark.skipif(not OME_CONF.is_dir(), reason="../shared/fixtures/ome-conf absent")
@pytest.mark.parametrize("name", ["Server.xml", "Origin.xml", "Edge.xml"])
def test_ome_0_20_examples_report_no_newer_version(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(OME_CONF / name)]) == 0
    assert "uses elements" not in capsys.readouterr().out
