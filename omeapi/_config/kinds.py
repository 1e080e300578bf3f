"""What a schema element holds (:class:`Kind`) and the shapes of the checks that hang on it.

The bottom of the config package: the table (:mod:`omeapi._config._table`), the checks
(:mod:`omeapi._config.checks`) and the spec tree (:mod:`omeapi._config.schema`) all refer to
these names, and this module refers to none of them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SCALAR_KINDS", "AbsentCheck", "ItemCheck", "Kind", "ValueCheck"]


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

#: A check on a converted value: gets the value and the siblings parsed so far, returns the
#: value to store (or raises :class:`~omeapi.ConfigError`).
ValueCheck = Callable[[Any, Mapping[str, Any]], Any]
#: A check that runs when an optional element is absent (gets the siblings).
AbsentCheck = Callable[[Mapping[str, Any]], None]
#: A check over a whole item, once its children are parsed.
ItemCheck = Callable[[Mapping[str, Any]], None]
