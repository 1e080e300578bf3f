"""Which newer-than-0.20 elements a Server.xml uses, and where (for ``omeapi check``).

The walk follows the schema through the XML as the reader does (``ignore="true"`` skipped,
``include="…"`` followed), and reports each newer element path once, at its first place in
document order; the children of a newer element are not listed again.  It runs on a config
that has already loaded, so every element is known.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from xml.etree.ElementTree import Element

import attrs

from omeapi._config.newer import SINCE, newest
from omeapi._config.schema import Spec
from omeapi._config.source import XmlFile, include_files, parse_file
from omeapi._config.tree import SCHEMA
from omeapi._config.values import Substitution

__all__ = ["NewerUse", "describe", "newer_elements"]


@attrs.frozen
class NewerUse:
    """One newer element in a config: its schema path, first OME version, file and line."""

    path: str
    since: str
    file: str
    line: int | None

    @property
    def element(self) -> str:
        """The path as nested tags below ``<Server>``: ``<Bind><Providers>…``."""
        return "".join(f"<{name}>" for name in self.path.split(".")[1:])


def newer_elements(xml: XmlFile, subst: Substitution | None = None) -> list[NewerUse]:
    """The newer elements ``xml`` (a loaded Server.xml) uses, first place of each."""
    config_dir = os.path.dirname(os.path.abspath(xml.path))
    if subst is None:
        subst = Substitution(home=os.path.dirname(config_dir))
    found: dict[str, NewerUse] = {}
    for use in _walk(SCHEMA, xml.root, xml, config_dir, subst):
        found.setdefault(use.path, use)
    return list(found.values())


def _walk(
    spec: Spec, el: Element, xml: XmlFile, base_dir: str, subst: Substitution
) -> Iterator[NewerUse]:
    for child in el:
        cs = spec.by_xml.get(child.tag) if isinstance(child.tag, str) else None
        if cs is None:
            continue
        flag = child.get("ignore")
        if flag is not None and subst(flag) == "true":
            continue
        since = SINCE.get(cs.path)
        if since is not None:
            # Its children are as new as it is: the element itself says enough.
            yield NewerUse(cs.path, since, xml.path, xml.line_of(child))
            continue
        if not cs.is_item:
            continue
        pattern = child.get("include")
        if pattern is None:
            yield from _walk(cs, child, xml, base_dir, subst)
            continue
        # As when loading, the included files stand for the element.
        expanded = subst(pattern)
        for path in include_files(expanded, base_dir):
            included = parse_file(path)
            base = os.path.dirname(path) if expanded.startswith("/") else base_dir
            yield from _walk(cs, included.root, included, base, subst)


#: How many newer elements ``omeapi check`` names before summing up the rest.
SHOWN = 5


def describe(uses: list[NewerUse], main_file: str) -> str:
    """``uses elements of OME 0.21.0+: <A> at line 3, <B> at line 9 (0.20.5)``."""
    version = newest([u.since for u in uses])
    parts = []
    for use in uses[:SHOWN]:
        where = f" at line {use.line}" if use.line is not None else ""
        if use.file != main_file:
            where += f" of {use.file}"
        own = f" ({use.since})" if use.since != version else ""
        parts.append(f"{use.element}{where}{own}")
    if len(uses) > SHOWN:
        parts.append(f"and {len(uses) - SHOWN} more")
    return f"uses elements of OME {version}+: " + ", ".join(parts)
