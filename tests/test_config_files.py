"""Server.xml files: OME's examples, includes, hostile input, error locations, ``omeapi check``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import deadline

from omeapi._config import ConfigError, ServerConfig, load_server_config, parse_server_xml, source
from omeapi.cli import main

REPO = Path(__file__).resolve().parent.parent
OME_CONF = REPO.parent / "shared" / "fixtures" / "ome-conf"
EXAMPLE = REPO / "examples" / "Server.xml"

needs_ome_conf = pytest.mark.skipif(
    not OME_CONF.is_dir(), reason="OME's example configs (../shared/fixtures/ome-conf) absent"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def server_file(tmp_path: Path, body: str = "", name: str = "Server.xml") -> Path:
    return write(
        tmp_path / name,
        f'<Server version="8"><Type>origin</Type><IP>*</IP><Bind/>{body}</Server>',
    )


def load(path: Path) -> ServerConfig:
    with deadline():
        return load_server_config(path, environ={})


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info, deadline():
        load_server_config(path, environ={})
    return info.value


def vhost_file(path: Path, name: str, extra: str = "") -> Path:
    return write(path, f"<VirtualHost><Name>{name}</Name>{extra}</VirtualHost>")


# ------------------------------------------------------------------------ real-world files


@needs_ome_conf
@pytest.mark.parametrize("name", ["Server.xml", "Origin.xml", "Edge.xml"])
def test_ome_example_configs_load(name: str) -> None:
    config = load(OME_CONF / name)
    assert config.version == 8
    assert [v.name for v in config.virtual_hosts] == ["default"]
    assert all(v.read_only for v in config.virtual_hosts)
    assert config.file == str(OME_CONF / name)


@needs_ome_conf
def test_ome_server_xml_content() -> None:
    config = load(OME_CONF / "Server.xml")
    assert config.type == "origin"
    assert config.ips == ("*",)
    assert not config.api_enabled  # <Bind><Managers> is commented out
    assert config.managers is None
    assert config.defaults_cross_domains is not None
    assert config.defaults_cross_domains.urls == ("*",)
    vhost = config.virtual_hosts[0]
    assert vhost.host_names == ("*",)
    (app,) = vhost.applications
    assert (app.name, app.type) == ("app", "live")
    assert [p.name for p in app.output_profiles] == ["bypass_stream"]


@needs_ome_conf
def test_ome_origin_xml_resolves_tls_paths_and_env_ports() -> None:
    config = load_server_config(OME_CONF / "Origin.xml", environ={"OME_LLHLS_STREAM_PORT": "4000"})
    tls = config.virtual_hosts[0].host.tls  # type: ignore[union-attr]
    assert tls is not None
    assert tls.cert_path == f"{OME_CONF}/./cert.crt"
    assert tls.chain_cert_path == f"{OME_CONF}/./cert.ca-bundle"
    raw = config.to_json()["bind"]["publishers"]["llhls"]["port"]
    assert raw.startswith("${env:")  # the JSON form keeps the text as written


@needs_ome_conf
def test_ome_edge_xml_content() -> None:
    config = load(OME_CONF / "Edge.xml")
    assert config.type == "edge"
    vhost = config.virtual_hosts[0]
    assert [a.name for a in vhost.applications] == ["*"]
    assert "origins" in vhost.to_json()


def test_project_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(EXAMPLE)
    assert config.api_binding is not None and config.api_binding.port is not None
    assert config.api_binding.port.number == 8081
    assert config.api_manager is not None
    assert config.api_manager.access_token == "change-me"
    assert [v.name for v in config.virtual_hosts] == ["studio"]
    assert config.virtual_hosts[0].applications[0].name == "live"


# ------------------------------------------------------------------------------ includes


def test_list_include_with_no_match_is_fine(tmp_path: Path) -> None:
    path = server_file(
        tmp_path,
        '<VirtualHosts><VirtualHost include="VHost*.xml"/>'
        "<VirtualHost><Name>main</Name></VirtualHost></VirtualHosts>",
    )
    assert [v.name for v in load(path).virtual_hosts] == ["main"]


def test_list_include_alone_with_no_match_is_fine(tmp_path: Path) -> None:
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="none*.xml"/></VirtualHosts>')
    assert load(path).virtual_hosts == ()


def test_list_include_several_files_in_place_and_sorted(tmp_path: Path) -> None:
    for name in ("c", "a", "b"):
        vhost_file(tmp_path / f"VHost-{name}.xml", name)
    write(tmp_path / "VHost-x.txt", "not xml")  # does not match the pattern
    (tmp_path / "VHost-dir.xml").mkdir()  # not a regular file
    path = server_file(
        tmp_path,
        "<VirtualHosts><VirtualHost><Name>first</Name></VirtualHost>"
        '<VirtualHost include="VHost-*.xml"><Ignored>content</Ignored></VirtualHost>'
        "<VirtualHost><Name>last</Name></VirtualHost></VirtualHosts>",
    )
    config = load(path)
    assert [v.name for v in config.virtual_hosts] == ["first", "a", "b", "c", "last"]
    assert all(v.read_only for v in config.virtual_hosts)


def test_include_question_mark_matches_zero_or_one_character(tmp_path: Path) -> None:
    vhost_file(tmp_path / "v.xml", "zero")
    vhost_file(tmp_path / "v1.xml", "one")
    vhost_file(tmp_path / "v12.xml", "two")
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="v?.xml"/></VirtualHosts>')
    assert [v.name for v in load(path).virtual_hosts] == ["zero", "one"]


def test_include_in_a_subdirectory_through_env(tmp_path: Path) -> None:
    vhost_file(tmp_path / "sites-enabled" / "one.xml", "one")
    path = server_file(
        tmp_path,
        '<VirtualHosts><VirtualHost include="${env:SITES:sites-enabled}/*.xml"/></VirtualHosts>',
    )
    assert [v.name for v in load(path).virtual_hosts] == ["one"]


def test_include_of_a_list_in_apps(tmp_path: Path) -> None:
    write(tmp_path / "apps" / "a.xml", "<Application><Name>a</Name><Type>live</Type></Application>")
    path = server_file(
        tmp_path,
        "<VirtualHosts><VirtualHost><Name>v</Name><Applications>"
        '<Application include="apps/*.xml"/></Applications></VirtualHost></VirtualHosts>',
    )
    assert [a.name for a in load(path).virtual_hosts[0].applications] == ["a"]


def test_single_item_include(tmp_path: Path) -> None:
    write(tmp_path / "managers.xml", "<Managers><API><AccessToken>t</AccessToken></API></Managers>")
    path = server_file(tmp_path, '<Managers include="managers.xml"/>')
    config = load(path)
    assert config.api_manager is not None
    assert config.api_manager.access_token == "t"


def test_single_item_include_with_no_match(tmp_path: Path) -> None:
    path = server_file(tmp_path, '<Managers include="nothing*.xml"/>')
    exc = load_error(path)
    assert exc.text == (
        "There is no file to include for path: Server.managers, "
        f"current path: {tmp_path}, include pattern: nothing*.xml"
    )
    assert (exc.file, exc.line) == (str(path), 1)


def test_single_item_include_of_a_missing_file(tmp_path: Path) -> None:
    path = server_file(tmp_path, '<Managers include="${env:M:managers.xml}"/>')
    assert load_error(path).text == (
        "There is no file to include for path: Server.managers, "
        f"current path: {tmp_path}, include pattern: managers.xml"
    )


def test_single_item_include_with_several_matches(tmp_path: Path) -> None:
    for name in ("m1.xml", "m2.xml"):
        write(tmp_path / name, "<Managers/>")
    path = server_file(tmp_path, '<Managers include="m*.xml"/>')
    assert load_error(path).text == (
        "Too many files found for an Item: Server.managers, "
        f"current path: {tmp_path}, include pattern: m*.xml (2 files found)"
    )


def test_single_item_include_still_checks_its_own_children(tmp_path: Path) -> None:
    write(tmp_path / "m.xml", "<Managers/>")
    path = server_file(tmp_path, '<Managers include="m.xml"><Foo/></Managers>')
    assert load_error(path).text == f"Unknown item found: Server.managers.Foo in {path}"


def test_include_from_a_directory_that_cannot_be_listed(tmp_path: Path) -> None:
    path = server_file(
        tmp_path, '<VirtualHosts><VirtualHost include="nodir/*.xml"/></VirtualHosts>'
    )
    exc = load_error(path)
    assert exc.text == (
        f"Could not obtain file list: current path: {tmp_path}/nodir/, include pattern: "
        "nodir/*.xml (No such file or directory)"
    )
    assert exc.file == str(path)


def test_nested_includes(tmp_path: Path) -> None:
    write(
        tmp_path / "vhosts" / "v.xml",
        '<VirtualHost><Name>v</Name><Applications><Application include="app-*.xml"/>'
        "</Applications></VirtualHost>",
    )
    # Relative patterns stay relative to the main config directory, even when nested.
    write(tmp_path / "app-1.xml", "<Application><Name>one</Name><Type>live</Type></Application>")
    path = server_file(
        tmp_path, '<VirtualHosts><VirtualHost include="vhosts/*.xml"/></VirtualHosts>'
    )
    assert [a.name for a in load(path).virtual_hosts[0].applications] == ["one"]


def test_absolute_include_switches_the_current_path(tmp_path: Path) -> None:
    tls = "<Host><TLS><CertPath>c.crt</CertPath><KeyPath>c.key</KeyPath></TLS></Host>"
    vhost_file(tmp_path / "abs" / "v.xml", "abs", tls)
    vhost_file(tmp_path / "rel" / "v.xml", "rel", tls)
    path = server_file(
        tmp_path,
        f'<VirtualHosts><VirtualHost include="{tmp_path}/abs/*.xml"/>'
        '<VirtualHost include="rel/*.xml"/></VirtualHosts>',
    )
    abs_vhost, rel_vhost = load(path).virtual_hosts
    assert abs_vhost.host.tls.cert_path == f"{tmp_path}/abs/c.crt"  # type: ignore[union-attr]
    assert rel_vhost.host.tls.cert_path == f"{tmp_path}/c.crt"  # type: ignore[union-attr]


def test_include_loop_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path / "loop.xml",
        '<VirtualHost><Name>x</Name><Applications><Application include="app.xml"/>'
        "</Applications></VirtualHost>",
    )
    write(
        tmp_path / "app.xml",
        "<Application><Name>a</Name><Type>live</Type><OutputProfiles>"
        '<OutputProfile include="app.xml"/></OutputProfiles></Application>',
    )
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="loop.xml"/></VirtualHosts>')
    exc = load_error(path)
    assert "Include loop" in exc.text
    assert exc.file == str(tmp_path / "app.xml")


def test_include_of_the_main_file_is_a_loop(tmp_path: Path) -> None:
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="Server.xml"/></VirtualHosts>')
    assert "Include loop" in load_error(path).text


def test_included_root_element_must_match(tmp_path: Path) -> None:
    write(tmp_path / "v.xml", "<Application><Name>a</Name></Application>")
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="v.xml"/></VirtualHosts>')
    exc = load_error(path)
    assert exc.text == f"Could not find the root element: <VirtualHost> in {tmp_path}/v.xml"
    assert exc.file == f"{tmp_path}/v.xml"


def test_main_root_element_must_be_server(tmp_path: Path) -> None:
    path = write(tmp_path / "Server.xml", "<Logger version='2'/>")
    exc = load_error(path)
    assert exc.text == f"Could not find the root element: <Server> in {path}"


def test_error_inside_an_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    inc = write(
        tmp_path / "v.xml",
        """
        <VirtualHost>
            <Name>v</Name>
            <Bogus/>
        </VirtualHost>
        """,
    )
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="v.xml"/></VirtualHosts>')
    exc = load_error(path)
    assert exc.text == f"Unknown item found: VirtualHost.Bogus in {inc}"
    assert (exc.file, exc.line) == (str(inc), 3)


def test_hostile_included_file(tmp_path: Path) -> None:
    inc = write(tmp_path / "v.xml", '<!DOCTYPE v [<!ENTITY a "b">]><VirtualHost/>')
    path = server_file(tmp_path, '<VirtualHosts><VirtualHost include="v.xml"/></VirtualHosts>')
    exc = load_error(path)
    assert exc.file == str(inc)
    assert exc.text.startswith(f"Could not read the file: {inc} (reason: ")


# ------------------------------------------------------------------ bad and hostile input

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Server version="8"><Name>&lol9;</Name><Type>origin</Type><IP>*</IP><Bind/></Server>
"""

HOSTILE: list[tuple[str, bytes]] = [
    ("malformed", b'<Server version="8"><Type>origin</Type>\n<IP>*</Bind></Server>'),
    ("unclosed", b'<Server version="8">\n<Type>origin</Type>'),
    ("billion laughs", BILLION_LAUGHS.encode()),
    (
        "external entity",
        b'<?xml version="1.0"?>\n<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<Server version="8"><Name>&x;</Name><Type>origin</Type><IP>*</IP><Bind/></Server>',
    ),
    (
        "external DTD",
        b'<?xml version="1.0"?>\n<!DOCTYPE Server SYSTEM "http://example.invalid/s.dtd">\n'
        b'<Server version="8"><Type>origin</Type><IP>*</IP><Bind/></Server>',
    ),
    (
        "internal DTD",
        b"<!DOCTYPE Server [<!ELEMENT Server ANY>]>"
        b'<Server version="8"><Type>origin</Type><IP>*</IP><Bind/></Server>',
    ),
    ("undefined entity", b'<Server version="8"><Name>&nope;</Name></Server>'),
    (
        "non-UTF-8 bytes",
        b'<?xml version="1.0" encoding="UTF-8"?><Server version="8"><Name>caf\xe9</Name>'
        b"<Type>origin</Type><IP>*</IP><Bind/></Server>",
    ),
    ("unknown encoding", b'<?xml version="1.0" encoding="x-nope"?><Server version="8"/>'),
    ("empty", b""),
    ("whitespace only", b"  \n\n"),
    ("binary", bytes(range(256))),
    ("text after the root", b'<Server version="8"/>garbage'),
]


@pytest.mark.parametrize(("data",), [pytest.param(d, id=i) for i, d in HOSTILE])
def test_hostile_input_is_a_config_error_naming_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "Server.xml"
    path.write_bytes(data)
    exc = load_error(path)
    assert exc.file == str(path)
    assert exc.text.startswith(f"Could not read the file: {path} (reason: ")
    assert exc.text.endswith(")")
    # The same bytes given directly.
    with pytest.raises(ConfigError), deadline():
        parse_server_xml(data, file=str(path), environ={})


def test_parse_error_reports_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "Server.xml"
    path.write_bytes(b'<Server version="8">\n  <Type>origin</Tipe>\n</Server>')
    exc = load_error(path)
    assert exc.line == 2
    assert exc.text == (f"Could not read the file: {path} (reason: mismatched tag, offset: 37)")


def test_latin1_declared_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "Server.xml"
    path.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Server version="8"><Name>caf\xe9</Name>'
        b"<Type>origin</Type><IP>*</IP><Bind/></Server>"
    )
    assert load(path).name == "café"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.xml"
    exc = load_error(path)
    assert exc.text == f"Could not read the file: {path} (reason: File was not found, offset: 0)"
    assert exc.file == str(path)


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    exc = load_error(tmp_path)
    assert exc.file == str(tmp_path)
    assert exc.text == f"Could not read the file: {tmp_path} (reason: Is a directory, offset: 0)"


def test_unreadable_file(tmp_path: Path) -> None:
    path = server_file(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that ignore file modes")
        exc = load_error(path)
        assert exc.text == (
            f"Could not read the file: {path} (reason: Permission denied, offset: 0)"
        )
    finally:
        path.chmod(0o644)


def test_file_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = server_file(tmp_path)
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 16)
    exc = load_error(path)
    assert exc.text == f"Could not read the file: {path} (reason: File is too large, offset: 0)"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_endless_device_is_refused() -> None:
    # Refused by type before anything is read (it used to be read up to the size cap).
    exc = load_error(Path("/dev/zero"))
    assert exc.text == "Could not read the file: /dev/zero (reason: Not a regular file, offset: 0)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "Server.xml"
    path.write_bytes(
        b'\xef\xbb\xbf<Server version="8"><Type>origin</Type><IP>*</IP><Bind/></Server>'
    )
    assert load(path).type == "origin"


# ------------------------------------------------------------------------ error locations

LOCATED = """
<?xml version="1.0"?>
<Server version="8">
    <Type>origin</Type>
    <IP>*</IP>
    <Bind>
        <Managers>
            <API>
                %s
            </API>
        </Managers>
    </Bind>
</Server>
"""


@pytest.mark.parametrize(
    ("inner", "text", "line", "path"),
    [
        (
            "<Foo/>",
            "Unknown item found: Server.bind.managers.api.Foo in {file}",
            8,
            "Server.bind.managers.api",
        ),
        ("<Port>0</Port>", "Invalid port: 0", 8, "Server.bind.managers.api.port"),
        (
            "<Port>\n80/xyz</Port>",
            "Unknown socket type: \n80/xyz",
            8,
            "Server.bind.managers.api.port",
        ),
        (
            "<Port>1</Port>\n\n<TLSPort>-1</TLSPort>",
            "Invalid port: -1",
            10,
            "Server.bind.managers.api.tlsPort",
        ),
    ],
)
def test_errors_carry_file_line_and_path(
    tmp_path: Path, inner: str, text: str, line: int, path: str
) -> None:
    file = write(tmp_path / "Server.xml", LOCATED % inner)
    exc = load_error(file)
    assert exc.text == text.format(file=file)
    assert (exc.file, exc.line, exc.path) == (str(file), line, path)
    assert exc.located() == f"{file}:{line}: {exc.text}"


def test_required_error_points_at_the_parent(tmp_path: Path) -> None:
    file = write(
        tmp_path / "Server.xml",
        """
        <Server version="8">
            <Type>origin</Type>
            <IP>*</IP>
            <Bind/>
            <VirtualHosts>
                <VirtualHost>
                    <Name>ok</Name>
                </VirtualHost>
                <VirtualHost>
                    <Distribution>x</Distribution>
                </VirtualHost>
            </VirtualHosts>
        </Server>
        """,
    )
    exc = load_error(file)
    assert exc.text == "VirtualHost.name is not optional"
    assert (exc.line, exc.path) == (9, "VirtualHost")


def test_validation_error_points_at_the_element(tmp_path: Path) -> None:
    file = write(
        tmp_path / "Server.xml",
        """
        <Server version="8">
            <Type>origin</Type>
            <IP>*</IP>
            <Bind/>
            <VirtualHosts>
                <VirtualHost>
                    <Name>v</Name>
                    <Applications>
                        <Application>
                            <Name>a</Name>
                            <Type>Live</Type>
                        </Application>
                    </Applications>
                </VirtualHost>
            </VirtualHosts>
        </Server>
        """,
    )
    exc = load_error(file)
    assert exc.text == "Unknown type: Live"
    assert (exc.line, exc.path) == (11, "Application.type")


def test_version_error_points_at_the_root(tmp_path: Path) -> None:
    file = tmp_path / "Server.xml"
    file.write_text('\n\n<Server version="7"><Type>origin</Type><IP>*</IP><Bind/></Server>')
    exc = load_error(file)
    assert exc.line == 3
    assert exc.message.startswith("[Config] The version of Server.xml is outdated")


# ---------------------------------------------------------------------------- omeapi check


def test_check_ok_prints_one_line_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMEAPI_PORT", raising=False)
    assert main(["check", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"{EXAMPLE}: OK (version 8, origin, 1 virtual hosts, 1 applications, API on 8081/tcp)\n"
    )
    assert err == ""


def test_check_error_prints_file_line_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "Server.xml", LOCATED % "<Foo/>")
    assert main(["check", str(file)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{file}:8: Unknown item found: Server.bind.managers.api.Foo in {file}\n"


def test_check_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "missing.xml"
    assert main(["check", str(file)]) == 1
    assert capsys.readouterr().err == (
        f"{file}: Could not read the file: {file} (reason: File was not found, offset: 0)\n"
    )


def test_check_hostile_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "Server.xml"
    file.write_bytes(BILLION_LAUGHS.encode())
    with deadline():
        assert main(["check", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{file}")
    assert "Traceback" not in err


def test_check_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = server_file(tmp_path, '<Old ignore="true"/>')
    assert main(["check", str(file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "warning: Unknown item found, but ignored: Server.Old"
    assert out[1] == (
        f"{file}: OK (version 8, origin, 0 virtual hosts, 0 applications, API disabled)"
    )


@needs_ome_conf
@pytest.mark.parametrize("name", ["Server.xml", "Origin.xml", "Edge.xml"])
def test_check_ome_examples(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(OME_CONF / name)]) == 0
    assert capsys.readouterr().out.count("\n") == 1
