"""Who is asking: the request a change comes from, for the audit log.

The handler sets :data:`current_source` around each controller; the state layer reads it
when it writes an audit entry.  It lives below both (it imports nothing of omeapi), so
that neither the services the controllers are handed nor the audit log depends on the
other to name the request.
"""

from __future__ import annotations

from contextvars import ContextVar

import attrs

__all__ = ["AuditSource", "current_source"]


@attrs.frozen
class AuditSource:
    """The request a change comes from: client address, method and path, and who
    authenticated it (``admin`` for the ``<AccessToken>``, else a scoped token's name)."""

    client: str
    method: str
    path: str
    actor: str = ""


#: The request being answered by this thread (set by the handler around a controller).
current_source: ContextVar[AuditSource | None] = ContextVar("omeapi_audit_source", default=None)
