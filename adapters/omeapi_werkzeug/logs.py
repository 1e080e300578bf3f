"""What ``omeapi serve`` writes to stderr: its start-up banner, the API's access log, and
not the server's warnings about choices it made on purpose.

granian, gunicorn, uvicorn and hypercorn configure their own loggers but not ``omeapi``'s:
with ``--access-log``, each worker writes the ``omeapi.access`` lines to its stderr.
"""

from __future__ import annotations

import logging
import sys
import urllib.parse
from typing import Any

__all__ = ["announce", "banner", "log_requests", "quiet_granian"]

#: granian's warning about a large thread pool: ``serve`` sizes the pool on purpose
#: (limits.py, docs/performance.md), so the warning would only alarm.
_GRANIAN_THREADS_WARNING = "seems quite high compared to the number of CPU cores"


def banner(server: str, spec: dict[str, Any]) -> list[str]:
    """The lines ``serve`` prints when a listener starts: what it serves, where the token
    comes from and, with ``--console``, the console's address."""
    scheme = "https" if spec["tls"] else "http"
    address = spec["address"]
    store = spec.get("store")
    lines = [
        f"omeapi: serving {spec['file']} on {scheme}://{address}:{spec['port']} with {server}, "
        f"{spec.get('workers', 1)} workers, "
        f"store {'in memory' if store in (None, 'memory') else _without_password(store)}",
        f"omeapi: the access token is <Managers><API><AccessToken> of {spec['file']}; "
        "clients send it as 'Authorization: Basic base64(token)'",
    ]
    if spec.get("engine_host"):
        lines.append(
            f"omeapi: one engine for every worker, in the engine host ({spec['engine_host']})"
        )
    console = spec.get("options", {}).get("console")
    if console:
        # A wildcard address is no place to browse to; the machine itself is.
        host = "localhost" if address in ("0.0.0.0", "::", "") else address
        host = f"[{host}]" if ":" in host else host
        path = "/console" if console is True else console  # open_api's default path
        lines.append(
            f"omeapi: console at {scheme}://{host}:{spec['port']}{path}/ "
            "(log in with the access token)"
        )
    return lines


def _without_password(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    if not parts.password:
        return location
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def announce(server: str, spec: dict[str, Any]) -> None:
    """Print :func:`banner` to stderr in one write: listeners started together (one process
    each) never mix their lines."""
    sys.stderr.write("".join(line + "\n" for line in banner(server, spec)))
    sys.stderr.flush()


class _DropThreadsWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _GRANIAN_THREADS_WARNING not in record.getMessage()


def quiet_granian() -> None:
    """Leave out granian's warning about the thread pool ``serve`` chose (every other
    granian line, warnings and errors included, still prints)."""
    logger = logging.getLogger("_granian")
    if not any(isinstance(f, _DropThreadsWarning) for f in logger.filters):
        logger.addFilter(_DropThreadsWarning())


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
