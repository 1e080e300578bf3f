"""Reading Server.xml files safely: defusedxml, includes, and errors with file and line.

The fast path parses with defusedxml's ElementTree parser (no DTD, no entities, no external
references).  Line numbers are only needed when something is wrong, so they are found then,
by parsing the same bytes again with a line-recording target and matching elements by their
position in document order.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from omeapi._access.hosts import wildcard_regex
from omeapi._config.tree import ErrorFn, XmlReader
from omeapi._errors import ConfigError

__all__ = ["XmlFile", "include_files", "parse_file"]

#: Files larger than this are refused: a Server.xml is kilobytes, not gigabytes.
MAX_FILE_BYTES = 64 * 1024 * 1024


class _LineRecorder:
    """An ElementTree target that only records where each element starts."""

    def __init__(self) -> None:
        self.lines: list[int] = []
        self.parser: DefusedXMLParser | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        assert self.parser is not None
        self.lines.append(self.parser.parser.CurrentLineNumber)

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


class XmlFile:
    """One parsed XML file: its root element and, on demand, the line of any element."""

    __slots__ = ("_index", "_lines", "data", "path", "root")

    def __init__(self, path: str, data: bytes, root: Element) -> None:
        self.path = path
        self.data = data
        self.root = root
        self._index: dict[int, int] | None = None
        self._lines: list[int] | None = None

    def line_of(self, element: Element) -> int | None:
        """The line where ``element`` starts (None if it is not from this file)."""
        if self._index is None:
            self._index = {id(e): i for i, e in enumerate(self.root.iter())}
            recorder = _LineRecorder()
            parser = DefusedXMLParser(target=recorder, forbid_dtd=True)
            recorder.parser = parser
            parser.feed(self.data)
            parser.close()
            self._lines = recorder.lines
        position = self._index.get(id(element))
        if position is None or self._lines is None or position >= len(self._lines):
            return None
        return self._lines[position]

    def error_fn(self) -> ErrorFn:
        """A callback that fills in this file's name and the element's line."""

        def locate(exc: ConfigError, element: Element, path: str) -> ConfigError:
            if exc.file is None:
                exc.file = self.path
            if exc.line is None and exc.file == self.path:
                exc.line = self.line_of(element)
            if not exc.path:
                exc.path = path
            return exc

        return locate


def _offset(data: bytes, line: int, column: int) -> int:
    start = 0
    for _ in range(line - 1):
        found = data.find(b"\n", start)
        if found < 0:
            break
        start = found + 1
    return start + column


def _read_at_most(fh: BinaryIO, limit: int) -> bytes | None:
    """The whole content, or None past ``limit`` bytes.

    Bounded even when the size on disk lied (a device, a file still growing); read in pieces
    because ``read(limit)`` would allocate ``limit`` bytes up front.
    """
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        part = fh.read(min(_CHUNK, limit + 1 - total))
        if not part:
            return b"".join(parts)
        parts.append(part)
        total += len(part)
    return None


_CHUNK = 16 * 1024 * 1024


def parse_file(path: str) -> XmlFile:
    """Read and parse ``path`` with defusedxml; every failure is a :class:`ConfigError`."""
    too_large = ConfigError(
        f"Could not read the file: {path} (reason: File is too large, offset: 0)", file=path
    )
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise too_large
        with open(path, "rb") as fh:
            data = _read_at_most(fh, MAX_FILE_BYTES)
        if data is None:
            raise too_large
    except FileNotFoundError:
        raise ConfigError(
            f"Could not read the file: {path} (reason: File was not found, offset: 0)", file=path
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Could not read the file: {path} (reason: {exc.strerror or exc}, offset: 0)",
            file=path,
        ) from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: str) -> XmlFile:
    """Parse XML bytes that came from ``path`` (which only names them in errors)."""
    # defusedxml's parser defaults to the pure-Python tree builder; the C one builds the
    # same tree several times faster.
    parser = DefusedXMLParser(
        target=TreeBuilder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    # Building a large tree allocates many objects at once; the cyclic collector would run
    # repeatedly over them for nothing (the tree has no cycles), so it waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise ConfigError(
            f"Could not read the file: {path} (reason: {reason}, "
            f"offset: {_offset(data, line, column)})",
            file=path,
            line=line,
        ) from None
    except DefusedXmlException as exc:
        raise ConfigError(
            f"Could not read the file: {path} (reason: {_defused_reason(exc)}, offset: 0)",
            file=path,
        ) from None
    except (ValueError, LookupError) as exc:
        # An unknown or inconsistent encoding declaration.
        raise ConfigError(
            f"Could not read the file: {path} (reason: {exc}, offset: 0)", file=path
        ) from None
    finally:
        if collecting:
            gc.enable()
    return XmlFile(path, data, root)


def _defused_reason(exc: DefusedXmlException) -> str:
    name = type(exc).__name__
    return {
        "DTDForbidden": "DTDs are not allowed",
        "EntitiesForbidden": "Entity declarations are not allowed",
        "ExternalReferenceForbidden": "External references are not allowed",
    }.get(name, name)


def include_files(pattern: str, base_dir: str) -> list[str]:
    """The regular files an ``include`` pattern names, sorted.

    Only the directory part is taken literally; each full path in that one directory is
    matched with OME's wildcard rules.  OME keeps the filesystem's order; sorting makes the
    result the same on every machine.
    """
    full = pattern if pattern.startswith("/") else f"{base_dir.rstrip('/')}/{pattern}"
    directory = os.path.dirname(full) or "/"
    try:
        regex = re.compile(wildcard_regex(full))
    except re.error as exc:
        raise ConfigError(f"Invalid expression: {pattern} ({exc})") from None
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise ConfigError(
            f"Could not obtain file list: current path: {directory}/, include pattern: "
            f"{pattern} ({exc.strerror or exc})"
        ) from None
    return [
        e.path
        for e in entries
        if e.is_file() and regex.fullmatch(os.path.join(directory, e.name)) is not None
    ]


def make_include(warn: Callable[[str], None]) -> Callable[..., list[tuple[Element, XmlReader]]]:
    """The ``include`` expansion used by :class:`XmlReader`."""

    def include(pattern: str, el: Element, reader: XmlReader) -> list[tuple[Element, XmlReader]]:
        try:
            paths = include_files(pattern, reader.base_dir)
        except ConfigError as exc:
            raise reader.on_error(exc, el, el.tag) from None
        out: list[tuple[Element, XmlReader]] = []
        for path in paths:
            real = os.path.realpath(path)
            if real in {os.path.realpath(f) for f in (*reader.chain, reader.file)}:
                raise reader.on_error(
                    ConfigError(f"Include loop: {path} includes itself (through {reader.file})"),
                    el,
                    el.tag,
                )
            xml = parse_file(path)
            if xml.root.tag != el.tag:
                raise ConfigError(
                    f"Could not find the root element: <{el.tag}> in {path}", file=path, line=1
                )
            base = os.path.dirname(path) if pattern.startswith("/") else reader.base_dir
            out.append((xml.root, reader.with_source(path, base, xml.error_fn())))
        return out

    return include
