"""The schema engine's view of the table: one :class:`Spec` per element.

The rows live in :mod:`omeapi._config._table` (data, one per element OME 0.20 accepts); the
checks live in :mod:`omeapi._config.checks` (data keyed by path).  This module joins them into a
tree of specs that :mod:`omeapi._config.tree` walks.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from omeapi._config._table import ROWS

__all__ = ["SCHEMA", "Kind", "Spec", "spec_at"]


class Kind(enum.Enum):
    """What an element holds."""

    STRING = "string"
    INT = "int"
    LONG = "long"
    BOOL = "bool"
    DOUBLE = "double"
    ATTRIBUTE = "attribute"
    PORT = "port"
    RANGED_PORT = "ranged_port"
    ENABLED_MODULES = "enabled_modules"
    ITEM = "item"
    LIST_OF_ITEM = "list_of_item"
    LIST_OF_STRING = "list_of_string"


SCALAR_KINDS = frozenset(
    {
        Kind.STRING,
        Kind.INT,
        Kind.LONG,
        Kind.BOOL,
        Kind.DOUBLE,
        Kind.ATTRIBUTE,
        Kind.PORT,
        Kind.RANGED_PORT,
        Kind.ENABLED_MODULES,
    }
)

ValueCheck = Callable[[Any, Mapping[str, Any]], Any]
AbsentCheck = Callable[[Mapping[str, Any]], None]
ItemCheck = Callable[[Mapping[str, Any]], None]


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


def _build() -> Spec:
    from omeapi._config.checks import attach_checks
    from omeapi._config.newer import attach_newer_checks, merged

    specs: dict[str, Spec] = {}
    kids: dict[str, list[Spec]] = {}
    # The one seam for newer OME releases: their rows join 0.20's, their checks follow.
    for path, json_name, kind, flags, default in merged(ROWS):
        words = flags.split()
        spec = Spec(
            path, json_name, Kind(kind), "R" in words, default, "omit" in words, "path" in words
        )
        specs[path] = spec
        kids[path] = []
        parent = path.rpartition(".")[0]
        if parent:
            kids[parent].append(spec)
    for path, children in kids.items():
        specs[path]._adopt(children)
    attach_checks(specs)
    attach_newer_checks(specs)
    for spec in specs.values():
        spec.watch = tuple(
            c
            for c in spec.children
            if c.kind is Kind.ATTRIBUTE or c.required or c.absent_check is not None
        )
    return specs["Server"]


#: The root of the schema: ``<Server>``.
SCHEMA = _build()


def spec_at(path: str) -> Spec:
    """The spec at a dotted schema path such as ``Server.VirtualHosts.VirtualHost``."""
    names = path.split(".")
    if names[0] != SCHEMA.xml_name:
        raise KeyError(path)
    spec = SCHEMA
    for name in names[1:]:
        spec = spec.by_xml[name] if name in spec.by_xml else spec.by_json[name]
    return spec
