"""Reading fields of JSON request bodies with OME's (jsoncpp's) type rules.

OME reads most optional fields with "use it if it has the right type, else ignore it".  These
helpers answer None for a wrong type, so a controller states the rule once per field.  Integer
ranges follow jsoncpp: ``isInt`` is a 32-bit range, ``isInt64`` 64-bit, ``isUInt`` unsigned
32-bit; a float with an integral value in range counts as an integer, a bool never does.
"""

from __future__ import annotations

from typing import Any

from omeapi import _messages as msg

__all__ = [
    "INT32",
    "INT64",
    "UINT32",
    "action_object",
    "json_bool",
    "json_int",
    "json_str",
]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)


def json_int(value: Any, bounds: tuple[int, int] = INT32) -> int | None:
    """``value`` as an integer within ``bounds``, or None when jsoncpp would say it is not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int) and bounds[0] <= value <= bounds[1]:
        return value
    return None


def json_str(value: Any) -> str | None:
    """``value`` if it is a string."""
    return value if isinstance(value, str) else None


def json_bool(value: Any) -> bool | None:
    """``value`` if it is a boolean."""
    return value if isinstance(value, bool) else None


def action_object(body: Any) -> dict[str, Any]:
    """The body of an action that expects an object: ``null`` (no body) counts as ``{}``.

    OME fails with a 500 (a JSON type assertion) on any other type; omeapi answers 400.
    """
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise msg.BODY_MUST_BE_OBJECT.error()
    return body
