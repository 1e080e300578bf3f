"""Hypothesis strategies for testing an OME REST API and what embeds it (public).

Each strategy is a plain function returning a :class:`hypothesis.strategies.SearchStrategy`,
named after what it draws.  They are omeapi's own test strategies: the test-suite imports
them from here, so what a host project draws is what omeapi is tested with.

Groups:

* **Header text, origins and CORS patterns**: :func:`any_header_value`, :func:`origins`,
  :func:`well_formed_origins`, :func:`cors_patterns`, :func:`cors_url_lists`,
  :func:`pattern_instances`, :func:`near_instances`, :func:`grouped_patterns` (the patterns
  the linear-time automaton decides), and :func:`cors_cases` (a ``<CrossDomains>`` Url list
  with an Origin it must accept or refuse, as a :class:`CorsCase`).
* **Access tokens and Authorization values**: :func:`tokens`, :func:`basic_spellings`,
  :func:`authorization_values` (anything a client may send), :func:`valid_authorization`
  and :func:`authorization_cases` (a header with the answer it must get: :class:`AuthCase`).
* **Host headers and host-name patterns**: :func:`host_headers`, :func:`host_patterns`,
  :func:`dns_names`.
* **Server.xml configs**: :func:`server_xml` (XML text), :func:`server_configs` (parsed
  :class:`~omeapi.ServerConfig` objects), and the pieces they are made of
  (:func:`virtual_host_xml`, :func:`application_xml`, :func:`output_profile_xml`, …).
* **REST bodies** as OME clients send them: :func:`virtual_host_json`,
  :func:`application_json`, :func:`output_profile_json`, :func:`cross_domains_json` (valid),
  and their near misses with the answer each must get (:class:`NearMiss`):
  :func:`invalid_virtual_host_json`, :func:`invalid_application_json`,
  :func:`invalid_app_patch_json`, :func:`invalid_output_profile_json`.

Only hypothesis and omeapi are imported; install them with ``pip install omeapi[testing]``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import strategies as st

from omeapi._config import ServerConfig, parse_server_xml

__all__ = [
    "any_header_value",
    "authorization_values",
    "basic_spellings",
    "cors_patterns",
    "cors_url_lists",
    "dns_names",
    "grouped_patterns",
    "host_headers",
    "host_patterns",
    "near_instances",
    "origins",
    "pattern_instances",
    "pattern_text",
    "schemeless_host_patterns",
    "tokens",
    "well_formed_origins",
]

# ---------------------------------------------------------------------------------------------
# Header text in general


def any_header_value() -> st.SearchStrategy[str | None]:
    """Any text a header could be given as (absent, empty, controls, non-ASCII, surrogates)."""
    return st.none() | st.text() | st.text(alphabet=st.characters(codec="latin-1"))


# ---------------------------------------------------------------------------------------------
# Origins and CORS patterns

_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def dns_names(max_labels: int = 4) -> st.SearchStrategy[str]:
    """Lower-case DNS-like host names (``a.b-c.d``)."""
    label = st.text(alphabet=_LABEL_CHARS, min_size=1, max_size=8)
    return st.lists(label, min_size=1, max_size=max_labels).map(".".join)


def well_formed_origins(
    schemes: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[str]:
    """``scheme://host[:port]`` origins, host a DNS name, an IPv4 or an IPv6 literal."""
    scheme = schemes if schemes is not None else st.sampled_from(["http", "https", "httpx", "ftp"])
    host = (
        dns_names()
        | st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[2001:db8::1]"])
        | st.sampled_from(["a.example.com", "x.sub.example.org", "ome.test", "airensoft.com"])
    )
    port = st.none() | st.integers(min_value=0, max_value=65535).map(str)
    return st.builds(
        lambda s, h, p: f"{s}://{h}" if p is None else f"{s}://{h}:{p}", scheme, host, port
    )


def origins() -> st.SearchStrategy[str]:
    """Origin header values: mostly well formed, plus ``null``, bare hosts, paths and junk."""
    return st.one_of(
        well_formed_origins(),
        st.just("null"),
        dns_names(),
        st.builds(lambda o, p: o + p, well_formed_origins(), st.sampled_from(["/", "/x", "?q"])),
        st.text(alphabet="htps:/.*?()[]a-1 \t\n", max_size=20),
        st.text(max_size=20),
    )


_PATTERN_CHARS = "abcxyz019-.:/*?()[]\\+{}$^|"


def pattern_text() -> st.SearchStrategy[str]:
    """Text over the characters that matter to OME's wildcard patterns (balanced or not)."""
    return st.text(alphabet=_PATTERN_CHARS, max_size=16)


def cors_patterns() -> st.SearchStrategy[str]:
    """``<Url>`` entries other than ``*`` and ``null``: host-like wildcards and raw pattern text."""
    wild_label = st.text(alphabet="abcxyz019-*?", min_size=1, max_size=6)
    host_like = st.lists(wild_label, min_size=1, max_size=4).map(".".join)
    with_scheme = st.builds(
        lambda s, h: s + h, st.sampled_from(["http://", "https://", "http?://", "*://"]), host_like
    )
    with_port = st.builds(lambda h, p: f"{h}:{p}", host_like, st.sampled_from(["80", "3000", "*"]))
    return st.one_of(host_like, with_scheme, with_port, pattern_text()).filter(
        lambda p: p not in ("*", "null")
    )


def schemeless_host_patterns() -> st.SearchStrategy[str]:
    """Scheme-less patterns that cannot match across ``://`` of an ``http(s)`` origin.

    They start with a literal character other than ``h``, so the wildcard body alone can never
    match an origin that starts with ``http``: for these OME's optional ``(http.?://)?`` prefix
    is exactly "with or without ``http://`` / ``https://``".
    """
    first = st.sampled_from("abcxyz019")
    rest = st.text(alphabet="abchxyz019-.*?:", max_size=12)
    return st.builds(lambda f, r: f + r, first, rest)


@st.composite
def _instances(draw: st.DrawFn, pattern: str, schemes: tuple[str, ...]) -> str:
    filler = st.text(alphabet="abcxyz019-.", max_size=5)
    out = []
    for c in pattern:
        if c == "*":
            out.append(draw(filler))
        elif c == "?":
            out.append(draw(filler.map(lambda f: f[:1])))
        elif c not in "()":
            out.append(c)
    text = "".join(out)
    return text if "://" in pattern else draw(st.sampled_from(schemes)) + text


def pattern_instances(
    pattern: str, schemes: tuple[str, ...] = ("http://", "https://", "httpx://", "")
) -> st.SearchStrategy[str]:
    """Text ``pattern`` is likely to accept: each ``*`` / ``?`` filled in, parentheses dropped,
    and one of ``schemes`` put in front of a pattern without ``://``."""
    return _instances(pattern, schemes)


#: Characters OME backslash-escapes in a pattern (all but ``[`` and ``\\`` may be in an Origin).
_ESCAPED_CHARS = "./+{}$^|[\\"


@st.composite
def _grouped(draw: st.DrawFn, literals: str) -> str:
    literal = st.text(alphabet=literals, max_size=4)
    # Every wildcard holds a `*`, so at least two of them take the automaton path.
    wild = st.sampled_from(["*", "*", "*?", "??*"])
    pairs = draw(st.lists(st.tuples(literal, wild), min_size=2, max_size=4))
    parts = [part for pair in pairs for part in pair]
    parts.append(draw(literal))
    start = draw(st.integers(0, len(parts)))
    end = draw(st.integers(start, len(parts)))
    parts.insert(end, ")")
    parts.insert(start, "(")
    return "".join(parts)


def grouped_patterns(literals: str = "abx0-:" + _ESCAPED_CHARS) -> st.SearchStrategy[str]:
    """Patterns with one balanced group, two or more ``*`` and literal characters drawn from
    ``literals`` (by default including every character OME escapes).

    Such a pattern is too costly for a backtracking regex engine, so omeapi decides it with
    its linear-time automaton: these are the patterns that test that path.
    """
    return _grouped(literals)


@st.composite
def _near(draw: st.DrawFn, pattern: str, schemes: tuple[str, ...]) -> str:
    text = draw(pattern_instances(pattern, schemes))
    if not text or draw(st.booleans()):
        return text
    at = draw(st.integers(0, len(text) - 1))
    instead = draw(st.sampled_from(["", "X", ".", text[at] * 2]))
    return text[:at] + instead + text[at + 1 :]


def near_instances(
    pattern: str, schemes: tuple[str, ...] = ("http://", "https://", "httpx://", "")
) -> st.SearchStrategy[str]:
    """:func:`pattern_instances`, half of them with one character replaced, dropped or
    doubled: the near misses a pattern must refuse (a ``.`` that became an ``X``)."""
    return _near(pattern, schemes)


def cors_url_lists() -> st.SearchStrategy[list[str]]:
    """Whole ``<Url>`` lists, sometimes with ``*`` or ``null`` mixed in."""
    entry = cors_patterns() | st.sampled_from(["*", "null"])
    return st.lists(entry, max_size=6)


# ---------------------------------------------------------------------------------------------
# Access tokens and Authorization values


def tokens() -> st.SearchStrategy[str]:
    """Non-empty access tokens: ASCII, ``user:password`` forms, any non-ASCII text."""
    return st.one_of(
        st.text(min_size=1),
        st.text(alphabet="abcXYZ019-_.~!:@ ", min_size=1, max_size=40),
        st.builds(lambda u, p: f"{u}:{p}", st.text(max_size=10), st.text(max_size=10)),
    )


def basic_spellings() -> st.SearchStrategy[str]:
    """``Basic`` in any ASCII case."""
    return st.lists(st.booleans(), min_size=5, max_size=5).map(
        lambda caps: "".join(c.upper() if u else c for c, u in zip("basic", caps, strict=True))
    )


def authorization_values() -> st.SearchStrategy[str | None]:
    """Authorization header values: well-formed Basic, near misses and arbitrary text."""
    b64 = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
    return st.one_of(
        st.none(),
        st.builds(lambda s, c: f"{s} {c}", basic_spellings(), b64),
        st.builds(lambda s, c: f"{s} {c.rstrip('=')}", basic_spellings(), b64),
        st.builds(lambda s, c: f"{s} {c}", st.text(max_size=8), st.text(max_size=30)),
        st.builds(lambda s, c: f"Basic {c}", st.just(""), st.text(max_size=30)),
        st.text(alphabet=" \tBasic=+/AZaz09!", max_size=30),
        any_header_value(),
    )


# ---------------------------------------------------------------------------------------------
# Host headers and host-name patterns


def host_headers() -> st.SearchStrategy[str]:
    """Host header values: names with ports, userinfo, IPv6 literals and junk."""
    host = dns_names() | st.sampled_from(["[::1]", "127.0.0.1", "Example.COM", ""])
    port = st.sampled_from(["", ":80", ":8081", ":", ":x"])
    userinfo = st.sampled_from(["", "user@", "user:pass@"])
    return st.builds(lambda u, h, p: u + h + p, userinfo, host, port) | st.text(max_size=20)


def host_patterns() -> st.SearchStrategy[str]:
    """``<Host><Names><Name>`` entries: host-like wildcards and raw pattern text."""
    wild_label = st.text(alphabet="abcxyz019-*?", min_size=1, max_size=6)
    host_like = st.lists(wild_label, min_size=1, max_size=4).map(".".join)
    return host_like | pattern_text() | st.sampled_from(["*", "[::1]", "localhost"])


# ---------------------------------------------------------------------------------------------
# Server.xml configs (XML text) and REST bodies (JSON values) for vhosts, apps and profiles.
# Values are random but valid: every drawn config loads, so round trips can be checked.

_XML_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"))


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def config_text(max_size: int = 12) -> st.SearchStrategy[str]:
    """Free text for a String element (raw, unescaped): words, blanks, ``${…}`` forms."""
    return st.one_of(
        st.text(_XML_CHARS, max_size=max_size),
        st.text(alphabet="abcxyz019 -_./:*?", min_size=1, max_size=max_size),
        st.sampled_from(
            ["${OriginStreamName}", "${env:OMEAPI_T:dflt}", "${env:OMEAPI_UNSET}", " * "]
        ),
    )


def _int_text(low: int, high: int) -> st.SearchStrategy[str]:
    plain = st.integers(low, high).map(str)
    return plain | st.builds(
        lambda n, pad, tail: f"{pad}{n}{tail}",
        plain,
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["", "ms", ".0"]),
    )


def _bool_text() -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "false", "TRUE", "False", "1", "0", "yes", " true", ""])


def _double_text() -> st.SearchStrategy[str]:
    finite = st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False)
    return finite.map(repr) | st.sampled_from(["0.5", "6", "1e1", " 2.5", "abc", ""])


def port_text(
    protocols: tuple[str, ...] = ("", "/tcp", "/TCP", "/udp", "/srt"),
) -> st.SearchStrategy[str]:
    """A valid single port (``8081``, ``8081/tcp``)."""
    return st.builds(lambda n, p: f"{n}{p}", st.integers(1, 65535), st.sampled_from(protocols))


def ranged_port_text() -> st.SearchStrategy[str]:
    """A valid port list (``4000-4003,4010/udp``)."""
    piece = st.integers(1, 65000).flatmap(lambda a: st.sampled_from([str(a), f"{a}-{a + 3}"]))
    return st.builds(
        lambda ps, p: ",".join(ps) + p,
        st.lists(piece, min_size=1, max_size=3),
        st.sampled_from(["", "/udp", "/tcp"]),
    )


def _el(tag: str, inner: str) -> str:
    return f"<{tag}>{inner}</{tag}>"


def _text_el(tag: str, text: str) -> str:
    return _el(tag, _xml_escape(text))


@st.composite
def _optional(draw: st.DrawFn, tag: str, strategy: st.SearchStrategy[str]) -> str:
    """``<tag>escaped text</tag>`` or nothing."""
    if draw(st.booleans()):
        return _text_el(tag, draw(strategy))
    return ""


@st.composite
def cross_domains_xml(draw: st.DrawFn) -> str:
    """A ``<CrossDomains>`` block: Url patterns and custom headers."""
    urls = draw(st.lists(cors_patterns() | st.just("*"), max_size=3))
    headers = draw(st.lists(st.tuples(config_text(8), config_text(8)), max_size=2))
    inner = "".join(_text_el("Url", u) for u in urls)
    inner += "".join(_el("Header", _text_el("Key", k) + _text_el("Value", v)) for k, v in headers)
    return _el("CrossDomains", inner)


@st.composite
def host_xml(draw: st.DrawFn) -> str:
    """A ``<Host>``: Names (possibly empty or absent) and an optional TLS with absolute paths."""
    inner = ""
    if draw(st.booleans()):
        names = draw(st.lists(host_patterns(), max_size=3))
        inner += _el("Names", "".join(_text_el("Name", n) for n in names))
    if draw(st.booleans()):
        inner += _el(
            "TLS",
            _text_el("CertPath", "/etc/ssl/" + draw(dns_names(2)) + ".crt")
            + _text_el("KeyPath", "/etc/ssl/k.key")
            + draw(_optional("ChainCertPath", st.just("/etc/ssl/chain.pem"))),
        )
    return _el("Host", inner)


@st.composite
def encodes_xml(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    """``<Encodes>`` with valid videos and audios, and the names a rendition may use."""
    videos: list[str] = []
    audios: list[str] = []
    inner = ""
    for index in range(draw(st.integers(0, 2))):
        name = f"video_{index}"
        videos.append(name)
        if draw(st.booleans()):
            inner += _el("Video", _text_el("Name", name) + _text_el("Bypass", "true"))
            continue
        inner += _el(
            "Video",
            _text_el("Name", name)
            + _text_el("Codec", draw(st.sampled_from(["h264", "h265", "vp8"])))
            + _text_el("Bitrate", draw(st.sampled_from(["2500K", "1M", "500000", "1.5m"])))
            + draw(_optional("Width", _int_text(0, 4096)))
            + draw(_optional("Framerate", _double_text()))
            + draw(_optional("Preset", st.sampled_from(["faster", "SLOW", "medium"])))
            + draw(_optional("SkipFrames", st.integers(0, 120).map(str)))
            + draw(_optional("BFrames", st.integers(0, 16).map(str)))
            + draw(_optional("KeyFrameInterval", st.integers(0, 600).map(str))),
        )
    for index in range(draw(st.integers(0, 2))):
        name = f"audio_{index}"
        audios.append(name)
        inner += _el(
            "Audio",
            _text_el("Name", name)
            + _text_el("Codec", draw(st.sampled_from(["aac", "opus"])))
            + _text_el("Bitrate", "128000")
            + draw(_optional("Samplerate", st.sampled_from(["48000", "44100"])))
            + draw(_optional("Channel", _int_text(1, 2)))
            + (_el("BypassIfMatch", _text_el("Codec", "eq")) if draw(st.booleans()) else ""),
        )
    return _el("Encodes", inner), videos, audios


@st.composite
def output_profile_xml(draw: st.DrawFn, name: str) -> str:
    """One ``<OutputProfile>`` with encodes and playlists whose renditions name them."""
    encodes, videos, audios = draw(encodes_xml())
    inner = _text_el("Name", name) + _text_el("OutputStreamName", draw(config_text()))
    inner += encodes
    for index in range(draw(st.integers(0, 2))):
        renditions = ""
        for r in range(draw(st.integers(0, 2))):
            renditions += _el(
                "Rendition",
                _text_el("Name", f"r{r}")
                + (_text_el("Video", draw(st.sampled_from(videos))) if videos else "")
                + (_text_el("Audio", draw(st.sampled_from(audios))) if audios else ""),
            )
        inner += _el(
            "Playlist",
            draw(_optional("Name", config_text()))
            + _text_el("FileName", f"playlist{index}")
            + draw(_optional("Options", st.just("")))
            + renditions,
        )
    return _el("OutputProfile", inner)


_PROVIDERS = ("RTMP", "RTSPPull", "OVT", "SRT", "WebRTC", "MPEGTS")
_PUBLISHERS = ("WebRTC", "LLHLS", "HLS", "OVT")


@st.composite
def application_xml(draw: st.DrawFn, name: str) -> str:
    """One ``<Application>`` with output profiles, providers and publishers."""
    inner = _text_el("Name", name) + _text_el("Type", draw(st.sampled_from(["live", "vod"])))
    if draw(st.booleans()):
        count = draw(st.integers(0, 2))
        profiles = "".join(draw(output_profile_xml(f"profile{i}")) for i in range(count))
        inner += _el("OutputProfiles", profiles)
    if draw(st.booleans()):
        providers = ""
        for provider in draw(st.lists(st.sampled_from(_PROVIDERS), unique=True, max_size=4)):
            body = ""
            if provider == "WebRTC" and draw(st.booleans()):
                body = draw(_optional("Timeout", _int_text(0, 60000))) + draw(cross_domains_xml())
            elif provider == "MPEGTS":
                body = _el(
                    "StreamMap",
                    _el(
                        "Stream", _text_el("Name", "s") + _text_el("Port", draw(ranged_port_text()))
                    ),
                )
            elif provider == "RTMP":
                body = draw(_optional("TimestampMode", st.sampled_from(["ZeroBased", "original"])))
            providers += _el(provider, body)
        inner += _el("Providers", providers)
    if draw(st.booleans()):
        publishers = draw(_optional("AppWorkerCount", _int_text(1, 8)))
        for publisher in draw(st.lists(st.sampled_from(_PUBLISHERS), unique=True, max_size=3)):
            body = ""
            if publisher == "LLHLS":
                body = (
                    draw(_optional("ChunkDuration", _double_text()))
                    + draw(_optional("SegmentCount", _int_text(1, 20)))
                    + draw(_optional("OriginMode", _bool_text()))
                    + (draw(cross_domains_xml()) if draw(st.booleans()) else "")
                )
            publishers += _el(publisher, body)
        inner += _el("Publishers", publishers)
    return _el("Application", inner)


@st.composite
def virtual_host_xml(draw: st.DrawFn, name: str) -> str:
    """One ``<VirtualHost>`` with host names, origins, CORS and applications."""
    inner = _text_el("Name", name) + draw(_optional("Distribution", config_text()))
    if draw(st.booleans()):
        inner += draw(host_xml())
    if draw(st.booleans()):
        origins = "".join(
            _el(
                "Origin",
                _text_el("Location", f"/app{i}")
                + _el(
                    "Pass",
                    _text_el("Scheme", draw(st.sampled_from(["ovt", "rtsp", "http"])))
                    + _el("Urls", _text_el("Url", draw(dns_names()) + ":9000/app"))
                    + draw(_optional("ForwardQueryParams", _bool_text())),
                )
                + draw(_optional("Persistent", _bool_text())),
            )
            for i in range(draw(st.integers(0, 2)))
        )
        properties = draw(_optional("RetryCount", _int_text(0, 10)))
        inner += _el("Origins", origins + (_el("Properties", properties) if properties else ""))
    if draw(st.booleans()):
        inner += draw(cross_domains_xml())
    count = draw(st.integers(0, 2))
    if count or draw(st.booleans()):
        apps = "".join(draw(application_xml(f"app{i}")) for i in range(count))
        inner += _el("Applications", apps)
    return _el("VirtualHost", inner)


@st.composite
def server_xml(draw: st.DrawFn, max_vhosts: int = 2) -> str:
    """A whole valid Server.xml as text."""
    version = draw(st.sampled_from(["8", "9", "10", "${env:OMEAPI_VERSION:8}"]))
    ips = draw(
        st.lists(
            st.sampled_from(["*", "::", "127.0.0.1", "${env:OMEAPI_IP:*}"]), min_size=1, max_size=2
        )
    )
    inner = draw(_optional("Name", config_text()))
    inner += _text_el("Type", draw(st.sampled_from(["origin", "edge"])))
    inner += "".join(_text_el("IP", ip) for ip in ips)
    inner += draw(_optional("PrivacyProtection", _bool_text()))
    bind = ""
    if draw(st.booleans()):
        api = draw(_optional("Port", port_text())) + draw(_optional("TLSPort", port_text()))
        api += draw(_optional("WorkerCount", _int_text(0, 16)))
        bind += _el("Managers", _el("API", api))
    if draw(st.booleans()):
        bind += _el(
            "Providers",
            _el("RTMP", draw(_optional("Port", port_text(("", "/tcp")))))
            + _el("MPEGTS", _text_el("Port", draw(ranged_port_text()))),
        )
    inner += _el("Bind", bind)
    if draw(st.booleans()):
        inner += _el("Modules", _el("HTTP2", draw(_optional("Enable", _bool_text()))))
    if draw(st.booleans()):
        managers = draw(host_xml()) if draw(st.booleans()) else ""
        api = draw(_optional("AccessToken", config_text()))
        if draw(st.booleans()):
            api += draw(cross_domains_xml())
        managers += _el("API", api)
        inner += _el("Managers", managers)
    if draw(st.booleans()):
        inner += _el("Defaults", draw(cross_domains_xml()))
    count = draw(st.integers(0, max_vhosts))
    if count or draw(st.booleans()):
        vhosts = "".join(draw(virtual_host_xml(f"vhost{i}")) for i in range(count))
        inner += _el("VirtualHosts", vhosts)
    return f'<Server version="{version}">{inner}</Server>'


# REST bodies: JSON values as a client sends them (typed or as strings).

_JSON_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)


def _json_int(low: int, high: int) -> st.SearchStrategy[object]:
    return st.integers(low, high) | st.integers(low, high).map(str)


def _json_bool() -> st.SearchStrategy[object]:
    return st.booleans() | st.sampled_from(["true", "FALSE", "1", "0"])


@st.composite
def _some(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[object]]) -> dict[str, object]:
    """A random subset of ``fields``, each drawn."""
    return {k: draw(v) for k, v in fields.items() if draw(st.booleans())}


def cross_domains_json() -> st.SearchStrategy[dict[str, object]]:
    """``{"urls": [...], "headers": [{"key", "value"}]}`` (either part may be absent)."""
    header = st.fixed_dictionaries({"key": _JSON_TEXT, "value": _JSON_TEXT})
    return _some(
        {
            "urls": st.lists(cors_patterns(), min_size=1, max_size=3),
            "headers": st.lists(header, min_size=1, max_size=2),
        }
    )


@st.composite
def output_profile_json(
    draw: st.DrawFn, name: str | None = None, *, min_encodes: int = 0
) -> dict[str, object]:
    """An output profile body: name, outputStreamName, encodes (bypass or typed values).

    ``encodes`` may be empty, as an app's config allows; ``POST …/outputProfiles`` wants at
    least one encode: draw those with ``min_encodes=1``."""
    video = st.one_of(
        st.fixed_dictionaries(
            {"name": st.just("bypass_video"), "bypass": st.sampled_from([True, "true"])}
        ),
        st.fixed_dictionaries(
            {
                "name": st.just("video"),
                "codec": st.just("h264"),
                "bitrate": st.sampled_from([2500000, "2500K", "1M"]),
            },
            optional={
                "width": _json_int(0, 4096),
                "framerate": st.sampled_from([30, 29.97, "25"]),
                "preset": st.sampled_from(["faster", "slow"]),
            },
        ),
    )
    audio = st.fixed_dictionaries(
        {
            "name": st.just("aac"),
            "codec": st.just("aac"),
            "bitrate": st.sampled_from([128000, "128K"]),
        },
        optional={
            "samplerate": _json_int(8000, 48000),
            "channel": _json_int(1, 2),
            "bypassIfMatch": st.just({"codec": "eq"}),
        },
    )
    encodes = draw(
        _some(
            {
                "videos": st.lists(video, min_size=1, max_size=1),
                "audios": st.lists(audio, min_size=1, max_size=1),
            }
        )
    )
    if len(encodes) < min_encodes:
        encodes["videos"] = [draw(video)]
    body: dict[str, object] = {
        "name": name if name is not None else draw(st.text("abcdef_", min_size=1, max_size=8)),
        "outputStreamName": draw(
            st.sampled_from(["${OriginStreamName}", "out", "${OriginStreamName}_x"])
        ),
        "encodes": encodes,
    }
    return body


@st.composite
def application_json(draw: st.DrawFn) -> dict[str, object]:
    """An application body as ``POST …/apps`` takes it (without ``dynamic``)."""
    body: dict[str, object] = {
        "name": draw(st.text("abcxyz0189_-", min_size=1, max_size=8)),
        "type": draw(st.sampled_from(["live", "vod"])),
    }
    if draw(st.booleans()):
        count = draw(st.integers(1, 2))
        body["outputProfiles"] = {
            "outputProfile": [draw(output_profile_json(f"p{i}")) for i in range(count)]
        }
    if draw(st.booleans()):
        body["providers"] = draw(
            _some(
                {
                    "ovt": st.just({}),
                    "rtmp": st.just({}),
                    "srt": st.just({}),
                    "webrtc": _some(
                        {"timeout": _json_int(0, 60000), "crossDomains": cross_domains_json()}
                    ),
                    "rtspPull": st.just({}),
                }
            )
        )
    if draw(st.booleans()):
        body["publishers"] = draw(
            _some(
                {
                    "appWorkerCount": _json_int(1, 8),
                    "ovt": st.just({}),
                    "webrtc": st.just({}),
                    "llhls": _some(
                        {
                            "chunkDuration": st.sampled_from([0.5, 1, "0.5"]),
                            "originMode": _json_bool(),
                            "crossDomains": cross_domains_json(),
                        }
                    ),
                }
            )
        )
    return body


@st.composite
def virtual_host_json(draw: st.DrawFn, *, tls: bool = True) -> dict[str, object]:
    """A vhost body as ``POST /v1/vhosts`` takes it; names in either list form.

    With ``tls`` a body may name certificate files (which do not exist: omeapi refuses to
    create such a vhost, so API tests that expect it to be created pass ``tls=False``).
    """
    body: dict[str, object] = {"name": draw(st.text("abcxyz0189_-.", min_size=1, max_size=10))}
    if draw(st.booleans()):
        body["distribution"] = draw(_JSON_TEXT)
    if draw(st.booleans()):
        names = draw(st.lists(host_patterns(), min_size=1, max_size=3))
        host: dict[str, object] = {"names": names if draw(st.booleans()) else {"name": names}}
        if tls and draw(st.booleans()):
            host["tls"] = {"certPath": "/etc/ssl/c.crt", "keyPath": "/etc/ssl/c.key"}
        body["host"] = host
    if draw(st.booleans()):
        origin = st.fixed_dictionaries(
            {
                "location": st.just("/app"),
                "pass": st.fixed_dictionaries(
                    {
                        "scheme": st.sampled_from(["ovt", "rtsp"]),
                        "urls": st.just({"url": ["origin:9000/app"]}),
                    }
                ),
            },
            optional={"persistent": _json_bool()},
        )
        body["origins"] = draw(
            _some(
                {
                    "origin": st.lists(origin, min_size=1, max_size=2),
                    "properties": _some({"retryCount": _json_int(0, 5)}),
                }
            )
        )
    if draw(st.booleans()):
        body["crossDomains"] = draw(cross_domains_json())
    return body


__all__ += [
    "application_json",
    "application_xml",
    "config_text",
    "cross_domains_json",
    "cross_domains_xml",
    "output_profile_json",
    "output_profile_xml",
    "port_text",
    "ranged_port_text",
    "server_xml",
    "virtual_host_json",
    "virtual_host_xml",
]


# ---------------------------------------------------------------------------------------------
# Server.xml configs as config objects


def server_configs(
    max_vhosts: int = 2, *, environ: Mapping[str, str] | None = None
) -> st.SearchStrategy[ServerConfig]:
    """Whole valid Server.xml configs, parsed: :func:`server_xml` through
    :func:`omeapi.parse_server_xml` (``${env:…}`` read from ``environ``, default none
    set, so every drawn config loads the same way on every machine)."""
    env: Mapping[str, str] = {} if environ is None else environ
    return server_xml(max_vhosts).map(lambda text: parse_server_xml(text, environ=env))


# ---------------------------------------------------------------------------------------------
# Near misses: bodies an OME client could plausibly send that must be refused, each with the
# answer it must get.


@attrs.frozen
class NearMiss:
    """An invalid REST body and the answer it must get.

    ``status`` and ``message`` are the HTTP status and the envelope's ``message`` as they
    appear on the wire (``[Config] …`` for a config error, ``[HTTP] … (400)`` for a request
    error); ``flaw`` says in words what is wrong.  Where a near miss goes and how the answer
    looks depends on its kind:

    * vhost (:func:`invalid_virtual_host_json`): ``POST /v1/vhosts`` with ``[body]`` answers
      ``[{"message": message, "statusCode": status}]`` with HTTP status ``status``;
    * app (:func:`invalid_application_json`): ``POST /v1/vhosts/{vhost}/apps`` with
      ``[body]`` (on a writable vhost without an app of that name) answers the envelope
      ``{"message": message, "statusCode": status}``;
    * app patch (:func:`invalid_app_patch_json`): ``PATCH …/apps/{app}`` of a writable app
      with ``body`` answers the envelope;
    * output profile (:func:`invalid_output_profile_json`): ``POST …/outputProfiles`` with
      ``[body]`` answers the envelope (its names start with ``nearmiss_``, so no existing
      profile is hit).

    None of them changes anything: no engine call, no restart.
    """

    body: Any
    status: int
    message: str
    flaw: str


def _config_error(text: str) -> str:
    return f"[Config] {text}"


def _http_error(status: int, text: str) -> str:
    return f"[HTTP] {text} ({status})"


#: Misspelt or invented keys (case matters: ``Name`` is not ``name``).
_VHOST_TYPOS = ("crossDomain", "hosts", "origin", "Name", "signedPolicies", "bogus")
_APP_TYPOS = ("Providers", "publisher", "provider", "outputProfile", "Type", "bogus")
_PROVIDER_TYPOS = ("rtmpp", "srtt", "webrtcc", "rtspPul", "RTMP")
_PUBLISHER_TYPOS = ("llhlss", "pushh", "webRTC", "LLHLS", "ovtt")
_BAD_APP_TYPES = ("LIVE", "Live", " live", "vodd", "stream", "")


@st.composite
def invalid_virtual_host_json(draw: st.DrawFn) -> NearMiss:
    """A vhost item one mistake away from :func:`virtual_host_json`: an unknown or misspelt
    key, no ``name``, or an object where a string belongs."""
    body = dict(draw(virtual_host_json()))
    kind = draw(st.sampled_from(["typo", "no_name", "object_value"]))
    if kind == "typo":
        key = draw(st.sampled_from(_VHOST_TYPOS))
        body[key] = draw(st.sampled_from([{}, "x", 1, []]))
        return NearMiss(
            body, 400, _config_error(f"Unknown item found: virtualHost.{key}"), f"unknown {key}"
        )
    if kind == "no_name":
        del body["name"]
        return NearMiss(body, 400, _config_error("virtualHost.name is not optional"), "no name")
    body["distribution"] = draw(st.sampled_from([{}, {"name": "x"}]))
    return NearMiss(
        body,
        400,
        _config_error("Could not convert value - from: object, to: string"),
        "distribution is an object",
    )


@st.composite
def invalid_application_json(draw: st.DrawFn) -> NearMiss:
    """An app item one mistake away from :func:`application_json`: an unknown ``type``, no
    ``type``, or an unknown or misspelt key at the top, in ``providers`` or in
    ``publishers``."""
    body = dict(draw(application_json()))
    kind = draw(st.sampled_from(["type", "no_type", "typo", "provider", "publisher"]))
    if kind == "type":
        bad = draw(st.sampled_from(_BAD_APP_TYPES))
        body["type"] = bad
        return NearMiss(body, 400, _config_error(f"Unknown type: {bad}"), "unknown type")
    if kind == "no_type":
        del body["type"]
        return NearMiss(body, 400, _config_error("application.type is not optional"), "no type")
    if kind == "typo":
        key = draw(st.sampled_from(_APP_TYPOS))
        body[key] = {}
        return NearMiss(
            body, 400, _config_error(f"Unknown item found: application.{key}"), f"unknown {key}"
        )
    section, typos = (
        ("providers", _PROVIDER_TYPOS) if kind == "provider" else ("publishers", _PUBLISHER_TYPOS)
    )
    key = draw(st.sampled_from(typos))
    current = body.get(section)
    body[section] = {**(current if isinstance(current, dict) else {}), key: {}}
    return NearMiss(
        body,
        400,
        _config_error(f"Unknown item found: application.{section}.{key}"),
        f"unknown {section}.{key}",
    )


#: The keys a PATCH of an app may not contain, in the order OME checks them.
_FORBIDDEN_PATCH_KEYS = ("name", "dynamic", "outputProfiles")


@st.composite
def invalid_app_patch_json(draw: st.DrawFn) -> NearMiss:
    """A ``PATCH …/apps/{app}`` body that must be refused: a key that cannot be changed
    (``name``, ``dynamic``, ``outputProfiles``: the first present is named), an unknown
    ``type``, or an unknown key."""
    kind = draw(st.sampled_from(["forbidden", "type", "typo"]))
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["publishers"] = {"appWorkerCount": draw(st.integers(1, 4))}
    if kind == "forbidden":
        keys = draw(st.lists(st.sampled_from(_FORBIDDEN_PATCH_KEYS), min_size=1, unique=True))
        values = {"name": "renamed", "dynamic": True, "outputProfiles": {"outputProfile": []}}
        for key in keys:
            body[key] = values[key]
        first = next(k for k in _FORBIDDEN_PATCH_KEYS if k in keys)
        return NearMiss(
            body,
            400,
            _http_error(400, f"Cannot change [{first}] using this API"),
            f"changes {first}",
        )
    if kind == "type":
        bad = draw(st.sampled_from(_BAD_APP_TYPES))
        body["type"] = bad
        return NearMiss(body, 400, _config_error(f"Unknown type: {bad}"), "unknown type")
    key = draw(st.sampled_from(_APP_TYPOS))
    body[key] = {}
    return NearMiss(
        body, 400, _config_error(f"Unknown item found: application.{key}"), f"unknown {key}"
    )


@st.composite
def invalid_output_profile_json(draw: st.DrawFn) -> NearMiss:
    """An output profile item one mistake away from :func:`output_profile_json`, in the order
    OME checks: a required key missing, a wrong type, no encodes, encodes that are not
    arrays, both encode lists empty, or an unknown key."""
    name = "nearmiss_" + draw(st.text("abcdef", min_size=1, max_size=6))
    body = dict(draw(output_profile_json(name)))
    body["encodes"] = {"videos": [{"name": "bypass_video", "bypass": True}]}
    kind = draw(
        st.sampled_from(
            ["missing", "types", "no_encodes", "videos", "audios", "empty", "typo", "encodes_typo"]
        )
    )
    if kind == "missing":
        for key in draw(
            st.lists(
                st.sampled_from(["name", "outputStreamName", "encodes"]), min_size=1, unique=True
            )
        ):
            del body[key]
        text = 'Invalid request body: "name", "outputStreamName", "encodes" are required'
        return NearMiss(body, 400, _http_error(400, text), "a required key is missing")
    if kind == "types":
        key = draw(st.sampled_from(["name", "outputStreamName", "encodes"]))
        body[key] = draw(
            st.sampled_from([1, None, True, ["x"]] + ([] if key == "encodes" else [{}]))
        )
        text = 'Invalid request body: "name" must be a string and "encodes" must be an object'
        return NearMiss(body, 400, _http_error(400, text), f"{key} has the wrong type")
    if kind == "no_encodes":
        body["encodes"] = draw(st.sampled_from([{}, {"images": []}, {"video": []}]))
        text = (
            'Invalid request body: "encodes" must have at least one item'
            " (videos array or audios array)"
        )
        return NearMiss(body, 400, _http_error(400, text), "no videos or audios")
    if kind == "videos":
        body["encodes"] = {"videos": draw(st.sampled_from([{}, "bypass", 1]))}
        text = 'Invalid request body: "encodes.videos" must be an array'
        return NearMiss(body, 400, _http_error(400, text), "videos is not an array")
    if kind == "audios":
        body["encodes"] = {"videos": [], "audios": draw(st.sampled_from([{}, "aac", 1]))}
        text = 'Invalid request body: "encodes.audios" must be an array'
        return NearMiss(body, 400, _http_error(400, text), "audios is not an array")
    if kind == "empty":
        body["encodes"] = draw(
            st.sampled_from([{"videos": []}, {"audios": []}, {"videos": [], "audios": []}])
        )
        text = (
            'Invalid request body: "encodes" must have at least one item'
            " (videos array or audios array) and each item must have at least one item"
        )
        return NearMiss(body, 400, _http_error(400, text), "no encode at all")
    key = draw(st.sampled_from(["bogus", "outputStreamname", "encode", "playlist"]))
    if kind == "typo":
        body[key] = {}
        return NearMiss(
            body,
            400,
            _http_error(400, _config_error(f"Unknown item found: outputProfile.{key}")),
            f"unknown {key}",
        )
    body["encodes"] = {"videos": [{"name": "bypass_video", "bypass": True}], key: []}
    return NearMiss(
        body,
        400,
        _http_error(400, _config_error(f"Unknown item found: outputProfile.encodes.{key}")),
        f"unknown encodes.{key}",
    )


# ---------------------------------------------------------------------------------------------
# CORS cases: a <CrossDomains> Url list and an Origin, with whether it must be accepted

#: Last labels of generated patterns; :func:`cors_cases` builds refused origins from others.
_PATTERN_TLDS = ("com", "org", "test")
_OTHER_TLDS = ("net", "example", "invalid")
_FILL = "abcxyz019"


@attrs.frozen
class CorsCase:
    """A ``<CrossDomains>`` ``<Url>`` list (``urls``) and an ``Origin`` header value, with
    whether the API must accept it (``allowed``: the Origin is echoed in
    ``Access-Control-Allow-Origin``) or not (no ``Access-Control-Allow-*`` headers)."""

    urls: tuple[str, ...]
    origin: str
    allowed: bool

    def xml(self) -> str:
        """The ``<CrossDomains>`` element with :attr:`urls` (for a Server.xml)."""
        return _el("CrossDomains", "".join(_text_el("Url", u) for u in self.urls))

    def json(self) -> dict[str, object]:
        """The ``crossDomains`` JSON object with :attr:`urls` (for a REST body)."""
        return {"urls": list(self.urls)}


@st.composite
def _host_pattern(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern ``[scheme://]label(.label)*.tld[:port]`` and its scheme part."""
    scheme = draw(st.sampled_from(["", "", "http://", "https://", "http?://", "*://"]))
    label = st.text(alphabet=_FILL + "-*?", min_size=1, max_size=5)
    labels = draw(st.lists(label, min_size=0, max_size=2))
    tld = draw(st.sampled_from(_PATTERN_TLDS))
    port = draw(st.sampled_from(["", "", ":3000", ":8443"]))
    return scheme + ".".join([*labels, tld]) + port, scheme


@st.composite
def _instance(draw: st.DrawFn, pattern: str) -> str:
    """An origin ``pattern`` matches: each ``*`` / ``?`` filled with one or more / exactly
    one character (so no label is left empty), and a scheme in front when it has none."""
    if pattern.startswith("*://"):
        # A scheme must start with a letter to be an Origin at all.
        head, pattern = draw(st.sampled_from(["http://", "https://", "ftp://"])), pattern[4:]
    elif "://" not in pattern:
        head = draw(st.sampled_from(["http://", "https://"]))
    else:
        head = ""
    out = [head]
    for c in pattern:
        if c == "*":
            out.append(draw(st.text(alphabet=_FILL, min_size=1, max_size=4)))
        elif c == "?":
            out.append(draw(st.sampled_from(_FILL)))
        else:
            out.append(c)
    return "".join(out)


_REFUSALS = ("tld", "upper", "port", "path", "null", "empty", "scheme")


@st.composite
def cors_cases(draw: st.DrawFn) -> CorsCase:
    """A ``<Url>`` list of 1–3 host patterns (wildcards ``*`` and ``?``, with or without a
    scheme or a port) and an Origin that one of them matches, or one that none can.

    The answer comes from the construction, not from a matcher.  An accepted Origin fills in
    one pattern's wildcards.  A refused one is such an Origin with one thing no pattern of the
    list can match: another top-level domain (every pattern ends in ``.com``, ``.org`` or
    ``.test``, then maybe a port), the host in upper case (matching is case-sensitive), a
    port no pattern has, the other of ``http`` / ``https`` (a single pattern naming its
    scheme), or no Origin form at all (a path after it, ``null``, empty: omeapi matches only
    ``scheme://host[:port]``).  ``*`` and ``null`` entries are left out: they accept every
    Origin (see :func:`cors_url_lists` for lists with them)."""
    patterns = draw(st.lists(_host_pattern(), min_size=1, max_size=3, unique_by=lambda p: p[0]))
    urls = tuple(p for p, _ in patterns)
    pattern, scheme = draw(st.sampled_from(patterns))
    origin = draw(_instance(pattern))
    if draw(st.booleans()):
        return CorsCase(urls, origin, True)
    kinds = [k for k in _REFUSALS if k != "scheme"]
    if len(urls) == 1 and scheme in ("http://", "https://"):
        kinds.append("scheme")
    kind = draw(st.sampled_from(kinds))
    front, _, rest = origin.partition("://")
    host, colon, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if kind == "tld":
        new_tld = draw(st.sampled_from(_OTHER_TLDS))
        origin = f"{front}://{host.rsplit('.', 1)[0]}.{new_tld}{colon}{port}"
    elif kind == "upper":
        origin = f"{front}://{host.upper()}{colon}{port}"
    elif kind == "port":
        origin = f"{front}://{host}:{draw(st.sampled_from(['80', '443', '4000']))}"
    elif kind == "path":
        origin += draw(st.sampled_from(["/", "/x", "/index.html"]))
    elif kind == "null":
        origin = "null"
    elif kind == "empty":
        origin = ""
    else:
        other = "https" if scheme == "http://" else "http"
        origin = f"{other}://{rest}"
    return CorsCase(urls, origin, False)


# ---------------------------------------------------------------------------------------------
# Authorization cases: a header value for a token, with the answer it must get


@attrs.frozen
class AuthCase:
    """An ``Authorization`` header value (None: no header) for the access token ``token``,
    and ``message``: None when the request must pass, else the 401 envelope's message on
    the wire (``[HTTP] Invalid credential (401)`` …)."""

    token: str
    header: str | None
    message: str | None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _raw(token: str) -> bytes:
    # Tokens may hold any text, lone surrogates included (as the verifier encodes them).
    return token.encode("utf-8", "surrogatepass")


def valid_authorization(token: str) -> st.SearchStrategy[str]:
    """Header values that carry ``token``: ``Basic`` in any ASCII case, padded or unpadded
    standard base64."""
    encoded = _b64(_raw(token))
    return st.builds(
        lambda basic, padded: f"{basic} {encoded if padded else encoded.rstrip('=')}",
        basic_spellings(),
        st.booleans(),
    )


@st.composite
def authorization_cases(draw: st.DrawFn, token: str | None = None) -> AuthCase:
    """A token (drawn from :func:`tokens` unless given) and a header for it: one that passes
    (:func:`valid_authorization`) or a near miss with OME's 401 message: no header, another
    token, another scheme, a third part, a base64 character that is not one."""
    token = draw(tokens()) if token is None else token
    kind = draw(
        st.sampled_from(["valid", "valid", "missing", "wrong", "scheme", "parts", "base64"])
    )
    if kind == "valid":
        return AuthCase(token, draw(valid_authorization(token)), None)
    if kind == "missing":
        header = draw(st.sampled_from([None, "", " ", "\t"]))
        return AuthCase(
            token, header, _http_error(401, "Authorization header is required to call API")
        )
    if kind == "wrong":
        other = draw(tokens().filter(lambda t: _raw(t) != _raw(token)))
        header = f"{draw(basic_spellings())} {_b64(_raw(other))}"
        return AuthCase(token, header, _http_error(401, "Invalid credential"))
    if kind == "scheme":
        scheme = draw(st.sampled_from(["Bearer", "Digest", "Basics", "Bas1c", "Token"]))
        return AuthCase(
            token,
            f"{scheme} {_b64(_raw(token))}",
            _http_error(401, f"Not supported credential type: {scheme}"),
        )
    if kind == "parts":
        extra = draw(st.sampled_from(["x", "Basic", "="]))
        return AuthCase(
            token,
            f"Basic {_b64(_raw(token))} {extra}",
            _http_error(401, "Invalid authorization header"),
        )
    junk = draw(st.sampled_from(["!", "*", "-", "_", "\u00e9", "%"]))
    encoded = _b64(_raw(token))
    at = draw(st.integers(0, len(encoded)))
    return AuthCase(
        token,
        f"Basic {encoded[:at]}{junk}{encoded[at:]}",
        _http_error(401, "Invalid credential"),
    )


__all__ += [
    "AuthCase",
    "CorsCase",
    "NearMiss",
    "authorization_cases",
    "cors_cases",
    "encodes_xml",
    "host_xml",
    "invalid_app_patch_json",
    "invalid_application_json",
    "invalid_output_profile_json",
    "invalid_virtual_host_json",
    "server_configs",
    "valid_authorization",
]
