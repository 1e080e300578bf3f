"""One structured log line per request: method, path, status, microseconds, client, route.

No secrets are written: neither headers (the token travels in ``Authorization``) nor the
query string nor the body.  ``text`` lines read well in a terminal; ``json`` lines are one
object each, for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys

from omeapi._wire.request import ApiRequest, ApiResponse

__all__ = ["LOG_FORMATS", "AccessLog"]

LOG_FORMATS = ("text", "json")


class AccessLog:
    """An observer writing to the ``omeapi.access`` logger at INFO (``fmt``: text/json);
    to stderr while no logging handler is configured anywhere for that logger."""

    def __init__(self, fmt: str = "text", logger: logging.Logger | None = None) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {fmt!r}")
        self.json = fmt == "json"
        self.logger = logger or logging.getLogger("omeapi.access")

    def __call__(self, request: ApiRequest, response: ApiResponse, seconds: float) -> None:
        logger = self.logger
        # With logging not configured at all, nothing would print an INFO line (Python's
        # last resort shows warnings only) and the log asked for would be silent: it goes
        # to stderr until a handler appears.
        configured = logger.hasHandlers()
        if configured and not logger.isEnabledFor(logging.INFO):
            return
        micros = round(seconds * 1e6)
        if self.json:
            line = json.dumps(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status,
                    "us": micros,
                    "client": request.client,
                    "route": response.route,
                },
                separators=(",", ":"),
            )
        else:
            # The path is quoted as JSON: a client's control characters cannot forge lines.
            path = json.dumps(request.path)
            line = (
                f"{request.client or '-'} {request.method} {path} {response.status}"
                f" {micros}us {response.route or '-'}"
            )
        if configured:
            logger.info(line)
        else:
            sys.stderr.write(line + "\n")
