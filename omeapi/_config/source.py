"""Reading Server.xml files safely: defusedxml, includes, bounds, and errors with file and line.

The parse uses defusedxml's ElementTree parser (no DTD, no entities, no external references).
While the tree is built, the elements are checked against the schema as they arrive
(:class:`_GuardedBuilder`): a file of millions of unknown elements is refused after a few
thousand of them, not once all are built (see docs/compatibility.md on which error is reported
when a large file has several).  Line numbers are only needed when something is wrong, so they
are found then, by parsing the same bytes again with a line-recording target, up to the
element wanted.

Only regular files are read: a FIFO, a device or a socket is refused before anything is read
(opening a FIFO for reading would block until a writer comes).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from omeapi._access.hosts import compile_alternatives, wildcard_regex, wildcard_tokens
from omeapi._config.kinds import Kind
from omeapi._config.schema import Spec
from omeapi._config.tree import ErrorFn, XmlReader
from omeapi._errors import ConfigError

__all__ = [
    "MAX_INCLUDED_FILES",
    "MAX_INCLUDE_DEPTH",
    "XmlFile",
    "include_files",
    "parse_bytes",
    "parse_file",
]

#: Files larger than this are refused: a Server.xml is kilobytes, not gigabytes.
MAX_FILE_BYTES = 64 * 1024 * 1024


class _Enough(Exception):
    """Stops the line recorder once it has reached the element wanted."""


class _LineRecorder:
    """An ElementTree target that only records where each element starts, up to ``upto``."""

    def __init__(self, upto: int) -> None:
        self.lines: list[int] = []
        self.upto = upto
        self.parser: DefusedXMLParser | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        assert self.parser is not None
        self.lines.append(self.parser.parser.CurrentLineNumber)
        if len(self.lines) > self.upto:
            raise _Enough

    def end(self, tag: str) -> None:
        """Nothing: only element starts carry the lines looked for."""

    def data(self, data: str) -> None:
        """Nothing: text is not needed to find a line."""

    def close(self) -> None:
        """Nothing: the lines are read from the recorder itself."""


class XmlFile:
    """One parsed XML file: its root element and, on demand, the line of any element."""

    __slots__ = ("_lines", "data", "path", "root")

    def __init__(self, path: str, data: bytes, root: Element) -> None:
        self.path = path
        self.data = data
        self.root = root
        self._lines: list[int] = []

    def line_of(self, element: Element) -> int | None:
        """The line where ``element`` starts (None if it is not from this file).

        Costs a walk of the elements before it and a parse up to it: errors are found near
        where they are, and only once per load.
        """
        position = next((i for i, e in enumerate(self.root.iter()) if e is element), None)
        if position is None:
            return None
        if position >= len(self._lines):
            recorder = _LineRecorder(position)
            parser = DefusedXMLParser(target=recorder, forbid_dtd=True)
            recorder.parser = parser
            try:
                parser.feed(self.data)
                parser.close()
            except _Enough:  # the line was found: the rest need not be parsed
                pass
            except (ParseError, DefusedXmlException):
                return None  # the element came from a partial parse past it (cannot happen)
            self._lines = recorder.lines
        return self._lines[position] if position < len(self._lines) else None

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


#: What the guard pushes for an element whose content the reader does not look at.
_SKIP: tuple[Spec | None, str, set[str]] = (None, "", set())

#: Past this many elements, the first unknown one ends the parse.  Below it the whole file is
#: read and the reader reports the first problem in its own order, exactly as OME.
EARLY_UNKNOWN_AFTER = 20_000


class _Early(Exception):
    """Ends the parse: the guard has found an unknown element in a large file."""


class _GuardedBuilder:
    """A tree-builder target that follows the schema while the tree is built.

    It finds the first unknown element as it is parsed, so a file of millions of them is
    refused after :data:`EARLY_UNKNOWN_AFTER` elements, not once all are built.  It mirrors
    the reader's walk conservatively: only children of items the reader would read are looked
    at (the first occurrence of a single item, list elements without ``include``); anything
    with an ``ignore`` attribute, and the content of scalars, are left to the reader.  So it
    never reports an element the reader would accept.
    """

    __slots__ = (
        "_end",
        "_start",
        "close",
        "count",
        "data",
        "first",
        "parser",
        "root_spec",
        "stack",
    )

    def __init__(self, spec: Spec, path: str) -> None:
        builder = TreeBuilder()
        # The C builder's own methods do the building; only start and end pass through here.
        self._start = builder.start
        self._end = builder.end
        self.data = builder.data
        self.close = builder.close
        self.root_spec = (spec, path)
        self.stack: list[tuple[Spec | None, str, set[str]]] = []
        self.count = 0
        self.parser: DefusedXMLParser | None = None
        #: the first unknown element: its message, line and the path of its parent
        self.first: tuple[str, int | None, str] | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        el = self._start(tag, attrs)
        self.count += 1
        stack = self.stack
        if not stack:
            spec, path = self.root_spec
            stack.append((spec, path, set()) if tag == spec.xml_name else _SKIP)
            return el
        parent, path, seen = stack[-1]
        if parent is None:
            stack.append(_SKIP)
            return el
        cs = parent.by_xml.get(tag)
        if cs is None:
            if self.first is None and "ignore" not in attrs:
                self._found(path, tag)
            stack.append(_SKIP)
        elif cs.kind is Kind.ITEM:
            if tag in seen or "ignore" in attrs:
                stack.append(_SKIP)
            else:
                stack.append((cs, f"{path}.{cs.json_name}", set()))
            seen.add(tag)
        elif cs.kind is Kind.LIST_OF_ITEM and "include" not in attrs and "ignore" not in attrs:
            stack.append((cs, cs.xml_name, set()))
        else:
            stack.append(_SKIP)
        if self.first is not None and self.count >= EARLY_UNKNOWN_AFTER:
            raise _Early
        return el

    def end(self, tag: str) -> Element:
        self.stack.pop()
        return self._end(tag)

    def _found(self, path: str, tag: str) -> None:
        line = None if self.parser is None else self.parser.parser.CurrentLineNumber
        self.first = (f"Unknown item found: {path}.{tag}", line, path)


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


def parse_file(path: str, guard: tuple[Spec, str] | None = None) -> XmlFile:
    """Read and parse ``path`` with defusedxml; every failure is a :class:`ConfigError`.

    ``guard`` (the spec the root element is read as, and its path in messages) lets a file
    full of unknown elements be refused while it is parsed.
    """
    too_large = ConfigError(
        f"Could not read the file: {path} (reason: File is too large, offset: 0)", file=path
    )
    try:
        # Non-blocking, so that opening a FIFO returns at once; it is then refused by type.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb", closefd=True) as fh:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(21, "Is a directory")
            if not stat.S_ISREG(mode):
                raise ConfigError(
                    f"Could not read the file: {path} (reason: Not a regular file, offset: 0)",
                    file=path,
                )
            if os.fstat(fd).st_size > MAX_FILE_BYTES:
                raise too_large
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
    return parse_bytes(data, path, guard)


def parse_bytes(data: bytes, path: str, guard: tuple[Spec, str] | None = None) -> XmlFile:
    """Parse XML bytes that came from ``path`` (which only names them in errors).

    With ``guard`` (see :func:`parse_file`) the elements are checked as they are built.
    """
    # defusedxml's parser defaults to the pure-Python tree builder; the C one builds the
    # same tree several times faster (the guard passes everything but start/end to it).
    target: TreeBuilder | _GuardedBuilder = (
        TreeBuilder() if guard is None else _GuardedBuilder(*guard)
    )
    parser = DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        if isinstance(target, _GuardedBuilder):
            target.parser = parser
        parser.feed(data)
        root = parser.close()
    except _Early:
        assert isinstance(target, _GuardedBuilder) and target.first is not None
        text, line, where = target.first
        raise ConfigError(f"{text} in {path}", file=path, line=line, path=where) from None
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise ConfigError(
            f"Could not read the file: {path} (reason: {reason}, "
            f"offset: {_offset(data, line, column)})",
            file=path,
            line=line,
            # OME's text counts bytes; a person looks for a line and a column.
            hint=f"line {line}, column {column + 1}",
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
    return XmlFile(path, data, root)


def _defused_reason(exc: DefusedXmlException) -> str:
    name = type(exc).__name__
    return {
        "DTDForbidden": "DTDs are not allowed",
        "EntitiesForbidden": "Entity declarations are not allowed",
        "ExternalReferenceForbidden": "External references are not allowed",
    }.get(name, name)


#: How deep includes may nest (the main file is level 0).
MAX_INCLUDE_DEPTH = 16

#: How many files one load may include in all (includes can fan out at every level).
MAX_INCLUDED_FILES = 4096


def _readable_entry(entry: os.DirEntry[str]) -> bool:
    # Regular files are included; so are FIFOs, devices and sockets, which parse_file then
    # refuses by name (a pattern that names one is a mistake worth reporting).  Directories
    # and dangling links are skipped.
    try:
        mode = entry.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISDIR(mode)


def include_files(pattern: str, base_dir: str) -> list[str]:
    """The files an ``include`` pattern names, sorted.

    Only the directory part is taken literally; each full path in that one directory is
    matched with OME's wildcard rules.  OME keeps the filesystem's order; sorting makes the
    result the same on every machine.
    """
    full = pattern if pattern.startswith("/") else f"{base_dir.rstrip('/')}/{pattern}"
    directory = os.path.dirname(full) or "/"
    atoms = wildcard_tokens(full)
    if atoms is None:
        try:
            re.compile(wildcard_regex(full))
        except (re.error, RecursionError, OverflowError) as exc:
            raise ConfigError(f"Invalid expression: {pattern} ({exc})") from None
        raise ConfigError(f"Invalid expression: {pattern}")
    matches = compile_alternatives([atoms])
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
        if matches(os.path.join(directory, e.name)) is not None and _readable_entry(e)
    ]


def _chain_text(files: tuple[str, ...]) -> str:
    return " -> ".join(files)


def make_include(warn: Callable[[str], None]) -> Callable[..., list[tuple[Element, XmlReader]]]:
    """The ``include`` expansion used by :class:`XmlReader` (one per load: it counts files)."""
    included = 0

    def include(
        pattern: str, el: Element, reader: XmlReader, spec: Spec, path: str
    ) -> list[tuple[Element, XmlReader]]:
        nonlocal included
        try:
            paths = include_files(pattern, reader.base_dir)
        except ConfigError as exc:
            raise reader.on_error(exc, el, path) from None
        chain = (*reader.chain, reader.file)
        out: list[tuple[Element, XmlReader]] = []
        for file in paths:
            real = os.path.realpath(file)
            if real in {os.path.realpath(f) for f in chain}:
                raise reader.on_error(
                    ConfigError(f"Include loop: {_chain_text((*chain, file))}"), el, path
                )
            if len(chain) > MAX_INCLUDE_DEPTH:
                raise reader.on_error(
                    ConfigError(
                        f"Includes nested too deeply (more than {MAX_INCLUDE_DEPTH} levels): "
                        f"{_chain_text((*chain, file))}"
                    ),
                    el,
                    path,
                )
            included += 1
            if included > MAX_INCLUDED_FILES:
                raise reader.on_error(
                    ConfigError(
                        f"Too many included files (more than {MAX_INCLUDED_FILES}): "
                        f"{_chain_text((*chain, file))}"
                    ),
                    el,
                    path,
                )
            xml = parse_file(file, (spec, path))
            if xml.root.tag != el.tag:
                raise ConfigError(
                    f"Could not find the root element: <{el.tag}> in {file}", file=file, line=1
                )
            base = os.path.dirname(file) if pattern.startswith("/") else reader.base_dir
            out.append((xml.root, reader.with_source(file, base, xml.error_fn())))
        return out

    return include
