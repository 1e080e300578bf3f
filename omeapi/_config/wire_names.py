"""The config's JSON names as one OME version writes them.

The tree (:mod:`omeapi._config.tree`) reads and writes OME 0.20's JSON names.  A later OME
renamed some keys (``hTTP2`` → ``http2``, ``dVR`` → ``dvr`` …) and dropped others; the
differences are data (:mod:`omeapi._config._wire_names`, generated from OME's source), and
:class:`ConfigNames` walks a JSON value along the schema to translate it, in either
direction.  For 0.20 there is nothing to translate: :data:`NAMES_0_20` is the identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omeapi._config._wire_names import FLAGS_IN_0_21, REMOVED_IN_0_21, RENAMED
from omeapi._config.schema import Spec
from omeapi._errors import ConfigError

__all__ = ["NAMES_0_20", "NAMES_0_21", "ConfigNames"]


class ConfigNames:
    """One version's JSON names: ``renamed`` (path → name), ``removed`` paths, and
    ``flags``: items this version reads as a bool (OME 0.21's FILE provider).

    A flag is written ``true`` where the tree has the item; read, ``true`` (or the string
    ``"true"``, any case) is the item with nothing in it, ``false`` leaves it out, and an
    object is read as the item (whose children may be removed)."""

    def __init__(
        self, renamed: dict[str, str], removed: Iterable[str] = (), flags: Iterable[str] = ()
    ) -> None:
        self.renamed = renamed
        self.removed = frozenset(removed)
        self.flags = frozenset(flags)
        #: paths of specs with a renamed or removed spec below them (the walk skips others)
        self._touched: set[str] = set()
        for path in (*renamed, *self.removed, *self.flags):
            parts = path.split(".")
            for i in range(1, len(parts)):
                self._touched.add(".".join(parts[:i]))

    @property
    def identity(self) -> bool:
        return not self.renamed and not self.removed and not self.flags

    def wire_name(self, spec: Spec) -> str:
        return self.renamed.get(spec.path, spec.json_name)

    # ------------------------------------------------------------------------ out

    def out(self, spec: Spec, value: Any) -> Any:
        """``value`` (the tree's JSON of a ``spec`` element) with this version's names."""
        if spec.path not in self._touched:
            return value
        if isinstance(value, list):
            listed = spec.omitted_list if not spec.is_list else spec
            if listed is None:
                return value
            if listed is spec:
                return [self._out_item(spec, v) for v in value]
            return [self.out(listed, v) for v in value]
        return self._out_item(spec, value)

    def _out_item(self, spec: Spec, value: Any) -> Any:
        if not isinstance(value, dict) or spec.path not in self._touched:
            return value
        out: dict[str, Any] = {}
        for key, child_value in value.items():
            child = spec.by_json.get(key)
            if child is None:
                out[key] = child_value
                continue
            if child.path in self.removed:
                continue
            name = self.renamed.get(child.path) or key
            if child.path in self.flags:
                out[name] = True
                continue
            out[name] = self.out(child, child_value) if child.is_item else child_value
        return out

    # ------------------------------------------------------------------------- in

    def into(self, spec: Spec, value: Any, path: str) -> Any:
        """``value`` (a request's JSON of a ``spec`` element, this version's names) with the
        tree's names; a name this version does not have is OME's ``Unknown item found``."""
        if spec.path not in self._touched:
            return value
        if isinstance(value, list):
            listed = spec.omitted_list if not spec.is_list else spec
            if listed is None:
                return value
            if listed is spec:
                return [self._into_item(spec, v, path) for v in value]
            return [self.into(listed, v, listed.json_name) for v in value]
        return self._into_item(spec, value, path)

    def _into_item(self, spec: Spec, value: Any, path: str) -> Any:
        if not isinstance(value, dict) or spec.path not in self._touched:
            return value
        by_wire: dict[str, Spec] = {}
        for child in spec.children:
            if child.path not in self.removed:
                by_wire[self.wire_name(child)] = child
        out: dict[str, Any] = {}
        unknown: list[str] = []
        for key, child_value in value.items():
            found = by_wire.get(key)
            if found is None:
                if key in spec.by_json and key != "$":
                    unknown.append(key)  # a name of another version
                out[key] = child_value
                continue
            if found.path in self.flags and not isinstance(child_value, dict):
                flag = _flag(child_value)
                if flag is False:
                    continue
                if flag is True:
                    child_value = {}
            out[found.json_name] = (
                self.into(found, child_value, f"{path}.{key}") if found.is_item else child_value
            )
        if unknown:
            raise ConfigError(f"Unknown item found: {path}.{min(unknown)}")
        return out


def _flag(value: Any) -> bool | None:
    """A flag's JSON value as OME reads a bool: ``true``/``false``, or those words in a
    string (any case); None for anything else (left to the tree, which refuses it)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


NAMES_0_20 = ConfigNames({})
NAMES_0_21 = ConfigNames({path: new for path, _old, new in RENAMED}, REMOVED_IN_0_21, FLAGS_IN_0_21)
