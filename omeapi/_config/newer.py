"""Elements of OME releases after 0.20: their rows merged into the schema, and their checks.

The rows live in :mod:`omeapi._config._table_newer` (data, one per element a newer OME accepts
and 0.20 does not).  Each row names the sibling it is registered after, so the merged table
keeps OME's registration (parse and JSON) order.  0.20's rows are never changed: every 0.20
config stays valid, and newer elements are accepted as well (docs/config.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from omeapi._config._table_newer import ROWS as NEWER_ROWS
from omeapi._config.checks import subtitles
from omeapi._config.nodes import Item
from omeapi._errors import ConfigError

if TYPE_CHECKING:
    from omeapi._config.kinds import ItemCheck, ValueCheck
    from omeapi._config.schema import Spec

__all__ = [
    "NEWER_ITEM_CHECKS",
    "NEWER_VALUE_CHECKS",
    "SINCE",
    "attach_newer_checks",
    "merged",
    "newest",
]

TableRow = tuple[str, str, str, str, str]

#: The first OME version that accepts each newer element, by schema path.
SINCE: dict[str, str] = {row[0]: row[6] for row in NEWER_ROWS}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def newest(versions: list[str]) -> str:
    """The highest of dotted version numbers (``0.21.0`` > ``0.20.5``)."""
    return max(versions, key=_version_key)


def merged(rows: tuple[TableRow, ...]) -> list[TableRow]:
    """0.20's rows with the newer rows inserted where OME registers them."""
    out = list(rows)
    for path, json_name, kind, flags, default, after, _since in NEWER_ROWS:
        parent = path.rpartition(".")[0]
        anchor = f"{parent}.{after}" if after else parent
        at = next((i for i, row in enumerate(out) if row[0] == anchor), None)
        if at is None:
            raise ValueError(f"{path}: no {anchor} to follow")
        # After the anchor's whole subtree: its children precede the next sibling.
        at += 1
        while at < len(out) and out[at][0].startswith(anchor + "."):
            at += 1
        words = " ".join(w for w in flags.split() if w != "copy")
        out.insert(at, (path, json_name, kind, words, default))
    return out


# ----------------------------------------------------------------------------------- checks

# OME names provider types this way in its messages (not always the XML name).
_PROVIDER_TYPE = {
    "RTMP": "RTMP",
    "RTSPPull": "RTSPPull",
    "RTSP": "RTSP",
    "OVT": "OVT",
    "SRT": "SRT",
    "WebRTC": "WebRTC",
    "Schedule": "Scheduled",
    "Multiplex": "Multiplex",
    "MPEGTS": "MPEGTS",
}


def first_media_wait(provider_type: str) -> ValueCheck:
    """A positive number, and only the RTMP provider waits for a first packet."""

    def check(value: Any, siblings: Mapping[str, Any]) -> Any:
        if value <= 0:
            raise ConfigError(f"FirstMediaWaitTimeoutMs requires a positive value: {value}")
        if provider_type != "RTMP":
            raise ConfigError(
                f"FirstMediaWaitTimeoutMs is not supported for this provider type: {provider_type}"
            )
        return value

    return check


_TRANSPORTS = frozenset({"UDP", "TCP", "RELAY", "UDPTCP", "ALL"})


def default_transport(value: Any, siblings: Mapping[str, Any]) -> Any:
    """OME keeps the value upper-cased; anything else falls back to UDPTCP (a warning only)."""
    upper = str(value).upper()
    return upper if upper in _TRANSPORTS else "UDPTCP"


def track_sets(fields: Mapping[str, Any]) -> None:
    """Unique TrackSet names, each naming at least one track."""
    seen: set[str] = set()
    for track_set in Item(None, dict(fields)).items("TrackSet"):  # type: ignore[arg-type]
        name = str(track_set.value("Name", ""))
        if name in seen:
            raise ConfigError(f"Duplicate TrackSet name: {name}")
        seen.add(name)
        if not track_set.items("Video") and not track_set.items("Audio"):
            raise ConfigError(f"TrackSet '{name}' must contain at least one Video or Audio entry")


#: Value checks of newer elements, by path suffix (as in :mod:`omeapi._config.checks`).
NEWER_VALUE_CHECKS: dict[str, ValueCheck] = {
    **{
        f"Application.Providers.{xml}.FirstMediaWaitTimeoutMs": first_media_wait(name)
        for xml, name in _PROVIDER_TYPE.items()
    },
    "IceCandidates.DefaultTransport": default_transport,
}

#: Item checks that newer releases add; they run after any 0.20 check of the same item.
NEWER_ITEM_CHECKS: dict[str, ItemCheck] = {
    "Application.Subtitles": subtitles,
    "OutputProfiles.OutputProfile": track_sets,
}


def _matches(path: str, key: str) -> bool:
    return path == key or path.endswith("." + key)


def _chain(first: ItemCheck | None, then: ItemCheck) -> ItemCheck:
    if first is None:
        return then

    def both(fields: Mapping[str, Any]) -> None:
        first(fields)
        then(fields)

    return both


def attach_newer_checks(specs: Mapping[str, Spec]) -> None:
    """Hang the newer checks on their specs (after :func:`~omeapi._config.checks.attach_checks`)."""
    for path, spec in specs.items():
        for key, value_check in NEWER_VALUE_CHECKS.items():
            if _matches(path, key) and path in SINCE:
                spec.value_check = value_check
        for key, item_check in NEWER_ITEM_CHECKS.items():
            if _matches(path, key):
                spec.item_check = _chain(spec.item_check, item_check)
