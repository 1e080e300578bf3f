"""The generic config tree: what a Server.xml element or a JSON body holds, nothing lost.

A :class:`Scalar` keeps both the raw value (the XML text or the JSON value as given, before
``${env:…}`` substitution; OME echoes it in its JSON form) and the converted value.  An
:class:`Item` maps XML names to its present children in registration order; a list is a tuple
of scalars or items.  Absent children are simply not there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omeapi._config.schema import Spec

__all__ = ["Item", "Node", "Scalar"]

JsonValue = Any


class Scalar:
    """A present scalar: ``raw`` as written, ``value`` as converted."""

    __slots__ = ("raw", "value")

    def __init__(self, raw: JsonValue, value: Any) -> None:
        self.raw = raw
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scalar):
            return NotImplemented
        return _same(self.raw, other.raw) and _same(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Scalar({self.raw!r}, {self.value!r})"


def _same(a: object, b: object) -> bool:
    # NaN from a <Double> must compare equal to itself for round trips to hold.
    if a != a and b != b:
        return True
    return type(a) is type(b) and a == b


class Item:
    """A present element with children (or an empty one: ``<OVT/>`` is ``Item(spec, {})``)."""

    __slots__ = ("fields", "spec")

    def __init__(self, spec: Spec, fields: dict[str, Node]) -> None:
        self.spec = spec
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self.spec.path == other.spec.path and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Item({self.spec.path!r}, {self.fields!r})"

    def get(self, xml_name: str) -> Node | None:
        """The child named ``xml_name`` if present."""
        return self.fields.get(xml_name)

    def value(self, xml_name: str, default: Any = None) -> Any:
        """The converted value of a scalar child, or ``default`` when absent."""
        node = self.fields.get(xml_name)
        if isinstance(node, Scalar):
            return node.value
        return default

    def item(self, xml_name: str) -> Item | None:
        """A present item child, or None."""
        node = self.fields.get(xml_name)
        return node if isinstance(node, Item) else None

    def items(self, xml_name: str) -> tuple[Item, ...]:
        """The elements of a list of items (empty when absent)."""
        node = self.fields.get(xml_name)
        if isinstance(node, tuple):
            return tuple(n for n in node if isinstance(n, Item))
        return ()

    def strings(self, xml_name: str) -> tuple[str, ...]:
        """The values of a list of strings (empty when absent)."""
        node = self.fields.get(xml_name)
        if isinstance(node, tuple):
            return tuple(str(n.value) for n in node if isinstance(n, Scalar))
        return ()


Node = Scalar | Item | tuple[Scalar | Item, ...]
