"""``omeapi serve --server uvicorn|hypercorn``: the ASGI adapter (``omeapi_asgi``) under an
ASGI server, with the listener, workers, TLS files and options ``serve`` decided.

The body limit is the ``Api``'s own (``omeapi_asgi`` answers 413 from it, as the WSGI
adapter does); uvicorn and hypercorn bound header reads themselves.  A certificate reload
through the API is not applied to a running uvicorn or hypercorn: restart it
(docs/deployment.md, "Choosing a server").
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from omeapi_remote import AsyncHostLink, worker_options
from omeapi_werkzeug.limits import HEADER_TIMEOUT
from omeapi_werkzeug.logs import log_requests

__all__ = ["asgi_app", "serve_asgi"]

_ENV_SPEC = "OMEAPI_SERVE_SPEC"
_TARGET = "omeapi_werkzeug.asgi_servers:asgi_app"


def asgi_app() -> Any:
    """The ASGI app a worker loads (factory target; the spec is in the environment)."""
    from omeapi_asgi import create_app

    spec = json.loads(os.environ[_ENV_SPEC])
    log_requests(spec)
    host = spec.get("engine_host")
    engine, options = worker_options(host)
    return create_app(
        spec["file"],
        engine,
        store=spec.get("store"),
        body_timeout=spec["body_timeout"],
        # Requests for the engine host go there from the event loop, without a thread.
        forward_async=AsyncHostLink(host).forward if host else None,
        **options,
        **spec.get("options", {}),
    )


@contextlib.contextmanager
def _certificate_files(spec: dict[str, Any]) -> Iterator[tuple[str, str] | None]:
    """The certificate and key files to give the server: the leaf with its chain appended
    in a temporary file (removed afterwards) when the config names a chain."""
    if not spec["tls"]:
        yield None
        return
    cert, key, chain = spec["tls"]
    if not chain:
        yield cert, key
        return
    with open(cert, "rb") as leaf, open(chain, "rb") as rest:
        data = leaf.read().rstrip(b"\n") + b"\n" + rest.read()
    with tempfile.TemporaryDirectory(prefix="omeapi-tls-") as directory:
        combined = os.path.join(directory, "chain.pem")
        with open(os.open(combined, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
            out.write(data)
        yield combined, key


def serve_asgi(server: str, spec: dict[str, Any]) -> int:
    """Run uvicorn or hypercorn for one listener until it is told to stop."""
    os.environ[_ENV_SPEC] = json.dumps(spec)
    workers = int(spec.get("workers", 1))
    with _certificate_files(spec) as files:
        if server == "uvicorn":
            return _uvicorn(spec, workers, files)
        return _hypercorn(spec, workers, files)


def _uvicorn(spec: dict[str, Any], workers: int, files: tuple[str, str] | None) -> int:
    import uvicorn

    options: dict[str, Any] = {}
    if files is not None:
        options.update(ssl_certfile=files[0], ssl_keyfile=files[1])
    uvicorn.run(
        _TARGET,
        factory=True,
        host=spec["address"],
        port=spec["port"],
        workers=workers,
        lifespan="on",
        # OME's own Server header only (the core sets it).
        server_header=False,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=int(HEADER_TIMEOUT),
        **options,
    )
    return 0


def _hypercorn(spec: dict[str, Any], workers: int, files: tuple[str, str] | None) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    address = spec["address"]
    host = f"[{address}]" if ":" in address else address
    config.bind = [f"{host}:{spec['port']}"]
    config.application_path = f"{_TARGET}()"
    # hypercorn: 0 workers serves in this process; N spawns N worker processes.
    config.workers = 0 if workers == 1 else workers
    config.include_server_header = False
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 2
    config.read_timeout = int(HEADER_TIMEOUT)
    if files is not None:
        config.certfile, config.keyfile = files
    return int(run(config) or 0)
