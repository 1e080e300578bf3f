"""TLS for the servers: a context for the configured files, and reload relaying.

Both ``serve`` (granian, and the process that runs several listeners) and ``gunicorn`` use
these; keeping them here lets neither of those modules import the other.
"""

from __future__ import annotations

import os
import signal
import ssl
import tempfile
from typing import Any

__all__ = ["relay_certificate_reloads", "tls_context"]


def tls_context(cert: str, key: str, chain: str = "") -> ssl.SSLContext:
    """A server TLS context for the configured files (the chain, if any, is sent too)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain:
        # Serve the intermediates: append them after the leaf certificate.
        combined = _combined_chain(cert, chain)
        try:
            context.load_cert_chain(combined, key)
        finally:
            os.unlink(combined)
    else:
        context.load_cert_chain(cert, key)
    return context


def _combined_chain(cert: str, chain: str) -> str:
    with open(cert, "rb") as leaf, open(chain, "rb") as rest:
        data = leaf.read().rstrip(b"\n") + b"\n" + rest.read()
    fd, path = tempfile.mkstemp(suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def relay_certificate_reloads(api: Any, spec: dict[str, Any]) -> None:
    """In a listener without TLS: pass API certificate reloads on to the TLS listeners."""
    relay = spec.get("relay")
    if relay:
        api.certificates.subscribe(lambda _: os.kill(relay, signal.SIGUSR1))
