"""Where the servers ``omeapi serve`` runs send the API's access log.

granian, gunicorn, uvicorn and hypercorn configure their own loggers but not ``omeapi``'s:
with ``--access-log``, each worker writes the ``omeapi.access`` lines to its stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["log_requests"]


def log_requests(spec: dict[str, Any]) -> None:
    """In a worker: print the access log lines to stderr when the spec asks for them."""
    if not spec.get("options", {}).get("access_log"):
        return
    logger = logging.getLogger("omeapi.access")
    if any(getattr(h, "omeapi_serve", False) for h in logger.handlers):
        return  # a factory called again in the same process
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.omeapi_serve = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
