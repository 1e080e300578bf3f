"""The one generic engine: read the schema's elements from XML or JSON, write OME's JSON form.

There are no per-element functions: every rule (required-ness and the optional-parent rule,
unknown elements, ``ignore``, ``include``, conversion, checks) is applied by walking the
:class:`~omeapi._config.schema.Spec` tree.  The engine is also where the table's rows and the
checks are bound into that tree (:data:`SCHEMA`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element

from omeapi._config import schema
from omeapi._config._table import ROWS
from omeapi._config.checks import ABSENT_CHECKS, ITEM_CHECKS, VALUE_CHECKS
from omeapi._config.kinds import Kind
from omeapi._config.newer import attach_newer_checks, merged
from omeapi._config.nodes import Item, JsonValue, Node, Scalar
from omeapi._config.schema import Spec
from omeapi._config.values import (
    INT32,
    INT64,
    Substitution,
    c_stod,
    c_stoi,
    parse_bool,
    parse_enabled_modules,
    parse_port,
    parse_ranged_port,
)
from omeapi._errors import ConfigError

__all__ = ["SCHEMA", "JsonReader", "Previous", "XmlReader", "spec_at", "to_json"]

#: An item and its JSON form (``to_json(item)``): what a changed value was derived from.
Previous = tuple[Item, Any]

#: The root of the schema, ``<Server>``: the table's rows with the checks bound to them.
SCHEMA = schema.build(merged(ROWS), VALUE_CHECKS, ABSENT_CHECKS, ITEM_CHECKS)
# The one seam for newer OME releases: their rows join 0.20's (above), their checks follow.
attach_newer_checks(schema.by_path(SCHEMA))


def spec_at(path: str) -> Spec:
    """The spec at a dotted schema path such as ``Server.VirtualHosts.VirtualHost``."""
    return schema.find(SCHEMA, path)


_Converter = Callable[[str], Any]


def _int32(text: str) -> int:
    # Plain ASCII digits short enough to fit are the common case: no regex needed.
    if len(text) < 10 and text.isdigit() and text.isascii():
        return int(text)
    return c_stoi(text)


def _int64(text: str) -> int:
    if len(text) < 19 and text.isdigit() and text.isascii():
        return int(text)
    return c_stoi(text, INT64)


_TEXT_CONVERTERS: dict[Kind, _Converter] = {
    Kind.STRING: str,
    Kind.ATTRIBUTE: str,
    Kind.INT: _int32,
    Kind.LONG: _int64,
    Kind.BOOL: parse_bool,
    Kind.DOUBLE: c_stod,
    Kind.PORT: parse_port,
    Kind.RANGED_PORT: parse_ranged_port,
    Kind.ENABLED_MODULES: parse_enabled_modules,
}


def _xml_converters() -> dict[Spec, _Converter | None]:
    """Each spec's text converter (None: the text is the value), looked up once per element."""
    out: dict[Spec, _Converter | None] = {}
    stack = [SCHEMA]
    while stack:
        spec = stack.pop()
        kind = spec.element_kind
        out[spec] = None if kind in (Kind.STRING, Kind.ATTRIBUTE) else _TEXT_CONVERTERS.get(kind)
        stack.extend(spec.children)
    return out


def _resolve(spec: Spec, value: Any, base_dir: str) -> Any:
    if spec.resolve_path and value and not value.startswith("/"):
        return f"{base_dir.rstrip('/')}/{value}"
    return value


def _absent(spec: Spec, fields: dict[str, Node], path: str, parent_optional: bool) -> None:
    if spec.required:
        if not parent_optional:
            raise ConfigError(f"{path}.{spec.json_name} is not optional")
    elif spec.absent_check is not None:
        spec.absent_check(fields)


def _store(spec: Spec, fields: dict[str, Node], raw: JsonValue, value: Any) -> None:
    if spec.value_check is not None:
        value = spec.value_check(value, fields)
    fields[spec.xml_name] = Scalar(raw, value)


_ORDER = operator.attrgetter("order")

# Large configs repeat the same shapes (every app has the same children), so the visiting
# order is computed once per shape.  Bounded: odd inputs just compute it each time.
_ORDER_CACHE: dict[tuple[Spec, tuple[str, ...]], list[Spec]] = {}
_ORDER_CACHE_MAX = 4096


def _in_order(spec: Spec, present: dict[str, Any]) -> list[Spec]:
    """The children to visit, in registration order: the present ones and those that matter
    when absent.  Skipping the rest keeps large configs cheap without changing any outcome."""
    key = (spec, tuple(present))
    todo = _ORDER_CACHE.get(key)
    if todo is not None:
        return todo
    by_xml = spec.by_xml
    todo = [by_xml[name] for name in present]
    if spec.watch:
        todo.extend(c for c in spec.watch if c.xml_name not in present)
    if len(todo) > 1:
        todo.sort(key=_ORDER)
    if len(_ORDER_CACHE) < _ORDER_CACHE_MAX:
        _ORDER_CACHE[key] = todo
    return todo


# ---------------------------------------------------------------------------------- XML

# pugixml's whitespace: a text node made only of these is dropped (``\xa0`` is text).
_XML_SPACE = " \t\r\n"

_CONVERTERS = _xml_converters()


def _text(el: Element) -> str:
    """A scalar element's text as OME sees it: ``""`` when absent or only whitespace."""
    text = el.text
    if text is None or not text.strip(_XML_SPACE):
        return ""
    return text


IncludeFn = Callable[[str, Element, "XmlReader", Spec, str], "list[tuple[Element, XmlReader]]"]
WarnFn = Callable[[str], None]
ErrorFn = Callable[[ConfigError, Element, str], ConfigError]


_ENV_REFERENCE = re.compile(r"\$\{env:([^}:]*)(:?)([^}]*)\}")


def unset_variables(raw: str, subst: Substitution) -> str:
    """A note naming the ``${env:NAME}`` references in ``raw`` that came out empty (unset,
    or set to nothing, with no default), or "" when there are none."""
    try:
        empty = [
            m.group(0)
            for m in _ENV_REFERENCE.finditer(raw)
            if not m.group(3) and not subst(m.group(0))
        ]
    except ConfigError:  # the expansion budget is spent: the error at hand says enough
        return ""
    if not empty:
        return ""
    return f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty or not set"


class XmlReader:
    """Reads one XML source (a file, or an included file) into nodes.

    ``include`` expands an ``include="…"`` attribute into the roots of the files it names,
    each with the reader to use for it (it gets the pattern, the element, this reader, the
    spec the files are read as and their path in messages); ``on_error`` adds the file and
    line to a :class:`ConfigError` raised at an element.
    """

    __slots__ = ("base_dir", "chain", "file", "include", "on_error", "spots", "subst", "warn")

    def __init__(
        self,
        *,
        file: str,
        base_dir: str,
        subst: Substitution,
        include: IncludeFn,
        on_error: ErrorFn,
        warn: WarnFn,
        chain: tuple[str, ...] = (),
        spots: dict[Spec, tuple[Element, ErrorFn] | None] | None = None,
    ) -> None:
        self.file = file
        self.base_dir = base_dir
        self.subst = subst
        self.include = include
        self.on_error = on_error
        self.warn = warn
        #: the files that included this one, outermost first (to refuse include loops)
        self.chain = chain
        #: items whose element (the first one read) and locator are wanted afterwards, for
        #: checks made once the whole config is read; shared with included files' readers
        self.spots = spots

    def with_source(self, file: str, base_dir: str, on_error: ErrorFn) -> XmlReader:
        """A reader for a file that this one includes."""
        return XmlReader(
            file=file,
            base_dir=base_dir,
            subst=self.subst,
            include=self.include,
            on_error=on_error,
            warn=self.warn,
            chain=(*self.chain, self.file),
            spots=self.spots,
        )

    def _ignored(self, el: Element, path: str) -> bool:
        flag = el.get("ignore")
        return flag is not None and self._subst_at(flag, el, path) == "true"

    def _subst_at(self, text: str, el: Element, path: str) -> str:
        """``text`` substituted; an error (too much expansion) is located at ``el``."""
        try:
            return self.subst(text)
        except ConfigError as exc:
            raise self.on_error(exc, el, path) from None

    def _groups(self, spec: Spec, el: Element, path: str) -> dict[str, list[Element]]:
        """Children by name, ignored ones dropped; unknown or stray text is an error."""
        by_xml = spec.by_xml
        groups: dict[str, list[Element]] = {}
        text = el.text
        if text is not None and text.strip(_XML_SPACE) and spec.children:
            raise self._unknown(path, "", el)
        for child in el:
            tag = child.tag
            tail = child.tail
            if tail is not None and tail.strip(_XML_SPACE):
                raise self._unknown(path, "", el)
            if tag not in by_xml:
                if self._ignored(child, path):
                    self.warn(f"Unknown item found, but ignored: {path}.{tag}")
                    continue
                raise self._unknown(path, tag, child)
            if child.get("ignore") is not None and self._ignored(child, path):
                continue
            group = groups.get(tag)
            if group is None:
                groups[tag] = [child]
            else:
                group.append(child)
        return groups

    def _unknown(self, path: str, tag: str, el: Element) -> ConfigError:
        return self.on_error(
            ConfigError(f"Unknown item found: {path}.{tag} in {self.file}"), el, path
        )

    def read_item(self, spec: Spec, el: Element, path: str, parent_optional: bool) -> Item:
        """Read ``el`` as the item ``spec``; ``path`` names it in messages."""
        spots = self.spots
        if spots is not None and spec in spots and spots[spec] is None:
            spots[spec] = (el, self.on_error)
        if not len(el) and not spec.watch and spec.item_check is None:
            text = el.text
            if text is None or not text.strip(_XML_SPACE) or not spec.children:
                return Item(spec, {})  # <RTMP/>: present, every field at its default
        groups = self._groups(spec, el, path)
        fields: dict[str, Node] = {}
        try:
            for cs in _in_order(spec, groups):
                if cs.kind is Kind.ATTRIBUTE:
                    raw = el.get(cs.xml_name)
                    if raw is None:
                        _absent(cs, fields, path, parent_optional)
                    else:
                        _store(cs, fields, raw, self._convert(cs, raw))
                    continue
                found = groups.get(cs.xml_name)
                if found is None:
                    _absent(cs, fields, path, parent_optional)
                elif cs.is_list:
                    elements = self._list(cs, found)
                    if elements:
                        fields[cs.xml_name] = elements
                    else:
                        _absent(cs, fields, path, parent_optional)
                elif cs.kind is Kind.ITEM:
                    fields[cs.xml_name] = self._child_item(
                        cs, found[0], f"{path}.{cs.json_name}", parent_optional or not cs.required
                    )
                else:
                    # The hot path (most elements are scalars): _text, _convert and _store
                    # written out.
                    child = found[0]
                    raw = child.text
                    if not raw or (raw[0] in _XML_SPACE and not raw.strip(_XML_SPACE)):
                        raw = ""
                    try:
                        value: Any = self.subst(raw) if "${" in raw else raw
                        convert = _CONVERTERS[cs]
                        if convert is not None:
                            value = convert(value)
                        if cs.resolve_path:
                            value = _resolve(cs, value, self.base_dir)
                        if cs.value_check is not None:
                            value = cs.value_check(value, fields)
                    except ConfigError as exc:
                        if "${env:" in raw and not exc.hint:
                            exc.hint = unset_variables(raw, self.subst)
                        raise self.on_error(exc, child, f"{path}.{cs.json_name}") from None
                    fields[cs.xml_name] = Scalar(raw, value)
            if spec.item_check is not None:
                spec.item_check(fields)
        except ConfigError as exc:
            raise self.on_error(exc, el, path) from None
        return Item(spec, fields)

    def _convert(self, spec: Spec, raw: str) -> Any:
        text = self.subst(raw) if "${" in raw else raw
        convert = _CONVERTERS[spec]
        value = text if convert is None else convert(text)
        return _resolve(spec, value, self.base_dir) if spec.resolve_path else value

    def _child_item(self, spec: Spec, el: Element, path: str, parent_optional: bool) -> Item:
        raw_pattern = el.get("include")
        if raw_pattern is None:
            return self.read_item(spec, el, path, parent_optional)
        self._groups(spec, el, path)  # the including element's own children are still checked
        ((root, reader),) = self._included(spec, el, path, raw_pattern, single=True)
        return reader.read_item(spec, root, path, parent_optional)

    def _included(
        self, spec: Spec, el: Element, path: str, raw_pattern: str, *, single: bool
    ) -> list[tuple[Element, XmlReader]]:
        """The roots an ``include`` stands for, each with its reader, in order.

        An included file's root may itself have ``include``, as in OME: that is followed
        too, at every depth (``include`` refuses loops and bounds the depth).  With
        ``single`` (an item, not a list element) each level must name exactly one file.
        """
        # OME reads attribute values substituted, so its messages show the expanded pattern.
        pattern = self._subst_at(raw_pattern, el, path)
        sources = self.include(pattern, el, self, spec, path)
        if single and not sources:
            raise self.on_error(
                ConfigError(
                    f"There is no file to include for path: {path}, current path: "
                    f"{self.base_dir}, include pattern: {pattern}"
                ),
                el,
                path,
            )
        if single and len(sources) > 1:
            raise self.on_error(
                ConfigError(
                    f"Too many files found for an Item: {path}, current path: {self.base_dir}, "
                    f"include pattern: {pattern} ({len(sources)} files found)"
                ),
                el,
                path,
            )
        out: list[tuple[Element, XmlReader]] = []
        for root, reader in sources:
            nested = root.get("include")
            if nested is None:
                out.append((root, reader))
                continue
            if single:
                reader._groups(spec, root, path)
            out.extend(reader._included(spec, root, path, nested, single=single))
        return out

    def _list(self, spec: Spec, found: list[Element]) -> tuple[Scalar | Item, ...]:
        out: list[Scalar | Item] = []
        if spec.kind is Kind.LIST_OF_STRING:
            for el in found:
                raw = _text(el)
                try:
                    value = self._convert(spec, raw)
                    if spec.value_check is not None:
                        value = spec.value_check(value, {})
                except ConfigError as exc:
                    raise self.on_error(exc, el, spec.xml_name) from None
                out.append(Scalar(raw, value))
            return tuple(out)
        for el in found:
            pattern = el.get("include")
            if pattern is None:
                out.append(self.read_item(spec, el, spec.xml_name, False))
                continue
            for root, reader in self._included(spec, el, spec.xml_name, pattern, single=False):
                out.append(reader.read_item(spec, root, spec.xml_name, False))
        return tuple(out)


# --------------------------------------------------------------------------------- JSON


def _text_of(value: JsonValue) -> str:
    """OME's JSON → text rule for values read as strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:f}"
    if value is None:
        return ""
    kind = "array" if isinstance(value, list) else "object"
    raise ConfigError(f"Could not convert value - from: {kind}, to: string")


#: A JSON key's value when the key is absent (None is a value).
_NONE: Any = object()


class JsonReader:
    """Reads REST bodies (already-decoded JSON) into nodes.

    ``base_dir`` is empty for REST input, so a relative path becomes ``/path`` as in OME.
    """

    __slots__ = ("base_dir", "subst")

    def __init__(self, subst: Substitution, base_dir: str = "") -> None:
        self.subst = subst
        self.base_dir = base_dir

    def read_root(self, spec: Spec, value: JsonValue, previous: Previous | None = None) -> Item:
        """Read ``value`` as a list element of ``spec`` (a vhost, an app, a profile …).

        ``previous`` is ``(item, to_json(item))`` of an item ``value`` was derived from
        without changing it (a PATCH merge builds new objects along the patch only): where
        a child of ``value`` *is* the previous JSON's, the previous node is taken as it is
        instead of being read again (reading ``to_json(item)`` gives ``item`` back).
        """
        return self.read_item(spec, value, spec.json_name, False, previous)

    def read_item(
        self,
        spec: Spec,
        value: JsonValue,
        path: str,
        parent_optional: bool,
        previous: Previous | None = None,
    ) -> Item:
        """Read a JSON object as the item ``spec`` (``previous`` as for :meth:`read_root`)."""
        if previous is not None:
            if value is previous[1]:
                return previous[0]
            if not isinstance(value, dict):
                previous = None  # nothing to line up with the previous item's children
        if isinstance(value, list):
            if spec.omitted_list is None:
                raise ConfigError(f"{spec.json_name} is not an array")
            value = {spec.omitted_list.json_name: value}
        obj: dict[str, JsonValue] = value if isinstance(value, dict) else {}
        unknown = obj.keys() - spec.by_json.keys()
        unknown.discard("$")
        if unknown:  # the first in sorted order, as OME names it
            raise ConfigError(f"Unknown item found: {path}.{min(unknown)}")
        attributes = obj.get("$")
        fields: dict[str, Node] = {}
        before_fields: dict[str, Node] = previous[0].fields if previous is not None else {}
        before_json: dict[str, JsonValue] = previous[1] if previous is not None else {}
        for cs in spec.children:
            if cs.kind is Kind.ATTRIBUTE:
                if isinstance(attributes, dict) and cs.xml_name in attributes:
                    raw = attributes[cs.xml_name]
                    _store(cs, fields, raw, self._convert(cs, raw))
                elif cs.required or cs.absent_check is not None:
                    _absent(cs, fields, path, parent_optional)
                continue
            raw = obj.get(cs.json_name, _NONE)
            if raw is _NONE:
                if cs.required or cs.absent_check is not None:
                    _absent(cs, fields, path, parent_optional)
                continue
            if previous is not None:
                before = before_fields.get(cs.xml_name)
                if before is not None:
                    old_json = before_json.get(cs.json_name, _NONE)
                    if raw is old_json:
                        fields[cs.xml_name] = before  # untouched by the change
                        continue
                    if type(old_json) is dict and type(before) is Item and not cs.is_list:
                        fields[cs.xml_name] = self.read_item(
                            cs,
                            raw,
                            f"{path}.{cs.json_name}",
                            parent_optional or not cs.required,
                            (before, old_json),
                        )
                        continue
            if cs.is_list:
                if not isinstance(raw, list):
                    raise ConfigError(f"Child {cs.json_name} is not an array")
                elements = self._list(cs, raw)
                if elements:
                    fields[cs.xml_name] = elements
                elif cs.required or cs.absent_check is not None:
                    _absent(cs, fields, path, parent_optional)
            elif cs.kind is Kind.ITEM:
                fields[cs.xml_name] = self.read_item(
                    cs, raw, f"{path}.{cs.json_name}", parent_optional or not cs.required
                )
            else:
                _store(cs, fields, raw, self._convert(cs, raw))
        if spec.item_check is not None:
            spec.item_check(fields)
        return Item(spec, fields)

    def _list(self, spec: Spec, raw: list[JsonValue]) -> tuple[Scalar | Item, ...]:
        if spec.kind is Kind.LIST_OF_STRING:
            out: list[Scalar | Item] = []
            for value in raw:
                converted = self._convert(spec, value)
                if spec.value_check is not None:
                    converted = spec.value_check(converted, {})
                out.append(Scalar(value, converted))
            return tuple(out)
        return tuple(self.read_item(spec, value, spec.json_name, False) for value in raw)

    def _convert(self, spec: Spec, raw: JsonValue) -> Any:
        kind = spec.element_kind
        typed = type(raw)
        if kind in (Kind.INT, Kind.LONG) and typed is int:
            bounds = INT32 if kind is Kind.INT else INT64
            if bounds[0] <= raw <= bounds[1]:
                return raw
        elif kind is Kind.BOOL and typed is bool:
            return raw
        elif kind is Kind.DOUBLE and typed in (int, float):
            return float(raw)
        # Everything else goes through the text rules; env substitution applies to every
        # JSON string (OME only substitutes String kinds, which turns `${env:…}` in a
        # numeric field into 0: never what a user means).
        text = _text_of(raw)
        if "${" in text:
            text = self.subst(text)
        value = _TEXT_CONVERTERS[kind](text)
        return _resolve(spec, value, self.base_dir) if spec.resolve_path else value


# ------------------------------------------------------------------------------- output


def _node_json(node: Node) -> JsonValue:
    if isinstance(node, Scalar):
        return node.raw
    if isinstance(node, Item):
        return to_json(node)
    return [_node_json(n) for n in node]


def to_json(item: Item, previous: Previous | None = None) -> JsonValue:
    """OME's JSON form of an item: present children only, raw values, JSON names.

    With ``previous`` (``(old item, to_json(old item))``), children that *are* the old
    item's (a reader given the same ``previous`` kept them) share the old JSON's values.
    """
    if previous is not None and item is previous[0]:
        return previous[1]
    spec = item.spec
    fields = item.fields
    omitted = spec.omitted_list
    if omitted is not None:
        node = fields.get(omitted.xml_name)
        return _node_json(node) if node is not None else []
    old_fields: dict[str, Node] = {}
    old_json: dict[str, JsonValue] = {}
    if previous is not None and isinstance(previous[1], dict):
        old_fields, old_json = previous[0].fields, previous[1]
    out: dict[str, JsonValue] = {}
    attributes: dict[str, JsonValue] | None = None
    by_xml = spec.by_xml
    for name, node in fields.items():
        cs = by_xml.get(name)
        if cs is None:
            if attributes is None:
                attributes = {}
            attributes[name] = _node_json(node)
            continue
        before = old_fields.get(name)
        if before is None:
            out[cs.json_name] = _node_json(node)
        elif node is before and cs.json_name in old_json:
            out[cs.json_name] = old_json[cs.json_name]
        elif isinstance(node, Item) and isinstance(before, Item):
            out[cs.json_name] = to_json(node, (before, old_json.get(cs.json_name)))
        else:
            out[cs.json_name] = _node_json(node)
    if attributes is not None:
        out["$"] = attributes
    return out
