"""The one place that writes JSON envelopes, messages and reason phrases."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["REASON_PHRASES", "reason_phrase"]

#: OME's reason phrases (its own spelling: ``Multi Status``, not ``Multi-Status``).
REASON_PHRASES: Mapping[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    207: "Multi Status",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def reason_phrase(status: int) -> str:
    """OME's reason phrase for ``status`` (``Unknown`` for codes it does not name)."""
    return REASON_PHRASES.get(status, "Unknown")


def dumps(value: Any) -> bytes:
    """Serialise like OME's JSON writer: compact, keys sorted, ASCII only."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()
