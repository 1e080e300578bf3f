"""Server.xml rules, one case per rule and per message of ome-server-xml.md §1.

Every case is a small inline XML snippet.  Messages are compared exactly (``ConfigError.text``
is OME's text without the ``[Config] `` prefix).
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from typing import Any

import pytest

from omeapi._config import (
    ConfigError,
    Item,
    Port,
    RangedPort,
    Scalar,
    ServerConfig,
    Substitution,
    parse_server_xml,
)
from omeapi._config.values import PortRange

FILE = "/etc/ome/Server.xml"
CONF_DIR = "/etc/ome"


# ---------------------------------------------------------------------------------- helpers


def server(body: str = "", *, bind: str = "", version: str | None = "8", head: str = "") -> str:
    """A minimal valid Server.xml around ``body`` (``bind`` goes inside ``<Bind>``)."""
    attr = "" if version is None else f' version="{version}"'
    return f"<Server{attr}>{head}<Type>origin</Type><IP>*</IP><Bind>{bind}</Bind>{body}</Server>"


def vhost(inner: str = "", name: str = "v") -> str:
    return f"<VirtualHosts><VirtualHost><Name>{name}</Name>{inner}</VirtualHost></VirtualHosts>"


def app(inner: str = "", name: str = "a", kind: str = "live") -> str:
    return vhost(
        f"<Applications><Application><Name>{name}</Name><Type>{kind}</Type>{inner}"
        "</Application></Applications>"
    )


def profile(inner: str = "") -> str:
    return app(
        "<OutputProfiles><OutputProfile><Name>p</Name><OutputStreamName>s</OutputStreamName>"
        f"{inner}</OutputProfile></OutputProfiles>"
    )


def encodes(inner: str) -> str:
    return profile(f"<Encodes>{inner}</Encodes>")


def load(xml: str, env: Mapping[str, str] | None = None, **kw: Any) -> ServerConfig:
    return parse_server_xml(xml, file=FILE, environ=env or {}, **kw)


def error(xml: str, env: Mapping[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(xml, env)
    return info.value


def at(item: Item, path: str) -> Any:
    """The node at a dotted XML-name path; lists step into their first element."""
    node: Any = item
    for name in path.split("."):
        assert isinstance(node, Item), (path, node)
        node = node.get(name)
        if isinstance(node, tuple):
            node = node[0]
    return node


def value_at(config: ServerConfig, path: str) -> Any:
    node = at(config.node, path)
    assert isinstance(node, Scalar), (path, node)
    return node.value


APP = "VirtualHosts.VirtualHost.Applications.Application"
PROFILE = f"{APP}.OutputProfiles.OutputProfile"


# ---------------------------------------------------------------------- §1.5 conversions

# Where each kind is read from in the cases below: (snippet with %s, path of the value).
KIND_SITES: dict[str, tuple[str, str]] = {
    "string": (vhost("<Distribution>%s</Distribution>"), "VirtualHosts.VirtualHost.Distribution"),
    "int": (
        server(
            "<Modules><P2P><MaxClientPeersPerHostPeer>%s</MaxClientPeersPerHostPeer>"
            "</P2P></Modules>"
        ),
        "Modules.P2P.MaxClientPeersPerHostPeer",
    ),
    "long": (
        vhost("<Origins><Properties><RetryCount>%s</RetryCount></Properties></Origins>"),
        "VirtualHosts.VirtualHost.Origins.Properties.RetryCount",
    ),
    "bool": ("<PrivacyProtection>%s</PrivacyProtection>", "PrivacyProtection"),
    "double": (
        app("<Publishers><LLHLS><ChunkDuration>%s</ChunkDuration></LLHLS></Publishers>"),
        f"{APP}.Publishers.LLHLS.ChunkDuration",
    ),
    "port": ("", "Bind.Managers.API.Port"),
    "ranged_port": ("", "Bind.Providers.MPEGTS.Port"),
    "enabled_modules": (
        vhost("<SignedPolicy><Enables><Providers>%s</Providers></Enables></SignedPolicy>"),
        "VirtualHosts.VirtualHost.SignedPolicy.Enables.Providers",
    ),
}


def kind_xml(kind: str, text: str) -> str:
    snippet, _ = KIND_SITES[kind]
    if kind == "port":
        return server(bind=f"<Managers><API><Port>{text}</Port></API></Managers>")
    if kind == "ranged_port":
        return server(bind=f"<Providers><MPEGTS><Port>{text}</Port></MPEGTS></Providers>")
    xml = snippet.replace("%s", text)
    return xml if xml.startswith("<Server") else server(xml)


def read_kind(kind: str, text: str, env: Mapping[str, str] | None = None) -> Any:
    return value_at(load(kind_xml(kind, text), env), KIND_SITES[kind][1])


CONVERSIONS = [
    # String: as written, not trimmed; whitespace-only text is dropped by pugixml
    ("string", " * ", " * "),
    ("string", "a&amp;b", "a&b"),
    ("string", "<![CDATA[x<y]]>", "x<y"),
    ("string", "   ", ""),
    ("string", "", ""),
    ("string", "\xa0", "\xa0"),
    # Integer: stoi, base 10, no digits or out of int32 → 0
    ("int", "12", 12),
    ("int", " 12abc", 12),
    ("int", "\t\n 3", 3),
    ("int", "0x10", 0),
    ("int", "", 0),
    ("int", "abc", 0),
    ("int", "-5", -5),
    ("int", "+7", 7),
    ("int", "3.9", 3),
    ("int", "1e3", 1),
    ("int", "2147483647", 2147483647),
    ("int", "-2147483648", -2147483648),
    ("int", "2147483648", 0),
    ("int", "-2147483649", 0),
    ("int", "0000000000000000000000000000042", 42),
    ("int", "9" * 5000, 0),
    # Long: the same with int64
    ("long", "2147483648", 2147483648),
    ("long", "9223372036854775807", 9223372036854775807),
    ("long", "-9223372036854775808", -9223372036854775808),
    ("long", "9223372036854775808", 0),
    ("long", " 7ms", 7),
    # Boolean: true/false in any case, else stoll(text) != 0
    ("bool", "true", True),
    ("bool", "false", False),
    ("bool", "TRUE", True),
    ("bool", "False", False),
    ("bool", "1", True),
    ("bool", "0", False),
    ("bool", "2", True),
    ("bool", "-1", True),
    ("bool", " 1", True),
    ("bool", "1abc", True),
    ("bool", "yes", False),
    ("bool", " true", False),
    ("bool", "true ", False),
    ("bool", "", False),
    ("bool", "0x1", False),
    ("bool", "9223372036854775808", False),
    # Double: stod, failure → 0.0
    ("double", "1.5", 1.5),
    ("double", " 2.5x", 2.5),
    ("double", "1e3", 1000.0),
    ("double", ".5", 0.5),
    ("double", "1.", 1.0),
    ("double", "-0.25", -0.25),
    ("double", "inf", math.inf),
    ("double", "-INF", -math.inf),
    ("double", "Infinity", math.inf),
    ("double", "0x1p4", 16.0),
    ("double", "abc", 0.0),
    ("double", "", 0.0),
    ("double", "1e400", 0.0),
    # SingularPort: N or N/proto, 1–65535, TCP by default
    ("port", "8081", Port(8081, "TCP")),
    ("port", "8081/tcp", Port(8081, "TCP")),
    ("port", "8081/UDP", Port(8081, "UDP")),
    ("port", " 8081 / srt ", Port(8081, "SRT")),
    ("port", "1", Port(1, "TCP")),
    ("port", "65535", Port(65535, "TCP")),
    ("port", "8081abc", Port(8081, "TCP")),
    ("port", "8081/tcp/x", Port(8081, "TCP")),
    # RangedPort: list of N or A-B, UDP by default
    ("ranged_port", "4000", RangedPort((PortRange(4000, 4000),), "UDP")),
    ("ranged_port", " 4000/tcp ", RangedPort((PortRange(4000, 4000),), "TCP")),
    (
        "ranged_port",
        "4000-4003,4010/udp",
        RangedPort((PortRange(4000, 4003), PortRange(4010, 4010)), "UDP"),
    ),
    ("ranged_port", "5-5", RangedPort((PortRange(5, 5),), "UDP")),
    # EnabledModules: upper-cased, trimmed, comma-split, each item trimmed
    ("enabled_modules", "rtmp, webrtc ,srt", ("RTMP", "WEBRTC", "SRT")),
    ("enabled_modules", " LLHLS ", ("LLHLS",)),
    ("enabled_modules", "", ()),
]


@pytest.mark.parametrize(("kind", "text", "expected"), CONVERSIONS)
def test_conversion(kind: str, text: str, expected: Any) -> None:
    got = read_kind(kind, text)
    assert type(got) is type(expected)
    assert got == expected


def test_double_nan() -> None:
    assert math.isnan(read_kind("double", "nan"))


def test_raw_text_kept_next_to_the_value() -> None:
    config = load(kind_xml("int", " 12abc"))
    assert at(config.node, KIND_SITES["int"][1]) == Scalar(" 12abc", 12)


PORT_ERRORS = [
    ("port", "0", "Invalid port: 0"),
    ("port", "65536", "Invalid port: 65536"),
    ("port", "-1", "Invalid port: -1"),
    ("port", "abc", "Invalid port: abc"),
    ("port", "", "Invalid port: "),
    ("port", "8081/xyz", "Unknown socket type: 8081/xyz"),
    ("port", "8081/", "Unknown socket type: 8081/"),
    ("ranged_port", "0", "Invalid port: 0"),
    ("ranged_port", "70000", "Invalid port: 70000"),
    ("ranged_port", "1-70000", "Invalid port: 1-70000"),
    ("ranged_port", "5-3", "Invalid port range: 5-3"),
    ("ranged_port", "abc", "Invalid port expression: abc"),
    ("ranged_port", "4000-", "Invalid port expression: 4000-"),
    ("ranged_port", "4000,,4001", "Invalid port expression: 4000,,4001"),
    ("ranged_port", "", "Invalid port expression: "),
    ("ranged_port", "4000/xyz", "Unknown socket type: 4000/xyz"),
    ("ranged_port", "0" * 4000 + "1" * 4000, "Invalid port: " + "0" * 4000 + "1" * 4000),
]


@pytest.mark.parametrize(("kind", "text", "message"), PORT_ERRORS)
def test_port_errors(kind: str, text: str, message: str) -> None:
    exc = error(kind_xml(kind, text))
    assert exc.text == message
    assert exc.path.endswith(".port")


def test_ports_of_the_api_binding() -> None:
    config = load(
        server(
            bind="<Managers><API><Port>8081</Port><TLSPort>8082/tcp</TLSPort>"
            "<WorkerCount>4</WorkerCount></API></Managers>"
        )
    )
    assert config.api_binding is not None
    assert config.api_binding.port == Port(8081)
    assert config.api_binding.tls_port == Port(8082)
    assert config.api_binding.worker_count == 4
    assert config.api_enabled


@pytest.mark.parametrize(
    ("bind", "enabled"),
    [
        ("", False),
        ("<Managers/>", False),
        ("<Managers><API/></Managers>", False),
        ("<Managers><API><WorkerCount>2</WorkerCount></API></Managers>", False),
        ("<Managers><API><TLSPort>8082</TLSPort></API></Managers>", True),
    ],
)
def test_api_enabled_only_with_a_present_port(bind: str, enabled: bool) -> None:
    assert load(server(bind=bind)).api_enabled is enabled


# ------------------------------------------------------------- §1.4 required, optional parent

REQUIRED = [
    # (case id, xml, message or None when it loads)
    ("version missing", server(version=None), "Server.version is not optional"),
    (
        "Type missing",
        '<Server version="8"><IP>*</IP><Bind/></Server>',
        "Server.type is not optional",
    ),
    (
        "IP missing",
        '<Server version="8"><Type>origin</Type><Bind/></Server>',
        "Server.ip is not optional",
    ),
    (
        "IP only ignored",
        '<Server version="8"><Type>origin</Type><IP ignore="true">*</IP><Bind/></Server>',
        "Server.ip is not optional",
    ),
    (
        "Bind missing",
        '<Server version="8"><Type>origin</Type><IP>*</IP></Server>',
        "Server.bind is not optional",
    ),
    (
        "Bind ignored",
        '<Server version="8"><Type>origin</Type><IP>*</IP><Bind ignore="true"/></Server>',
        "Server.bind is not optional",
    ),
    ("Managers with an empty Host", server("<Managers><Host/></Managers>"), None),
    ("Managers Host Names empty", server("<Managers><Host><Names/></Host></Managers>"), None),
    ("Managers API without AccessToken", server("<Managers><API/></Managers>"), None),
    ("Managers Host TLS without paths", server("<Managers><Host><TLS/></Host></Managers>"), None),
    ("empty VirtualHosts", server("<VirtualHosts/>"), None),
    (
        "VirtualHost Name missing",
        server("<VirtualHosts><VirtualHost/></VirtualHosts>"),
        "VirtualHost.name is not optional",
    ),
    (
        "second VirtualHost Name missing",
        server(
            "<VirtualHosts><VirtualHost><Name>a</Name></VirtualHost><VirtualHost>"
            "<Distribution>x</Distribution></VirtualHost></VirtualHosts>"
        ),
        "VirtualHost.name is not optional",
    ),
    (
        "VirtualHost Name ignored",
        server(
            '<VirtualHosts><VirtualHost><Name ignore="true">a</Name></VirtualHost></VirtualHosts>'
        ),
        "VirtualHost.name is not optional",
    ),
    ("vhost Host without Names", server(vhost("<Host/>")), None),
    (
        "vhost TLS without CertPath",
        server(vhost("<Host><TLS><KeyPath>k</KeyPath></TLS></Host>")),
        None,
    ),
    ("SignedPolicy empty", server(vhost("<SignedPolicy/>")), None),
    ("AdmissionWebhooks empty", server(vhost("<AdmissionWebhooks/>")), None),
    ("OriginMapStore empty", server(vhost("<OriginMapStore/>")), None),
    ("Alert empty", server("<Alert/>"), None),
    ("empty Applications", server(vhost("<Applications/>")), None),
    (
        "Application Name missing",
        server(vhost("<Applications><Application><Type>live</Type></Application></Applications>")),
        "Application.name is not optional",
    ),
    (
        "Application Type missing",
        server(vhost("<Applications><Application><Name>a</Name></Application></Applications>")),
        "Application.type is not optional",
    ),
    (
        "Origin Location missing",
        server(
            vhost(
                "<Origins><Origin><Pass><Scheme>ovt</Scheme><Urls><Url>h:9000/a</Url></Urls>"
                "</Pass></Origin></Origins>"
            )
        ),
        "Origin.location is not optional",
    ),
    (
        "Origin Pass missing",
        server(vhost("<Origins><Origin><Location>/</Location></Origin></Origins>")),
        "Origin.pass is not optional",
    ),
    (
        "Origin Pass Scheme missing",
        server(
            vhost(
                "<Origins><Origin><Location>/</Location><Pass><Urls><Url>h:9000/a</Url></Urls>"
                "</Pass></Origin></Origins>"
            )
        ),
        "Origin.pass.scheme is not optional",
    ),
    (
        "Origin Pass Urls missing",
        server(
            vhost(
                "<Origins><Origin><Location>/</Location><Pass><Scheme>ovt</Scheme></Pass>"
                "</Origin></Origins>"
            )
        ),
        "Origin.pass.urls is not optional",
    ),
    (
        "Origin Pass Urls Url missing",
        server(
            vhost(
                "<Origins><Origin><Location>/</Location><Pass><Scheme>ovt</Scheme><Urls/>"
                "</Pass></Origin></Origins>"
            )
        ),
        "Origin.pass.urls.url is not optional",
    ),
    ("Origins Properties alone", server(vhost("<Origins><Properties/></Origins>")), None),
    (
        "Header Key missing",
        server(
            "<Defaults><CrossDomains><Header><Value>v</Value></Header></CrossDomains></Defaults>"
        ),
        "Header.key is not optional",
    ),
    (
        "Header Value missing",
        server(
            "<Managers><API><CrossDomains><Header><Key>k</Key></Header></CrossDomains></API>"
            "</Managers>"
        ),
        "Header.value is not optional",
    ),
    (
        "OutputProfile Name missing",
        server(
            app(
                "<OutputProfiles><OutputProfile><OutputStreamName>s</OutputStreamName>"
                "</OutputProfile></OutputProfiles>"
            )
        ),
        "OutputProfile.name is not optional",
    ),
    (
        "OutputProfile OutputStreamName missing",
        server(
            app("<OutputProfiles><OutputProfile><Name>p</Name></OutputProfile></OutputProfiles>")
        ),
        "OutputProfile.outputStreamName is not optional",
    ),
    (
        "Playlist FileName missing",
        server(profile("<Playlist><Name>x</Name></Playlist>")),
        "Playlist.fileName is not optional",
    ),
    (
        "Rendition Name missing",
        server(profile("<Playlist><FileName>f</FileName><Rendition/></Playlist>")),
        "Rendition.name is not optional",
    ),
    (
        "bind IceServer Urls missing (list items start afresh)",
        server(
            bind="<Providers><WebRTC><IceServers><IceServer/></IceServers></WebRTC></Providers>"
        ),
        "IceServer.urls is not optional",
    ),
    (
        "bind IceServers empty",
        server(bind="<Providers><WebRTC><IceServers/></WebRTC></Providers>"),
        None,
    ),
]


@pytest.mark.parametrize(("xml", "message"), [pytest.param(x, m, id=i) for i, x, m in REQUIRED])
def test_required(xml: str, message: str | None) -> None:
    if message is None:
        load(xml)
    else:
        assert error(xml).text == message


def test_managers_host_example_loads_with_defaults() -> None:
    """ome-server-xml.md §7.3: ``<Managers><Host/></Managers>`` loads."""
    config = load(server("<Managers><Host/></Managers>"))
    assert config.managers is not None
    assert config.managers.host is not None
    assert config.managers.host.names is None
    assert config.managers.host.tls is None


def test_first_error_aborts_in_registration_order() -> None:
    # Type is registered before IP and Bind: it is the one reported.
    assert error('<Server version="8"></Server>').text == "Server.type is not optional"


# ------------------------------------------------------------------------ §1.6 unknown items


UNKNOWN = [
    ("root", server("<Foo/>"), f"Unknown item found: Server.Foo in {FILE}"),
    (
        "API binding",
        server(bind="<Managers><API><Foo/></API></Managers>"),
        f"Unknown item found: Server.bind.managers.api.Foo in {FILE}",
    ),
    ("case-sensitive", server("<name>x</name>"), f"Unknown item found: Server.name in {FILE}"),
    ("in a vhost", server(vhost("<Foo>1</Foo>")), f"Unknown item found: VirtualHost.Foo in {FILE}"),
    (
        "before the required check",
        server("<VirtualHosts><VirtualHost><Foo/></VirtualHost></VirtualHosts>"),
        f"Unknown item found: VirtualHost.Foo in {FILE}",
    ),
    (
        "in an app item",
        server(app("<OutputProfiles><Bar/></OutputProfiles>")),
        f"Unknown item found: Application.outputProfiles.Bar in {FILE}",
    ),
    (
        "in a Names list item",
        server("<Managers><Host><Names><Nam>x</Nam></Names></Host></Managers>"),
        f"Unknown item found: Server.managers.host.names.Nam in {FILE}",
    ),
    ("P2P at the old place", server("<P2P/>"), f"Unknown item found: Server.P2P in {FILE}"),
    ("stray text in an item", server("stray"), f"Unknown item found: Server. in {FILE}"),
    (
        "stray text after a child",
        server(vhost("<Distribution>d</Distribution> x ")),
        f"Unknown item found: VirtualHost. in {FILE}",
    ),
    (
        "ignore is case-sensitive",
        server('<Foo ignore="TRUE"/>'),
        f"Unknown item found: Server.Foo in {FILE}",
    ),
    (
        "ignore through an unset env",
        server('<Foo ignore="${env:SKIP_FOO}"/>'),
        f"Unknown item found: Server.Foo in {FILE}",
    ),
]


@pytest.mark.parametrize(("xml", "message"), [pytest.param(x, m, id=i) for i, x, m in UNKNOWN])
def test_unknown_items(xml: str, message: str) -> None:
    assert error(xml).text == message


@pytest.mark.parametrize(
    ("xml", "env", "warning"),
    [
        (server('<Foo ignore="true"><Bar/></Foo>'), {}, "Server.Foo"),
        (server('<Foo ignore="${env:SKIP}"/>'), {"SKIP": "true"}, "Server.Foo"),
        (server('<Foo ignore="${env:SKIP:true}"/>'), {}, "Server.Foo"),
        (server(vhost('<Foo ignore="true"/>')), {}, "VirtualHost.Foo"),
    ],
)
def test_ignored_unknown_item_is_a_warning(xml: str, env: dict[str, str], warning: str) -> None:
    warnings: list[str] = []
    load(xml, env, warn=warnings.append)
    assert warnings == [f"Unknown item found, but ignored: {warning}"]


def test_ignore_on_a_known_item_makes_it_absent() -> None:
    config = load(server('<Managers ignore="true"><Foo/></Managers>'))
    assert config.managers is None
    config = load(server('<Managers ignore="${env:OFF:false}"><Host/></Managers>'))
    assert config.managers is not None


def test_ignored_first_of_repeated_elements_lets_the_next_win() -> None:
    config = load(
        server(
            '<VirtualHosts><VirtualHost><Name ignore="true">a</Name><Name>b</Name>'
            "</VirtualHost></VirtualHosts>"
        )
    )
    assert config.virtual_hosts[0].name == "b"


def test_unknown_attributes_are_ignored() -> None:
    config = load(
        '<Server version="8" xmlns:x="urn:x" color="red"><Type lang="en">origin</Type>'
        '<IP foo="1">*</IP><Bind bar=""/></Server>'
    )
    assert config.type == "origin"
    assert "color" not in config.to_json()["$"]


def test_comments_and_processing_instructions_are_discarded() -> None:
    config = load(
        server("<!-- <Foo/> --><?pi x?>" + vhost("<!--c--><Distribution>d</Distribution>"))
    )
    assert value_at(config, "VirtualHosts.VirtualHost.Distribution") == "d"


# ------------------------------------------------------------- §1.9 env, macros, ResolvePath

ENV = [
    # (text, environment, result)
    ("${env:A}", {"A": "x"}, "x"),
    ("${env:A:def}", {"A": "x"}, "x"),
    ("${env:A:def}", {"A": ""}, ""),
    ("${env:A:def}", {}, "def"),
    ("${env:A}", {}, ""),
    ("${env:A:}", {}, ""),
    ("${env:A:http://h:80/p}", {}, "http://h:80/p"),
    ("${env:A:x}y}", {}, "xy}"),
    ("${env:A}", {"A": "${env:B}", "B": "b"}, "${env:B}"),
    ("${env:A}-${env:B:2}", {"A": "1"}, "1-2"),
    ("pre${env:A}post", {"A": "-"}, "pre-post"),
    ("${env:A", {"A": "x"}, "${env:A"),
    ("$env:A", {"A": "x"}, "$env:A"),
    ("${ENV:A}", {"A": "x"}, "${ENV:A}"),
    ("${OriginStreamName}", {}, "${OriginStreamName}"),
    ("${env:HOSTNAME:fallback}", {"HOSTNAME": "set"}, "set"),
    ("${env:HOSTNAME:fallback}", {"HOSTNAME": ""}, ""),
]


@pytest.mark.parametrize(("text", "env", "result"), ENV)
def test_env_substitution(text: str, env: dict[str, str], result: str) -> None:
    assert Substitution(environ=env)(text) == result
    # The same through a file, in a String element.
    assert read_kind("string", text, env) == result


def test_env_hostname_falls_back_to_gethostname() -> None:
    assert read_kind("string", "${env:HOSTNAME}", {}) == socket.gethostname()
    assert Substitution(environ={}, hostname=lambda: "box")("${env:HOSTNAME:x}") == "box"


def test_env_hostname_failure_uses_the_default() -> None:
    def broken() -> str:
        raise OSError("no name")

    assert Substitution(environ={}, hostname=broken)("${env:HOSTNAME:dflt}") == "dflt"


@pytest.mark.parametrize(
    ("kind", "text", "env", "expected"),
    [
        ("port", "${env:P:8081}", {}, Port(8081)),
        ("port", "${env:P:8081}", {"P": "9000/udp"}, Port(9000, "UDP")),
        ("int", "${env:N:3}", {}, 3),
        ("bool", "${env:B}", {"B": "TRUE"}, True),
        ("double", "${env:D:0.5}", {}, 0.5),
        ("ranged_port", "${env:R:4000-4001}", {}, RangedPort((PortRange(4000, 4001),))),
    ],
)
def test_env_applies_to_every_xml_kind(
    kind: str, text: str, env: dict[str, str], expected: Any
) -> None:
    assert read_kind(kind, text, env) == expected


def test_env_in_the_version_attribute() -> None:
    assert load(server(version="${env:V:8}")).version == 8
    assert load(server(version="${env:V:8}"), {"V": "10"}).version == 10


def test_env_raw_value_kept_for_json() -> None:
    config = load(kind_xml("string", "${env:D:dflt}"), {"D": "real"})
    assert at(config.node, KIND_SITES["string"][1]) == Scalar("${env:D:dflt}", "real")


def test_ome_macros() -> None:
    subst = Substitution(environ={}, home="/opt/ome/bin", current_path="/work/")
    assert subst("${ome:Home}conf") == "/opt/ome/bin/conf"
    assert subst("${ome:CurrentPath}x") == "/work/x"
    assert subst("${ome:Other}") == "${ome:Other}"
    # Macros run after env: a variable may produce one.
    assert Substitution(environ={"A": "${ome:Home}"}, home="/h")("${env:A}") == "/h/"


def test_ome_macros_in_a_file() -> None:
    config = load(kind_xml("string", "${ome:CurrentPath}"))
    assert value_at(config, KIND_SITES["string"][1]) == os.getcwd().rstrip("/") + "/"
    config = load(kind_xml("string", "${ome:Home}"))
    assert value_at(config, KIND_SITES["string"][1]) == "/etc/"


TLS = "<Host><TLS><CertPath>%s</CertPath><KeyPath>/k.key</KeyPath></TLS></Host>"

RESOLVE = [
    ("cert.crt", f"{CONF_DIR}/cert.crt"),
    ("./cert.crt", f"{CONF_DIR}/./cert.crt"),
    ("../certs/c.pem", f"{CONF_DIR}/../certs/c.pem"),
    ("~/c.pem", f"{CONF_DIR}/~/c.pem"),
    ("/abs/c.pem", "/abs/c.pem"),
    ("${env:CERTS:/etc/ssl}/c.pem", "/etc/ssl/c.pem"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), RESOLVE)
def test_resolve_path(text: str, expected: str) -> None:
    config = load(server(vhost(TLS % text)))
    tls = config.virtual_hosts[0].host.tls  # type: ignore[union-attr]
    assert tls is not None
    assert tls.cert_path == expected
    assert tls.key_path == "/k.key"


@pytest.mark.parametrize(
    ("xml", "path"),
    [
        (
            server("<Managers><Host><TLS><KeyPath>k</KeyPath></TLS></Host></Managers>"),
            "Managers.Host.TLS.KeyPath",
        ),
        (
            server("<Managers><Host><TLS><ChainCertPath>k</ChainCertPath></TLS></Host></Managers>"),
            "Managers.Host.TLS.ChainCertPath",
        ),
        (
            server("<Managers><API><Storage><Path>k</Path></Storage></API></Managers>"),
            "Managers.API.Storage.Path",
        ),
        (server("<Alert><RulesFile>k</RulesFile></Alert>"), "Alert.RulesFile"),
    ],
)
def test_resolve_path_elements(xml: str, path: str) -> None:
    assert value_at(load(xml), path) == f"{CONF_DIR}/k"


def test_other_strings_are_not_resolved() -> None:
    assert read_kind("string", "rel/path") == "rel/path"


# --------------------------------------------------------------------------- §1.8 version


@pytest.mark.parametrize("version", ["8", "9", "10", "8.0", " 9", "10abc", "+8"])
def test_supported_versions(version: str) -> None:
    assert load(server(version=version)).version in (8, 9, 10)


OBTAIN = (
    "Could not obtain version in your XML. If you have upgraded OME, see "
    "misc/conf_examples/Server.xml"
)


@pytest.mark.parametrize("version", ["", "v8", "0", "abc", "x9", "99999999999"])
def test_version_not_obtained(version: str) -> None:
    exc = error(server(version=version))
    assert exc.text == OBTAIN
    assert exc.line == 1


@pytest.mark.parametrize("version", ["7", "1", "11", "-8", "2147483647"])
def test_version_outdated(version: str) -> None:
    lines = error(server(version=version)).text.splitlines()
    assert lines[0] == f"The version of Server.xml is outdated (Your XML version: {version})."
    assert lines[1] == "If you have upgraded OME, see misc/conf_examples/Server.xml"


def test_parse_errors_come_before_the_version_check() -> None:
    assert error(server("<Foo/>", version="7")).text == f"Unknown item found: Server.Foo in {FILE}"
    assert error(server(version=None)).text == "Server.version is not optional"


# ----------------------------------------------------------- duplicates, repeats, empties


def test_duplicate_virtual_host_names() -> None:
    xml = server(
        "<VirtualHosts><VirtualHost><Name>a</Name></VirtualHost><VirtualHost><Name>b</Name>"
        "</VirtualHost><VirtualHost><Name>a</Name></VirtualHost></VirtualHosts>"
    )
    assert error(xml).text == "Duplicate virtual host [a] found. Please check the settings."


def test_virtual_host_names_differing_in_case_are_distinct() -> None:
    xml = server(
        "<VirtualHosts><VirtualHost><Name>a</Name></VirtualHost><VirtualHost><Name>A</Name>"
        "</VirtualHost></VirtualHosts>"
    )
    assert [v.name for v in load(xml).virtual_hosts] == ["a", "A"]


@pytest.mark.parametrize(
    ("xml", "check"),
    [
        (server("<Name>one</Name><Name>two</Name>"), lambda c: c.name == "one"),
        (
            '<Server version="8"><Type>origin</Type><Type>bogus</Type><IP>*</IP><Bind/></Server>',
            lambda c: c.type == "origin",
        ),
        (
            server(
                vhost(
                    "<Host><Names><Name>first</Name></Names></Host>"
                    "<Host><Names><Name>second</Name></Names></Host>"
                )
            ),
            lambda c: c.virtual_hosts[0].host_names == ("first",),
        ),
        (
            # The dropped repeat is not even checked.
            server(bind="<Managers><API><Port>8081</Port><Port>bad</Port></API></Managers>"),
            lambda c: c.api_binding.port == Port(8081),
        ),
        (
            server(
                '<Managers><Host ignore="true"><Names><Name>a</Name></Names></Host>'
                "<Host><Names><Name>b</Name></Names></Host></Managers>"
            ),
            lambda c: c.managers.host.names == ("b",),
        ),
    ],
)
def test_repeated_non_list_element_first_wins(xml: str, check: Any) -> None:
    assert check(load(xml))


def test_lists_keep_document_order() -> None:
    config = load(
        '<Server version="8"><Type>origin</Type><IP>b</IP><IP>a</IP><IP>*</IP><Bind/></Server>'
    )
    assert config.ips == ("b", "a", "*")


@pytest.mark.parametrize("empty", ["<RTMP/>", "<RTMP></RTMP>", "<RTMP>\n  </RTMP>"])
def test_empty_element_is_present_with_defaults(empty: str) -> None:
    config = load(server(app(f"<Providers>{empty}</Providers>")))
    node = at(config.node, f"{APP}.Providers.RTMP")
    assert node == Item(node.spec, {})
    assert config.virtual_hosts[0].applications[0].to_json()["providers"] == {"rtmp": {}}


def test_absent_elements_are_not_in_the_tree() -> None:
    config = load(server(app()))
    assert at(config.node, APP).get("Providers") is None
    assert "providers" not in config.virtual_hosts[0].applications[0].to_json()


# ------------------------------------------------------------- §1.7 validation callbacks

VIDEO = "<Video><Name>v</Name><Codec>h264</Codec><Bitrate>1000</Bitrate>%s</Video>"
AUDIO = "<Audio><Name>a</Name><Codec>aac</Codec><Bitrate>128000</Bitrate>%s</Audio>"
IMAGE = "<Image><Name>i</Name><Codec>jpeg</Codec>%s</Image>"


def video(extra: str) -> str:
    return server(encodes(VIDEO % extra))


def bypass_if_match(tag: str, child: str, value: str) -> str:
    inner = {"Video": VIDEO, "Audio": AUDIO, "Image": IMAGE}[tag]
    return server(encodes(inner % f"<BypassIfMatch><{child}>{value}</{child}></BypassIfMatch>"))


def provider(name: str, inner: str) -> str:
    return server(app(f"<Providers><{name}>{inner}</{name}></Providers>"))


SUBTITLE = "<Rendition><Label>%s</Label><Language>en</Language></Rendition>"

CALLBACKS = [
    # (case id, xml, message or None when it loads)
    ("Server type", server(head="").replace(">origin<", ">Origin<"), "Unknown type: Origin"),
    ("Server type empty", server().replace(">origin<", "><"), "Unknown type: "),
    ("Server type edge", server().replace(">origin<", ">edge<"), None),
    ("App type", server(app(kind="LIVE")), "Unknown type: LIVE"),
    ("App type vod", server(app(kind="vod")), None),
    ("App type padded", server(app(kind=" live")), "Unknown type:  live"),
    # Encodes
    (
        "video codec absent",
        server(encodes("<Video><Bitrate>1</Bitrate></Video>")),
        "Codec must be specified when bypass is false",
    ),
    (
        "audio codec absent",
        server(encodes("<Audio><Bitrate>1</Bitrate></Audio>")),
        "Codec must be specified when bypass is false",
    ),
    (
        "video bitrate absent",
        server(encodes("<Video><Codec>h264</Codec></Video>")),
        "Bitrate must be specified when bypass is false",
    ),
    (
        "audio bitrate absent",
        server(encodes("<Audio><Codec>opus</Codec></Audio>")),
        "Bitrate must be specified when bypass is false",
    ),
    (
        "bypass needs neither",
        server(encodes("<Video><Bypass>true</Bypass></Video><Audio><Bypass>1</Bypass></Audio>")),
        None,
    ),
    (
        "bypass false explicit",
        server(encodes("<Video><Bypass>false</Bypass></Video>")),
        "Codec must be specified when bypass is false",
    ),
    (
        "bitrate zero",
        server(encodes("<Video><Codec>h264</Codec><Bitrate>0</Bitrate></Video>")),
        "Bitrate must be greater than 0",
    ),
    (
        "bitrate text",
        server(encodes("<Audio><Codec>aac</Codec><Bitrate>abc</Bitrate></Audio>")),
        "Bitrate must be greater than 0",
    ),
    (
        "bitrate K",
        server(encodes("<Video><Codec>h264</Codec><Bitrate>2500K</Bitrate></Video>")),
        None,
    ),
    (
        "bitrate m",
        server(encodes("<Video><Codec>h264</Codec><Bitrate>1.5m</Bitrate></Video>")),
        None,
    ),
    (
        "video SkipFrames high",
        video("<SkipFrames>121</SkipFrames>"),
        "SkipFrames must be between 0 and 120",
    ),
    (
        "video SkipFrames -1 written",
        video("<SkipFrames>-1</SkipFrames>"),
        "SkipFrames must be between 0 and 120",
    ),
    ("video SkipFrames 120", video("<SkipFrames>120</SkipFrames>"), None),
    (
        "image SkipFrames",
        server(encodes(IMAGE % "<SkipFrames>200</SkipFrames>")),
        "SkipFrames must be between 0 and 120",
    ),
    (
        "Preset",
        video("<Preset>ultrafast</Preset>"),
        "Preset must be slower, slow, medium, fast, or faster",
    ),
    ("Preset any case", video("<Preset>FAST</Preset>"), None),
    (
        "KeyFrameIntervalType",
        video("<KeyFrameIntervalType>gop</KeyFrameIntervalType>"),
        "KeyFrameIntervalType must be frame or time",
    ),
    (
        "KeyFrameIntervalType any case",
        video("<KeyFrameIntervalType>TIME</KeyFrameIntervalType>"),
        None,
    ),
    (
        "KeyFrameInterval frames",
        video("<KeyFrameInterval>601</KeyFrameInterval>"),
        "KeyFrameInterval must be between 0 and 600",
    ),
    ("KeyFrameInterval frames 0", video("<KeyFrameInterval>0</KeyFrameInterval>"), None),
    (
        "KeyFrameInterval time 0",
        video(
            "<KeyFrameIntervalType>time</KeyFrameIntervalType><KeyFrameInterval>0"
            "</KeyFrameInterval>"
        ),
        "KeyFrameInterval must be between 0 and 10000",
    ),
    (
        "KeyFrameInterval time high",
        video(
            "<KeyFrameIntervalType>time</KeyFrameIntervalType><KeyFrameInterval>10001"
            "</KeyFrameInterval>"
        ),
        "KeyFrameInterval must be between 0 and 10000",
    ),
    (
        "KeyFrameInterval time ok",
        video(
            "<KeyFrameInterval>2000</KeyFrameInterval><KeyFrameIntervalType>time"
            "</KeyFrameIntervalType>"
        ),
        None,
    ),
    (
        "KeyFrameInterval TIME is frames",
        video(
            "<KeyFrameIntervalType>TIME</KeyFrameIntervalType><KeyFrameInterval>2000"
            "</KeyFrameInterval>"
        ),
        "KeyFrameInterval must be between 0 and 600",
    ),
    ("BFrames", video("<BFrames>17</BFrames>"), "BFrames must be between 0 and 16"),
    ("BFrames negative", video("<BFrames>-1</BFrames>"), "BFrames must be between 0 and 16"),
    ("Profile", video("<Profile>extended</Profile>"), "Profile must be baseline, main or high"),
    ("Profile any case", video("<Profile>HIGH</Profile>"), None),
    *[
        (
            f"{tag} BypassIfMatch.Codec",
            bypass_if_match(tag, "Codec", "lte"),
            "BypassIfMatch.Codec must be specified only eq",
        )
        for tag in ("Video", "Audio", "Image")
    ],
    ("BypassIfMatch.Codec EQ", bypass_if_match("Audio", "Codec", "EQ"), None),
    *[
        (
            f"{tag} BypassIfMatch.Bitrate",
            bypass_if_match(tag, "Bitrate", "eq"),
            "BypassIfMatch.Bitrate is not yet supported",
        )
        for tag in ("Video", "Audio", "Image")
    ],
    (
        "BypassIfMatch.SAR",
        bypass_if_match("Video", "SAR", "gte"),
        "BypassIfMatch.SAR must specified only one of eq",
    ),
    *[
        (
            f"BypassIfMatch.{child}",
            bypass_if_match("Video", child, "ne"),
            f"BypassIfMatch.{child} must specified only one of eq, lte, gte",
        )
        for child in ("Framerate", "Width", "Height", "Samplerate", "Channel")
    ],
    ("BypassIfMatch.Width LTE", bypass_if_match("Image", "Width", "LTE"), None),
    # Playlists
    (
        "duplicate playlist file name",
        server(
            profile(
                "<Playlist><FileName>m</FileName></Playlist>"
                "<Playlist><FileName>m</FileName></Playlist>"
            )
        ),
        "Duplicate playlist file name: m",
    ),
    (
        "rendition names an unknown encode",
        server(
            profile(
                "<Encodes>" + VIDEO % "" + "</Encodes><Playlist><FileName>m</FileName>"
                "<Rendition><Name>r</Name><Video>nope</Video></Rendition></Playlist>"
            )
        ),
        "Playlist Error",
    ),
    (
        "rendition audio unknown",
        server(
            profile(
                "<Encodes>" + AUDIO % "" + "</Encodes><Playlist><FileName>m</FileName>"
                "<Rendition><Name>r</Name><Audio>v</Audio></Rendition></Playlist>"
            )
        ),
        "Playlist Error",
    ),
    (
        "rendition names a derived encode name",
        server(
            profile(
                "<Encodes><Video><Bypass>true</Bypass></Video><Video><Bypass>true</Bypass>"
                "</Video><Audio><Name>a</Name><Bypass>true</Bypass></Audio><Audio><Bypass>"
                "true</Bypass></Audio></Encodes><Playlist><FileName>m</FileName><Rendition>"
                "<Name>r</Name><Video>video_1</Video><Audio>audio_0</Audio></Rendition>"
                "</Playlist>"
            )
        ),
        None,
    ),
    (
        "duplicate rendition name",
        server(
            profile(
                "<Encodes>" + VIDEO % "" + "</Encodes><Playlist><FileName>m</FileName>"
                "<Rendition><Name>r</Name><Video>v</Video></Rendition>"
                "<Rendition><Name>r</Name><Video>v</Video></Rendition></Playlist>"
            )
        ),
        "Duplicate rendition name: r",
    ),
    (
        "EncodingType",
        server(
            profile(
                "<Playlist><FileName>m</FileName><RenditionTemplate><Name>t</Name>"
                "<VideoTemplate><EncodingType>ALL</EncodingType></VideoTemplate>"
                "</RenditionTemplate></Playlist>"
            )
        ),
        "Invalid EncodingType: ALL (all, encoded, bypassed)",
    ),
    (
        "audio EncodingType",
        server(
            profile(
                "<Playlist><FileName>m</FileName><RenditionTemplate><Name>t</Name>"
                "<AudioTemplate><EncodingType>some</EncodingType></AudioTemplate>"
                "</RenditionTemplate></Playlist>"
            )
        ),
        "Invalid EncodingType: some (all, encoded, bypassed)",
    ),
    # Subtitles
    (
        "subtitles enabled without renditions",
        server(
            app(
                "<OutputProfiles><MediaOptions><Subtitles><Enable>true</Enable></Subtitles>"
                "</MediaOptions></OutputProfiles>"
            )
        ),
        "Subtitle is enabled but no renditions are defined",
    ),
    (
        "subtitles default label unknown",
        server(
            app(
                "<OutputProfiles><MediaOptions><Subtitles><Enable>true</Enable><DefaultLabel>x"
                "</DefaultLabel>" + SUBTITLE % "en" + "</Subtitles></MediaOptions>"
                "</OutputProfiles>"
            )
        ),
        "Default label 'x' not found in subtitle renditions",
    ),
    (
        "subtitles ok",
        server(
            app(
                "<OutputProfiles><MediaOptions><Subtitles><Enable>true</Enable><DefaultLabel>en"
                "</DefaultLabel>" + SUBTITLE % "en" + "</Subtitles></MediaOptions>"
                "</OutputProfiles>"
            )
        ),
        None,
    ),
    # Redis
    (
        "redis host without port",
        server(
            vhost("<OriginMapStore><RedisServer><Host>redis</Host></RedisServer></OriginMapStore>")
        ),
        "Invalid host format redis > it must be host:port",
    ),
    (
        "redis host two colons",
        server(
            vhost("<OriginMapStore><RedisServer><Host>a:1:2</Host></RedisServer></OriginMapStore>")
        ),
        "Invalid host format a:1:2 > it must be host:port",
    ),
    (
        "redis host ok",
        server(
            vhost(
                "<OriginMapStore><RedisServer><Host>redis:6379</Host></RedisServer>"
                "</OriginMapStore>"
            )
        ),
        None,
    ),
    # Alert
    (
        "alert MinBitrate",
        server("<Alert><Rules><Ingress><MinBitrate>0</MinBitrate></Ingress></Rules></Alert>"),
        "MinBitrate must be greater than 0",
    ),
    (
        "alert MaxBitrate",
        server("<Alert><Rules><Ingress><MaxBitrate>-1K</MaxBitrate></Ingress></Rules></Alert>"),
        "MaxBitrate must be greater than 0",
    ),
    # Providers and publishers
    (
        "TimestampMode",
        provider("RTMP", "<TimestampMode>auto</TimestampMode>"),
        "Invalid TimestampMode value: auto (expected: ZeroBased, Original)",
    ),
    ("TimestampMode any case", provider("SRT", "<TimestampMode>zerobased</TimestampMode>"), None),
    *[
        (
            f"PacketSilenceTimeoutMs on {p}",
            provider(p, "<PacketSilenceTimeoutMs>1000</PacketSilenceTimeoutMs>"),
            f"PacketSilenceTimeoutMs is not supported for this provider type: {p}",
        )
        for p in ("RTSPPull", "RTSP", "OVT", "FILE", "Schedule")
    ],
    (
        "PacketSilenceTimeoutMs on RTMP",
        provider("RTMP", "<PacketSilenceTimeoutMs>1000</PacketSilenceTimeoutMs>"),
        None,
    ),
    (
        "BandwidthEstimation",
        server(
            app(
                "<Publishers><WebRTC><BandwidthEstimation>TransportCC</BandwidthEstimation>"
                "</WebRTC></Publishers>"
            )
        ),
        "Invalid value for BWE. Valid values are 'TransportCC' or 'REMB'",
    ),
    (
        "BandwidthEstimation remb",
        server(
            app(
                "<Publishers><WebRTC><BandwidthEstimation>remb</BandwidthEstimation>"
                "</WebRTC></Publishers>"
            )
        ),
        None,
    ),
]


@pytest.mark.parametrize(("xml", "message"), [pytest.param(x, m, id=i) for i, x, m in CALLBACKS])
def test_validation_callbacks(xml: str, message: str | None) -> None:
    if message is None:
        load(xml)
    else:
        exc = error(xml)
        assert exc.text == message
        assert exc.path  # the path is kept beside the message, never inside it


@pytest.mark.parametrize(
    "flag",
    [
        "Ingress.StreamStatus",
        "Ingress.LongKeyFrameInterval",
        "Ingress.HasBFrames",
        "Egress.StreamStatus",
        "Egress.LLHLSReady",
        "Egress.HLSReady",
        "Egress.TranscodeStatus",
        "InternalQueueCongestion",
    ],
)
def test_alert_flags_are_true_when_present(flag: str) -> None:
    group, _, name = flag.rpartition(".")
    inner = f"<{name}>false</{name}>"
    if group:
        inner = f"<{group}>{inner}</{group}>"
    config = load(server(f"<Alert><Rules>{inner}</Rules></Alert>"))
    assert value_at(config, f"Alert.Rules.{flag}") is True
    assert at(config.node, f"Alert.Rules.{flag}").raw == "false"


def test_callbacks_see_siblings_in_registration_order() -> None:
    # KeyFrameIntervalType is registered before KeyFrameInterval: the document order of the
    # two elements does not matter.
    load(
        video(
            "<KeyFrameInterval>5000</KeyFrameInterval>"
            "<KeyFrameIntervalType>time</KeyFrameIntervalType>"
        )
    )


def test_config_message_adds_the_prefix() -> None:
    exc = error(server(app(kind="x")))
    assert exc.message == "[Config] Unknown type: x"
