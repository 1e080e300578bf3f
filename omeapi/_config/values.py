"""Value conversion exactly as OME's config engine does it (C ``stoi``/``stod`` rules).

Also the ``${env:…}`` / ``${ome:…}`` substitution and the custom text scalars (ports,
enabled-module lists).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
from collections.abc import Callable, Mapping

import attrs

from omeapi._errors import ConfigError

__all__ = [
    "INT32",
    "INT64",
    "MAX_EXPANSION",
    "Port",
    "PortRange",
    "RangedPort",
    "Substitution",
    "c_stod",
    "c_stoi",
    "parse_bool",
    "parse_enabled_modules",
    "parse_port",
    "parse_ranged_port",
]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# C's isspace() set: what strtol/strtod skip before the number.
_C_SPACE = " \t\n\v\f\r"
_INT_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
_DOUBLE_RE = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))",
    re.IGNORECASE,
)


def c_stoi(text: str, bounds: tuple[int, int] = INT32) -> int:
    """``std::stoi``/``stoll`` as OME wraps it: leading blanks, sign, digits; else 0.

    No digits or a value outside ``bounds`` gives 0 (OME catches the exception).
    """
    m = _INT_RE.match(text)
    if m is None:
        return 0
    sign, digits = m.group(1), m.group(2).lstrip("0")
    # Out of range anyway, and int() refuses very long digit strings (a traceback, not 0).
    if len(digits) > 20:
        return 0
    value = int(sign + digits) if digits else 0
    if bounds[0] <= value <= bounds[1]:
        return value
    return 0


def c_stod(text: str) -> float:
    """``std::stod`` as OME wraps it: failure gives 0.0."""
    m = _DOUBLE_RE.match(text)
    if m is None:
        return 0.0
    token = m.group(1)
    try:
        if token.lower().lstrip("+-").startswith("0x"):
            sign = -1.0 if token.startswith("-") else 1.0
            body = token.lstrip("+-")
            if "p" not in body.lower():
                body += "p0"
            return sign * float.fromhex(body)
        if token.lower().lstrip("+-").startswith("nan"):
            return float("nan")
        value = float(token)
    except (ValueError, OverflowError):
        return 0.0
    # strtod reports an overflow as ERANGE and std::stod throws: OME gets 0.0, not inf.
    if math.isinf(value) and not token.lower().lstrip("+-").startswith("inf"):
        return 0.0
    return value


def parse_bool(text: str) -> bool:
    """OME's boolean rule: ``true``/``false`` in any case, otherwise ``stoll(text) != 0``."""
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return c_stoi(text, INT64) != 0


_SOCKET_TYPES = ("TCP", "UDP", "SRT")


@attrs.frozen
class Port:
    """A single port with its socket type (``8081/tcp``)."""

    number: int
    protocol: str = "TCP"

    def __str__(self) -> str:
        return f"{self.number}/{self.protocol.lower()}"


@attrs.frozen
class PortRange:
    """An inclusive range of ports (a single port has ``first == last``)."""

    first: int
    last: int


@attrs.frozen
class RangedPort:
    """A list of ports and ranges with one socket type (``4000-4003,4010/udp``)."""

    ranges: tuple[PortRange, ...]
    protocol: str = "UDP"

    def ports(self) -> tuple[int, ...]:
        """Every port the expression names, in order."""
        return tuple(p for r in self.ranges for p in range(r.first, r.last + 1))


def _socket_type(text: str, whole: str) -> str:
    proto = text.strip().upper()
    if proto not in _SOCKET_TYPES:
        raise ConfigError(f"Unknown socket type: {whole}")
    return proto


def parse_port(text: str) -> Port:
    """``<Port>``/``<TLSPort>``: ``N`` or ``N/proto``, 1–65535, proto TCP/UDP/SRT."""
    parts = text.split("/")
    protocol = "TCP"
    number_text = text
    if len(parts) == 2:
        number_text = parts[0]
        protocol = _socket_type(parts[1], text)
    number = c_stoi(number_text.strip())
    if not 1 <= number <= 65535:
        raise ConfigError(f"Invalid port: {text}")
    return Port(number, protocol)


_RANGE_PIECE = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?")


def _port_number(digits: str) -> int:
    # Past five significant digits it is out of range; int() of a huge string would raise.
    significant = digits.lstrip("0")
    return int(significant) if 0 < len(significant) <= 6 else 0


def parse_ranged_port(text: str) -> RangedPort:
    """A port list: comma-separated ``N`` or ``A-B`` (A ≤ B), optional ``/proto`` (UDP)."""
    trimmed = text.strip()
    parts = trimmed.split("/")
    protocol = "UDP"
    port_part = trimmed
    if len(parts) == 2:
        port_part = parts[0]
        protocol = _socket_type(parts[1], text)
    ranges: list[PortRange] = []
    for piece in port_part.split(","):
        m = _RANGE_PIECE.fullmatch(piece)
        if m is None:
            raise ConfigError(f"Invalid port expression: {text}")
        first = _port_number(m.group(1))
        last = _port_number(m.group(2)) if m.group(2) is not None else first
        if not (1 <= first <= 65535 and 1 <= last <= 65535):
            raise ConfigError(f"Invalid port: {text}")
        if first > last:
            raise ConfigError(f"Invalid port range: {text}")
        ranges.append(PortRange(first, last))
    return RangedPort(tuple(ranges), protocol)


def parse_enabled_modules(text: str) -> tuple[str, ...]:
    """``rtmp, webrtc`` → ``("RTMP", "WEBRTC")`` (upper-cased, trimmed, comma-split)."""
    stripped = text.upper().strip()
    if not stripped:
        return ()
    return tuple(piece.strip() for piece in stripped.split(","))


_ENV_RE = re.compile(r"\$\{env:([^}]*)\}")

#: How many characters ``${env:…}`` / ``${ome:…}`` may add to one document (a Server.xml with
#: its includes, or one REST body): 50,000 references to a large variable must be a clear
#: error, not a MemoryError.  Far above what a real config needs.
MAX_EXPANSION = 16 * 1024 * 1024


def _hostname() -> str:
    # The kernel's node name is what gethostname() returns; platform needs no socket module.
    name = platform.node()
    if not name:
        raise OSError("the host name is unknown")
    return name


class _Budget:
    """What is left of one document's expansion allowance (shared by all its values)."""

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit


@attrs.frozen
class Substitution:
    """How ``${env:NAME[:default]}``, ``${ome:Home}`` and ``${ome:CurrentPath}`` resolve.

    ``environ`` defaults to the process environment; ``hostname`` answers ``HOSTNAME`` when
    the variable is unset (OME falls back to ``gethostname()``).  Both are injectable so tests
    and embedding programs control them.

    One instance reads one document: together, its substitutions may add at most ``limit``
    characters (values taken from the environment or ``${ome:…}``; a default written in the
    document is already part of it); past that, :class:`~omeapi.ConfigError`.
    """

    environ: Mapping[str, str] = attrs.field(factory=lambda: os.environ)
    home: str = ""
    #: ``${ome:CurrentPath}``; None: the working directory when substituted (a REST body
    #: is read with a new instance, and few use it: no system call per body)
    current_path: str | None = None
    hostname: Callable[[], str] = _hostname
    limit: int = MAX_EXPANSION
    _budget: _Budget = attrs.field(init=False, eq=False, repr=False)

    @_budget.default
    def _new_budget(self) -> _Budget:
        return _Budget(self.limit)

    def __call__(self, text: str) -> str:
        """Substitute ``text`` in one left-to-right pass; replaced text is not re-scanned."""
        if "${" not in text:
            return text
        text = _ENV_RE.sub(self._env, text)
        if "${ome:" in text:
            text = self._ome(text, "${ome:Home}", self.home)
            if "${ome:CurrentPath}" in text:
                current = os.getcwd() if self.current_path is None else self.current_path
                text = self._ome(text, "${ome:CurrentPath}", current)
        return text

    def _spend(self, size: int, what: str) -> None:
        budget = self._budget
        budget.left -= size
        if budget.left < 0:
            raise ConfigError(
                f"Substituted values are too large: {what} brings the text added by "
                f"substitutions in this document past {self.limit} characters"
            )

    def _ome(self, text: str, name: str, path: str) -> str:
        count = text.count(name)
        if not count:
            return text
        value = _slash(path)
        self._spend(count * len(value), name)
        return text.replace(name, value)

    def _env(self, m: re.Match[str]) -> str:
        name, _, default = m.group(1).partition(":")
        value = self.environ.get(name)
        if value is None and name == "HOSTNAME":
            with contextlib.suppress(OSError):
                value = self.hostname()
        if value is None:
            return default
        self._spend(len(value), f"${{env:{name}}}")
        return value


def _slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"
