"""The schema engine's view of the table: one :class:`Spec` per element.

The rows live in :mod:`omeapi._config._table` (data, one per element OME 0.20 accepts); the
checks live in :mod:`omeapi._config.checks` (data keyed by path).  :func:`build` joins rows and
check tables into a tree of specs; the engine (:mod:`omeapi._config.tree`) binds the two and
walks the result.  This module knows neither the rows nor the checks: the arrows go one way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from omeapi._config.kinds import AbsentCheck, ItemCheck, Kind, ValueCheck

__all__ = ["Row", "Spec", "build", "by_path", "find"]

#: One row of the table: path, JSON name, kind, flags (``R``, ``omit``, ``path``), default.
Row = tuple[str, str, str, str, str]


class Spec:
    """One element of the schema: its names, kind, required-ness and checks.

    For a list, the spec describes the repeated element; ``is_list`` is true.  Items and list
    elements of items have ``children`` in registration order (that is the parse order).
    """

    __slots__ = (
        "absent_check",
        "attributes",
        "by_attr",
        "by_json",
        "by_xml",
        "children",
        "default",
        "element_kind",
        "is_item",
        "is_list",
        "item_check",
        "json_name",
        "kind",
        "omit_json_name",
        "omitted_list",
        "order",
        "path",
        "required",
        "resolve_path",
        "value_check",
        "watch",
        "xml_name",
    )

    def __init__(
        self,
        path: str,
        json_name: str,
        kind: Kind,
        required: bool,
        default: str,
        omit_json_name: bool,
        resolve_path: bool,
    ) -> None:
        self.path = path
        self.xml_name = path.rsplit(".", 1)[-1]
        self.json_name = json_name
        self.kind = kind
        self.required = required
        self.default = default
        self.omit_json_name = omit_json_name
        self.resolve_path = resolve_path
        self.is_list = kind in (Kind.LIST_OF_ITEM, Kind.LIST_OF_STRING)
        self.is_item = kind in (Kind.ITEM, Kind.LIST_OF_ITEM)
        #: the kind of one element (a list of strings holds STRING elements)
        self.element_kind = Kind.STRING if kind is Kind.LIST_OF_STRING else kind
        self.children: tuple[Spec, ...] = ()
        self.attributes: tuple[Spec, ...] = ()
        self.by_xml: dict[str, Spec] = {}
        self.by_json: dict[str, Spec] = {}
        self.by_attr: dict[str, Spec] = {}
        #: the only child, when it is a list whose JSON form replaces this item's object
        self.omitted_list: Spec | None = None
        self.order = 0
        self.value_check: ValueCheck | None = None
        self.absent_check: AbsentCheck | None = None
        self.item_check: ItemCheck | None = None
        #: children that matter even when absent (attributes, required, absent checks)
        self.watch: tuple[Spec, ...] = ()

    def __repr__(self) -> str:
        return f"Spec({self.path!r}, {self.kind.value})"

    def _adopt(self, children: list[Spec]) -> None:
        self.children = tuple(children)
        self.attributes = tuple(c for c in children if c.kind is Kind.ATTRIBUTE)
        for index, child in enumerate(children):
            child.order = index
            if child.kind is Kind.ATTRIBUTE:
                self.by_attr[child.xml_name] = child
            else:
                self.by_xml[child.xml_name] = child
                self.by_json[child.json_name] = child
        if len(children) == 1 and children[0].omit_json_name:
            self.omitted_list = children[0]


def _longest_suffix(path: str, table: Mapping[str, Callable[..., Any]]) -> Any:
    best: Callable[..., Any] | None = None
    best_len = -1
    for key, check in table.items():
        if (path == key or path.endswith("." + key)) and len(key) > best_len:
            best, best_len = check, len(key)
    return best


def build(
    rows: Iterable[Row],
    value_checks: Mapping[str, ValueCheck],
    absent_checks: Mapping[str, AbsentCheck],
    item_checks: Mapping[str, ItemCheck],
) -> Spec:
    """The spec tree of ``rows`` with each check hung on the specs whose path it names.

    Check tables are keyed by path suffix (``Encodes.Video.Preset``); the longest suffix that
    matches a spec's path wins.  Returns the root (the first row's element).
    """
    specs: dict[str, Spec] = {}
    kids: dict[str, list[Spec]] = {}
    root: Spec | None = None
    for path, json_name, kind, flags, default in rows:
        words = flags.split()
        spec = Spec(
            path, json_name, Kind(kind), "R" in words, default, "omit" in words, "path" in words
        )
        specs[path] = spec
        kids[path] = []
        parent = path.rpartition(".")[0]
        if parent:
            kids[parent].append(spec)
        elif root is None:
            root = spec
    if root is None:
        raise ValueError("an empty schema table")
    for path, children in kids.items():
        specs[path]._adopt(children)
    for path, spec in specs.items():
        spec.value_check = _longest_suffix(path, value_checks)
        spec.absent_check = _longest_suffix(path, absent_checks)
        spec.item_check = _longest_suffix(path, item_checks)
    for spec in specs.values():
        spec.watch = tuple(
            c
            for c in spec.children
            if c.kind is Kind.ATTRIBUTE or c.required or c.absent_check is not None
        )
    return root


def find(root: Spec, path: str) -> Spec:
    """The spec at a dotted path such as ``Server.VirtualHosts.VirtualHost`` (XML or JSON
    names) under ``root``; KeyError when there is none."""
    names = path.split(".")
    if names[0] != root.xml_name:
        raise KeyError(path)
    spec = root
    for name in names[1:]:
        spec = spec.by_xml[name] if name in spec.by_xml else spec.by_json[name]
    return spec


def by_path(root: Spec) -> dict[str, Spec]:
    """Every spec under ``root`` (itself included), by dotted path."""
    found: dict[str, Spec] = {}
    stack = [root]
    while stack:
        spec = stack.pop()
        found[spec.path] = spec
        stack.extend(spec.children)
    return found
