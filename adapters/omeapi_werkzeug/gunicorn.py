"""Serving with gunicorn (threaded worker), including certificate reloads.

gunicorn asks its ``ssl_context`` hook for a context on every new TLS connection; the hook
answers the context of the current certificate, which a reload replaces.  The listening
socket and the running app (with its state) stay as they are.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from omeapi_werkzeug import create_app
from omeapi_werkzeug.serve import relay_certificate_reloads

__all__ = ["CertificateHolder", "serve_gunicorn"]


class CertificateHolder:
    """The TLS context new connections get; :meth:`load` swaps in re-read files."""

    def __init__(self, cert: str, key: str, chain: str = "") -> None:
        from omeapi_werkzeug.serve import tls_context

        self._lock = threading.Lock()
        self._context = tls_context(cert, key, chain)

    def load(self, cert: str, key: str, chain: str = "") -> None:
        """Re-read the files; on failure the previous certificate stays."""
        from omeapi_werkzeug.serve import tls_context

        context = tls_context(cert, key, chain)
        with self._lock:
            self._context = context

    def context(self, *_: Any) -> Any:
        with self._lock:
            return self._context


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.holder: CertificateHolder | None = None
        super().__init__()

    def load_config(self) -> None:
        spec = self.spec
        settings: dict[str, Any] = {
            "bind": [f"{spec['address']}:{spec['port']}"],
            "workers": spec.get("workers", 1),
            "worker_class": "gthread",
            "threads": spec["threads"],
            "accesslog": None,
        }
        if spec["tls"]:
            cert, key, chain = spec["tls"]
            settings.update(certfile=cert, keyfile=key)
            self.holder = CertificateHolder(cert, key, chain)
            holder = self.holder
            settings["ssl_context"] = lambda conf, factory: holder.context()
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        holder = self.holder

        def on_api(api: Any) -> None:
            if holder is None:
                relay_certificate_reloads(api, self.spec)
            elif self.spec.get("workers", 1) > 1:
                # Each worker has its own holder: the master reloads them all (SIGHUP: it
                # re-reads the config and the files and replaces its workers).
                api.certificates.subscribe(lambda _: os.kill(os.getppid(), signal.SIGHUP))
            else:
                api.certificates.subscribe(
                    lambda cert: holder.load(cert.cert_path, cert.key_path, cert.chain_path)
                )

        return create_app(self.spec["file"], on_api=on_api, store=self.spec.get("store"))


def serve_gunicorn(spec: dict[str, Any]) -> int:
    """Run gunicorn for one listener until it is told to stop."""
    _Server(spec).run()
    return 0
