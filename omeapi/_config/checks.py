"""OME's validation callbacks, as a table keyed by element path.

Keys are path suffixes (``Encodes.Video.Preset``); the longest suffix that matches a schema
path wins.  A value check gets the converted value and the siblings parsed so far (in
registration order) and returns the value to store; an absent check runs when an optional
element is missing; an item check runs once an item's children are all parsed.  Messages
carry no path, as in OME.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from omeapi._config.kinds import AbsentCheck, ItemCheck, ValueCheck
from omeapi._config.nodes import Item, Scalar
from omeapi._config.values import c_stod
from omeapi._errors import ConfigError

__all__ = ["ABSENT_CHECKS", "ITEM_CHECKS", "VALUE_CHECKS"]


def _sibling(siblings: Mapping[str, Any], name: str, default: Any = None) -> Any:
    node = siblings.get(name)
    return node.value if isinstance(node, Scalar) else default


def _not_a_boolean(node: object) -> str:
    """A note for a written Bypass that OME read as false without it saying false."""
    if not isinstance(node, Scalar) or not isinstance(node.raw, str):
        return ""
    written = node.raw.strip().lower()
    if written in ("true", "false") or re.fullmatch(r"[+-]?\d+", written):
        return ""
    return f"Bypass {node.raw!r} is neither true nor false, and reads as false"


#: A host name: dot-separated labels of letters, digits and inner hyphens.
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
#: What is meant as an IPv4 address (digits and dots only) is not a host name.
_DOTTED = re.compile(r"[\d.]+")


def bind_address(value: Any, siblings: Mapping[str, Any]) -> Any:
    """``<Server><IP>``: ``*``, an IPv4 or IPv6 address, or a host name.  OME takes any
    text here and fails later, when it binds; ``omeapi check`` says so at once."""
    text = str(value)
    if text in ("*", ""):
        return value
    try:
        ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
        return value
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(text) and not _DOTTED.fullmatch(text):
        return value
    raise ConfigError(f"Invalid IP address: {text}")


def one_of(values: tuple[str, ...], message: str, *, fold: bool = False) -> ValueCheck:
    """Only these values (case-insensitive with ``fold``); ``{v}`` in the message is the value."""
    allowed = frozenset(v.lower() for v in values) if fold else frozenset(values)

    def check(value: Any, siblings: Mapping[str, Any]) -> Any:
        key = str(value).lower() if fold else str(value)
        if key not in allowed:
            raise ConfigError(message.format(v=value))
        return value

    return check


def in_range(low: int, high: int, message: str) -> ValueCheck:
    """An integer within ``[low, high]``."""

    def check(value: Any, siblings: Mapping[str, Any]) -> Any:
        if not low <= value <= high:
            raise ConfigError(message)
        return value

    return check


_BITRATE = re.compile(r"\s*([^kKmM]*)([kKmM]?)")


def bitrate(name: str) -> ValueCheck:
    """A bitrate string with an optional K (×1024) or M (×1048576) suffix, > 0."""

    def check(value: Any, siblings: Mapping[str, Any]) -> Any:
        text = str(value)
        m = _BITRATE.match(text)
        number = c_stod(m.group(1)) if m else 0.0
        suffix = (m.group(2) if m else "").upper()
        number *= {"K": 1024, "M": 1024 * 1024}.get(suffix, 1)
        if not number > 0:
            raise ConfigError(f"{name} must be greater than 0")
        return value

    return check


def rejected(message: str) -> ValueCheck:
    """Any value is refused."""

    def check(value: Any, siblings: Mapping[str, Any]) -> Any:
        raise ConfigError(message)

    return check


def present_means_true(value: Any, siblings: Mapping[str, Any]) -> Any:
    """OME's alert flags turn on whenever the element is there, even ``<X>false</X>``."""
    return True


def host_port(value: Any, siblings: Mapping[str, Any]) -> Any:
    if str(value).count(":") != 1:
        raise ConfigError(f"Invalid host format {value} > it must be host:port")
    return value


def keyframe_interval(value: Any, siblings: Mapping[str, Any]) -> Any:
    # The unit follows KeyFrameIntervalType, which is registered (so parsed) first.
    if _sibling(siblings, "KeyFrameIntervalType", "frame") == "time":
        if not 1 <= value <= 10000:
            raise ConfigError("KeyFrameInterval must be between 0 and 10000")
    elif not 0 <= value <= 600:
        raise ConfigError("KeyFrameInterval must be between 0 and 600")
    return value


def packet_silence_unsupported(provider: str) -> ValueCheck:
    return rejected(f"PacketSilenceTimeoutMs is not supported for this provider type: {provider}")


def required_unless_bypass(message: str) -> AbsentCheck:
    """Absent is fine only when the sibling ``Bypass`` is true."""

    def check(siblings: Mapping[str, Any]) -> None:
        if not _sibling(siblings, "Bypass", False):
            raise ConfigError(message, hint=_not_a_boolean(siblings.get("Bypass")))

    return check


def encode_names(encodes: Item, kind: str) -> list[str]:
    """The names of an Encodes list as OME ends up with them.

    OME names each unnamed (absent or empty ``<Name>``) entry ``video_0``, ``video_1`` … (per
    kind, counting only the unnamed ones) before renditions are matched against them.
    """
    names: list[str] = []
    unnamed = 0
    for encode in encodes.items(kind):
        name = str(encode.value("Name", ""))
        if not name:
            name = f"{kind.lower()}_{unnamed}"
            unnamed += 1
        names.append(name)
    return names


def output_profile(fields: Mapping[str, Any]) -> None:
    """Playlists: unique file names, renditions naming encodes of this profile."""
    item = Item(None, dict(fields))  # type: ignore[arg-type]
    encodes = item.item("Encodes")
    names: dict[str, set[str]] = {"Video": set(), "Audio": set()}
    if encodes is not None:
        for kind, found in names.items():
            found.update(encode_names(encodes, kind))
    file_names: set[str] = set()
    for playlist in item.items("Playlist"):
        file_name = str(playlist.value("FileName", ""))
        if file_name in file_names:
            raise ConfigError(f"Duplicate playlist file name: {file_name}")
        file_names.add(file_name)
        for rendition in playlist.items("Rendition"):
            for kind, found in names.items():
                ref = rendition.value(kind)
                if ref is not None and ref not in found:
                    raise ConfigError("Playlist Error")


def playlist(fields: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for rendition in Item(None, dict(fields)).items("Rendition"):  # type: ignore[arg-type]
        name = str(rendition.value("Name", ""))
        if name in seen:
            raise ConfigError(f"Duplicate rendition name: {name}")
        seen.add(name)


def subtitles(fields: Mapping[str, Any]) -> None:
    item = Item(None, dict(fields))  # type: ignore[arg-type]
    renditions = item.items("Rendition")
    if item.value("Enable", False) and not renditions:
        raise ConfigError("Subtitle is enabled but no renditions are defined")
    label = item.value("DefaultLabel")
    if label is not None and label not in {r.value("Label") for r in renditions}:
        raise ConfigError(f"Default label '{label}' not found in subtitle renditions")


def virtual_hosts(fields: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for vhost in Item(None, dict(fields)).items("VirtualHost"):  # type: ignore[arg-type]
        name = str(vhost.value("Name", ""))
        if name in seen:
            raise ConfigError(f"Duplicate virtual host [{name}] found. Please check the settings.")
        seen.add(name)


_CMP = ("eq", "lte", "gte")


def _bypass_if_match() -> dict[str, ValueCheck]:
    checks: dict[str, ValueCheck] = {
        "BypassIfMatch.Codec": one_of(
            ("eq",), "BypassIfMatch.Codec must be specified only eq", fold=True
        ),
        "BypassIfMatch.Bitrate": rejected("BypassIfMatch.Bitrate is not yet supported"),
        "BypassIfMatch.SAR": one_of(
            ("eq",), "BypassIfMatch.SAR must specified only one of eq", fold=True
        ),
    }
    for name in ("Framerate", "Width", "Height", "Samplerate", "Channel"):
        checks[f"BypassIfMatch.{name}"] = one_of(
            _CMP, f"BypassIfMatch.{name} must specified only one of eq, lte, gte", fold=True
        )
    return checks


_TIMESTAMP_MODE = one_of(
    ("ZeroBased", "Original"),
    "Invalid TimestampMode value: {v} (expected: ZeroBased, Original)",
    fold=True,
)
_ENCODING_TYPE = one_of(
    ("all", "encoded", "bypassed"), "Invalid EncodingType: {v} (all, encoded, bypassed)"
)

#: Value checks by path suffix.
VALUE_CHECKS: dict[str, ValueCheck] = {
    "Server.Type": one_of(("origin", "edge"), "Unknown type: {v}"),
    "Application.Type": one_of(("live", "vod"), "Unknown type: {v}"),
    "Encodes.Video.Bitrate": bitrate("Bitrate"),
    "Encodes.Audio.Bitrate": bitrate("Bitrate"),
    "Encodes.Video.SkipFrames": in_range(0, 120, "SkipFrames must be between 0 and 120"),
    "Encodes.Image.SkipFrames": in_range(0, 120, "SkipFrames must be between 0 and 120"),
    "Encodes.Video.Preset": one_of(
        ("slower", "slow", "medium", "fast", "faster"),
        "Preset must be slower, slow, medium, fast, or faster",
        fold=True,
    ),
    "Encodes.Video.KeyFrameIntervalType": one_of(
        ("frame", "time"), "KeyFrameIntervalType must be frame or time", fold=True
    ),
    "Encodes.Video.KeyFrameInterval": keyframe_interval,
    "Encodes.Video.BFrames": in_range(0, 16, "BFrames must be between 0 and 16"),
    "Encodes.Video.Profile": one_of(
        ("baseline", "main", "high"), "Profile must be baseline, main or high", fold=True
    ),
    **_bypass_if_match(),
    "RedisServer.Host": host_port,
    "Server.IP": bind_address,
    "VideoTemplate.EncodingType": _ENCODING_TYPE,
    "AudioTemplate.EncodingType": _ENCODING_TYPE,
    "Ingress.MinBitrate": bitrate("MinBitrate"),
    "Ingress.MaxBitrate": bitrate("MaxBitrate"),
    "Ingress.StreamStatus": present_means_true,
    "Ingress.LongKeyFrameInterval": present_means_true,
    "Ingress.HasBFrames": present_means_true,
    "Egress.StreamStatus": present_means_true,
    "Egress.LLHLSReady": present_means_true,
    "Egress.HLSReady": present_means_true,
    "Egress.TranscodeStatus": present_means_true,
    "Rules.InternalQueueCongestion": present_means_true,
    "TimestampMode": _TIMESTAMP_MODE,
    "Publishers.WebRTC.BandwidthEstimation": one_of(
        ("REMB",),
        "Invalid value for BWE. Valid values are 'TransportCC' or 'REMB'",
        fold=True,
    ),
    **{
        f"Providers.{p}.PacketSilenceTimeoutMs": packet_silence_unsupported(p)
        for p in ("RTSPPull", "RTSP", "OVT", "FILE", "Schedule")
    },
}

#: Checks that run when an optional element is absent.
ABSENT_CHECKS: dict[str, AbsentCheck] = {
    "Encodes.Video.Codec": required_unless_bypass("Codec must be specified when bypass is false"),
    "Encodes.Audio.Codec": required_unless_bypass("Codec must be specified when bypass is false"),
    "Encodes.Video.Bitrate": required_unless_bypass(
        "Bitrate must be specified when bypass is false"
    ),
    "Encodes.Audio.Bitrate": required_unless_bypass(
        "Bitrate must be specified when bypass is false"
    ),
}

#: Checks over a whole item, once its children are parsed.
ITEM_CHECKS: dict[str, ItemCheck] = {
    "Server.VirtualHosts": virtual_hosts,
    "OutputProfiles.OutputProfile": output_profile,
    "OutputProfile.Playlist": playlist,
    "MediaOptions.Subtitles": subtitles,
}
