"""Embedding omeapi in a Starlette app: OME's API under ``/ome``, next to the host's routes.

The host app keeps its own routes (``/health`` here) and mounts the ASGI adapter at
``/ome``, so that ``GET /ome/v1/vhosts`` is OME's ``GET /v1/vhosts``.  Starlette does not pass
lifespan events to mounted apps, so the host app's lifespan is the API's: the API is built
(Server.xml read, engine started) when the server starts, and closed when it stops.

    OMEAPI_TOKEN=s3cret uvicorn --factory starlette_app:make_app --app-dir examples \\
        --host 127.0.0.1 --port 8081 --no-server-header
    curl -u s3cret: http://localhost:8081/ome/v1/vhosts
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from omeapi_asgi import AsgiApp, create_app

#: The example Server.xml next to this file (its token comes from ``OMEAPI_TOKEN``).
CONFIG = Path(__file__).resolve().parent / "Server.xml"


def make_app(
    config: str | os.PathLike[str] = CONFIG, environ: Mapping[str, str] | None = None
) -> Starlette:
    """The host app: its own ``/health``, and OME's API mounted at ``/ome``."""
    ome: AsgiApp = create_app(config, environ=environ)

    async def health(request: Request) -> JSONResponse:
        # The host's own route: it answers without the API's token.
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/health", health), Mount("/ome", app=ome)],
        lifespan=ome.lifespan,
    )
