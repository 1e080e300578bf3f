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
from gunicorn.workers.gthread import ThreadWorker

from omeapi_remote import worker_options
from omeapi_werkzeug import WsgiApp, create_app
from omeapi_werkzeug.certificates import relay_certificate_reloads, tls_context
from omeapi_werkzeug.limits import READ_TIMEOUT, STOP_TIMEOUT, body_readers, threads_for
from omeapi_werkzeug.logs import log_requests

__all__ = ["CertificateHolder", "IdleBoundedThreadWorker", "serve_gunicorn"]


class CertificateHolder:
    """The TLS context new connections get; :meth:`load` swaps in re-read files."""

    def __init__(self, cert: str, key: str, chain: str = "") -> None:
        self._lock = threading.Lock()
        self._context = tls_context(cert, key, chain)

    def load(self, cert: str, key: str, chain: str = "") -> None:
        """Re-read the files; on failure the previous certificate stays."""
        context = tls_context(cert, key, chain)
        with self._lock:
            self._context = context

    def context(self, *_: Any) -> Any:
        with self._lock:
            return self._context


class IdleBoundedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker with a read timeout on every request.

    gunicorn waits for a connection's first byte in its poller, but then reads the headers
    and the body in a worker thread with no timeout: a client that stops sending keeps the
    thread forever.  Here each read waits at most :data:`READ_TIMEOUT`; gunicorn then
    drops the connection (the core has answered nothing yet, or reads the body after
    :meth:`~omeapi.Api.precheck` decided nothing).
    """

    def handle(self, conn: Any) -> Any:
        if "init" not in vars(conn):
            init = conn.init

            # gunicorn makes the socket blocking (no timeout) and then calls init() before
            # every request on the connection, keep-alive ones too: set the timeout after.
            def bounded_init() -> None:
                init()
                conn.sock.settimeout(READ_TIMEOUT)

            conn.init = bounded_init
        return super().handle(conn)


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
            "worker_class": "omeapi_werkzeug.gunicorn.IdleBoundedThreadWorker",
            "threads": threads_for(spec["threads"]),
            "graceful_timeout": STOP_TIMEOUT,
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
        log_requests(self.spec)

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

        engine, options = worker_options(self.spec.get("engine_host"))
        return _drop_stalled(
            create_app(
                self.spec["file"],
                engine,
                on_api=on_api,
                close_unread=True,
                body_timeout=self.spec["body_timeout"],
                body_readers=body_readers(self.spec["threads"]),
                store=self.spec.get("store"),
                **options,
                **self.spec.get("options", {}),
            )
        )


def _drop_stalled(app: WsgiApp) -> Any:
    """``app``, dropping the connection quietly when its client stops sending the body."""

    def wsgi(environ: Any, start_response: Any) -> Any:
        try:
            return app(environ, start_response)
        except TimeoutError:
            # Nothing is answered to a client that has stopped sending.  gunicorn closes the
            # connection on StopIteration without logging a traceback (an OSError would).
            raise StopIteration from None

    return wsgi


def serve_gunicorn(spec: dict[str, Any]) -> int:
    """Run gunicorn for one listener until it is told to stop."""
    _Server(spec).run()
    return 0
