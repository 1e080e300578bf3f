"""Which OME version the API speaks: everything that differs, as data.

One :class:`OmeWire` per version.  The controllers never ask "which version"; they ask the
wire for a name, a table entry or a flag:

* ``names``: the config's JSON names (:mod:`omeapi._config.wire_names`, generated from OME's
  ``Register`` calls);
* ``fields``: the answer fields this version writes (:data:`ANSWER_FIELDS`, a field-by-version
  table that the engine values consult when they write JSON);
* ``stream_actions``: the ``POST …/streams/{s}:<action>`` suffixes it routes;
* request rules: the pull ``retryCount`` default, the ``:sendEvent`` formats, whether a bad
  pull request is a 400 or a 502, ``properties.relay``;
* ``api_version``: what ``GET /v1/version`` reports.

``0.20`` is OME 0.20.0's wire, byte for byte what omeapi always answered; ``0.21`` is OME
0.21.0's (which includes what 0.20.5 changed).
"""

from __future__ import annotations

from typing import Any

import attrs

from omeapi._config.model import APP_SPEC, PROFILE_SPEC, VHOST_SPEC
from omeapi._config.wire_names import NAMES_0_20, NAMES_0_21, ConfigNames
from omeapi._wire.envelope import dumps

__all__ = [
    "ANSWER_FIELDS",
    "DEFAULT_OME_VERSION",
    "OME_VERSIONS",
    "OmeWire",
    "wire_for",
]

#: The versions the API can speak, oldest first.
OME_VERSIONS = ("0.20", "0.21")

#: The version spoken unless told otherwise (docs/compatibility.md says why).
DEFAULT_OME_VERSION = "0.20"

#: Answer fields by the wire version that first writes them (``shape.field``).  0.20.5's
#: additions are 0.21's here: the 0.20 wire is 0.20.0's.
ANSWER_FIELDS: dict[str, str] = {
    "video.maxFramerate": "0.21",  # 0.20.5
    "video.codecModule": "0.21",
    "video.codecStatus": "0.21",
    "video.language": "0.21",
    "video.characteristics": "0.21",
    "video.configChangeCount": "0.21",
    "video.lastConfigChanged": "0.21",
    "audio.codecModule": "0.21",
    "audio.codecStatus": "0.21",
    "audio.language": "0.21",
    "audio.characteristics": "0.21",
    "audio.configChangeCount": "0.21",
    "audio.lastConfigChanged": "0.21",
    "track.subtitle": "0.21",  # subtitle{codec, …, stt{…}} of a Subtitle track
    "track.data": "0.21",  # data{codec} of a Data track
    # timebase{num, den} whenever valid (num > 0 and den > 0), subtitle tracks included;
    # without it, where den > 0 (the contract's rule: OME 0.20.0's own test is inverted)
    "timebase.always": "0.21",
    "stream.relayOutputs": "0.21",  # 0.20.5: a relay stream lists itself as its output
    "queue.dwellUs": "0.21",  # dwell{Min,Avg,P50,P90,P99,Max}Us and dwellLatest…Us
    "queue.noUrn": "0.21",  # a queue without a urn: "No Urn" (else "")
}


@attrs.frozen
class OmeWire:
    """The wire of one OME version (see the module docstring)."""

    version: str
    api_version: str
    names: ConfigNames
    fields: frozenset[str]
    stream_actions: tuple[str, ...] = ()
    #: ``properties.retryCount`` when a pull request leaves it out
    pull_retry_default: int = 1
    #: ``POST …/streams`` reads ``properties.relay``
    pull_relay: bool = False
    #: ``POST …/streams`` checks the URL list first (each has a ``://``, all one scheme),
    #: and a pull the engine refuses as invalid is a 400 with its reason (else a 502)
    pull_invalid_is_400: bool = False
    #: the ``eventFormat`` values ``:sendEvent`` accepts
    event_formats: tuple[str, ...] = ("id3v2", "cue", "scte35")

    def has(self, field: str) -> bool:
        """Whether this version writes the answer field ``shape.field``."""
        return field in self.fields

    # Config JSON (vhosts, apps, output profiles): the tree's names ⇄ this version's.

    def vhost_out(self, value: Any) -> Any:
        return self.names.out(VHOST_SPEC, value)

    def app_out(self, value: Any) -> Any:
        return self.names.out(APP_SPEC, value)

    def profile_out(self, value: Any) -> Any:
        return self.names.out(PROFILE_SPEC, value)

    def vhost_in(self, value: Any) -> Any:
        """A request's vhost in the tree's names (``ConfigError`` for a name this version
        does not have)."""
        return self.names.into(VHOST_SPEC, value, VHOST_SPEC.json_name)

    def app_in(self, value: Any) -> Any:
        return self.names.into(APP_SPEC, value, APP_SPEC.json_name)

    def profile_in(self, value: Any) -> Any:
        return self.names.into(PROFILE_SPEC, value, PROFILE_SPEC.json_name)

    def json_bytes(self, kept: bytes, value: Any, out: str) -> bytes:
        """``kept`` (the tree's JSON, serialised once) where names are the tree's; else
        ``value`` translated by the ``out`` method named (``app_out`` …) and serialised."""
        if self.names.identity:
            return kept
        return dumps(getattr(self, out)(value))


def _fields(version: str) -> frozenset[str]:
    order = OME_VERSIONS.index(version)
    return frozenset(f for f, since in ANSWER_FIELDS.items() if OME_VERSIONS.index(since) <= order)


_WIRES = {
    "0.20": OmeWire("0.20", "0.20.0", NAMES_0_20, _fields("0.20")),
    "0.21": OmeWire(
        "0.21",
        "0.21.0",
        NAMES_0_21,
        _fields("0.21"),
        stream_actions=("enableStt", "disableStt", "sttStatus"),
        pull_retry_default=0,
        pull_relay=True,
        pull_invalid_is_400=True,
        event_formats=("id3v2",),
    ),
}


def wire_for(version: str | None = None) -> OmeWire:
    """The wire of ``version`` (``"0.20"``, ``"0.21"``; also ``"0.21.0"`` and the like;
    None: :data:`DEFAULT_OME_VERSION`).  ValueError for a version omeapi cannot speak."""
    key = DEFAULT_OME_VERSION if version is None else ".".join(str(version).split(".")[:2])
    wire = _WIRES.get(key)
    if wire is None:
        raise ValueError(f"unknown OME version {version!r} (one of: {', '.join(OME_VERSIONS)})")
    return wire
