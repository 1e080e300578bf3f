"""The audit log: who changed what, when, through which request.

The handler names the request being answered in :data:`current_source` (a context
variable, so each thread sees its own); the restart coordinator turns each successful
change into an :class:`~omeapi._stores.base.AuditEntry` with a summary of what changed, and the
store writes it in the change's own transaction.  Summaries never hold secrets: values
under keys named like ``secretKey``, ``accessToken``, ``password``, ``passphrase`` or
``streamKey`` are replaced by ``"***"``.  ``omeapi audit`` prints the log.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from omeapi._audit_source import AuditSource, current_source
from omeapi._stores.base import AuditEntry, AuditRecord

__all__ = [
    "REDACTED",
    "AuditSource",
    "app_change_summary",
    "current_source",
    "diff",
    "entry",
    "format_record",
    "parse_since",
    "redact",
    "vhost_summary",
]

#: What a secret value is replaced with.
REDACTED = "***"

#: Key names whose values are secrets (case-insensitive search in the key).
_SECRET = re.compile(r"secret|token|passw|passphrase|credential|private|key$", re.IGNORECASE)


def is_secret(key: str) -> bool:
    """Whether values under ``key`` are secrets."""
    return bool(_SECRET.search(key))


def redact(value: Any) -> Any:
    """``value`` with every secret replaced by :data:`REDACTED` (a copy)."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def diff(old: Any, new: Any, path: str = "") -> dict[str, Any]:
    """The changed leaves between two JSON values: ``{"a.b": new value}`` (None when
    removed), objects compared key by key, anything else as a whole; secrets redacted."""
    out: dict[str, Any] = {}
    _diff(old, new, path, False, out)
    return out


_MISSING = object()


def _diff(old: Any, new: Any, path: str, secret: bool, out: dict[str, Any]) -> None:
    # A changed config shares its unchanged parts with the old one: no walk through them.
    if old is new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key, _MISSING) is new.get(key, _MISSING):
                continue
            _diff(
                old.get(key, _MISSING),
                new.get(key, _MISSING),
                f"{path}.{key}" if path else str(key),
                secret or is_secret(str(key)),
                out,
            )
        return
    if old == new:
        return
    if new is _MISSING:
        out[path] = None
    else:
        out[path] = REDACTED if secret else redact(new)


def vhost_summary(kind: str, vhost: str, config: Any = None, apps: Iterable[str] = ()) -> Any:
    """The summary of creating (with ``config``) or deleting a vhost and its ``apps``."""
    summary: dict[str, Any] = {"change": kind, "vhost": vhost, "apps": list(apps)}
    if config is not None:
        summary["config"] = redact(config)
    return summary


def app_change_summary(kind: str, vhost: str, app: str, old: Any = None, new: Any = None) -> Any:
    """The summary of creating (``new``), changing (``old`` → ``new``) or deleting an app."""
    summary: dict[str, Any] = {"change": kind, "vhost": vhost, "app": app}
    if old is not None and new is not None:
        summary["changed"] = diff(old, new)
    elif new is not None:
        summary["config"] = redact(new)
    return summary


def entry(summary: dict[str, Any], clock: Callable[[], float] = time.time) -> AuditEntry:
    """An audit entry for ``summary``, naming the request in :data:`current_source`
    (empty names for a change made by calling the coordinator directly)."""
    source = current_source.get()
    if source is None:
        source = AuditSource("", "", "")
    if source.actor:
        summary = {**summary, "by": source.actor}
    return AuditEntry(clock(), source.client, source.method, source.path, summary)


# -- reading the log ---------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_since(text: str, now: float | None = None) -> float:
    """``--since`` as POSIX time: a duration back from now (``90s``, ``15m``, ``2h``,
    ``3d``, ``1w``), an ISO 8601 date or time (``2026-11-26``, ``2026-11-26T10:00``;
    local time unless it has an offset or ``Z``), or POSIX seconds."""
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2).lower()]
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a duration (15m, 2h, 3d), an ISO date or time, "
            "or POSIX seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local time
    return moment.timestamp()


def _time(timestamp: float) -> str:
    # Local time with its offset (``Z`` for UTC), to the millisecond.
    moment = datetime.fromtimestamp(timestamp, timezone.utc).astimezone()
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_record(record: AuditRecord, *, as_json: bool = False) -> str:
    """One line for ``omeapi audit``: time, change number, client, request, summary."""
    summary = redact(record.summary)  # again: a record written by an older version stays safe
    if as_json:
        return json.dumps(
            {
                "time": _time(record.time),
                "version": record.version,
                "client": record.client,
                "method": record.method,
                "path": record.path,
                "node": record.node,
                "summary": summary,
            },
            sort_keys=True,
        )
    request = f"{record.method} {record.path}" if record.method else "(direct call)"
    return (
        f"{_time(record.time)} #{record.version} {record.client or '-'} {request} "
        f"{json.dumps(summary, sort_keys=True, separators=(',', ':'))}"
    )
