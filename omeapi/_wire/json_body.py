"""Request bodies as strict JSON (RFC 8259), with OME's error texts and a bound on shape.

A body is at most the API's body limit (1 MiB by default), but a megabyte of ``[[[[…`` or
of 300,000 tiny objects costs far more to decode and to walk than any real request.  So
before decoding, the body's structure is measured: more than :data:`MAX_DEPTH` levels of
nesting or :data:`MAX_CONTAINERS` arrays and objects is refused with a 400 at once.  The
measure reads the bytes with C-speed operations (string contents are skipped first).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from omeapi import _messages as msg

__all__ = ["MAX_CONTAINERS", "MAX_DEPTH", "parse_json_body"]

#: Deepest nesting of arrays and objects a body may have (OME's configs need about 8).
MAX_DEPTH = 64
#: Most arrays and objects one body may hold.
MAX_CONTAINERS = 20_000

_JSON_REASONS = (
    ("Expecting property name enclosed in double quotes", "Missing '}' or object member name"),
    ("Expecting value", "Syntax error: value, object or array expected."),
    ("Extra data", "Extra non-whitespace after JSON value."),
    ("Expecting ',' delimiter", "Missing ',' or '}' in object declaration"),
    ("Expecting ':' delimiter", "Missing ':' after object member name"),
    ("Unterminated string", "Missing '\"' at the end of the string"),
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # 1e400 would become inf, which no JSON writer can give back (it would print Infinity).
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"Number out of range: {text}")
    return value


# Made once: json.loads with options builds a decoder per call (decoding keeps no state).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_json_body(body: bytes) -> Any:
    """A request body as strict JSON (RFC 8259); no body is ``null``.

    Errors keep OME's ``[JSON] * Line L, Column C`` shape.
    """
    if not body:
        return None
    _check_shape(body)
    try:
        text = body.decode("utf-8-sig")  # a leading BOM is skipped, as OME does
    except UnicodeDecodeError as exc:
        raise msg.JSON_ERROR.error(line=1, column=exc.start + 1, reason="Invalid UTF-8") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        reason = exc.msg
        for python, ours in _JSON_REASONS:
            if reason.startswith(python):
                reason = ours
                break
        raise msg.JSON_ERROR.error(line=exc.lineno, column=exc.colno, reason=reason) from None
    except ValueError as exc:  # NaN / Infinity
        raise msg.JSON_ERROR.error(line=1, column=1, reason=str(exc)) from None
    except RecursionError:
        raise msg.JSON_ERROR.error(line=1, column=1, reason="Nesting is too deep") from None


# A JSON string (escapes included): its brackets are not structure.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _check_shape(body: bytes) -> None:
    """Refuse a body nested deeper than :data:`MAX_DEPTH` or with more containers than
    :data:`MAX_CONTAINERS` (malformed bodies are left to the decoder's own message)."""
    if body.count(b"[") + body.count(b"{") <= min(MAX_DEPTH, MAX_CONTAINERS):
        return  # too few brackets to break either bound: the common case costs two counts
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    if (len(brackets) + 1) // 2 > MAX_CONTAINERS:
        raise msg.JSON_TOO_COMPLEX.error(limit=f"{MAX_CONTAINERS} arrays and objects")
    depth = max(itertools.accumulate(_DEPTH_STEP[b] for b in brackets), default=0)
    if depth > MAX_DEPTH:
        raise msg.JSON_TOO_COMPLEX.error(limit=f"{MAX_DEPTH} levels of nesting")
