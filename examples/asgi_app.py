"""omeapi as a plain ASGI app: the example Server.xml on the simulated engine.

    pip install -e '.[asgi]'
    uvicorn --app-dir examples --no-server-header --port 8081 asgi_app:app

The API is built when the server's lifespan starts (a broken config stops the server with
the config error's location) and closed when it ends.  ``OMEAPI_TOKEN`` sets the token.
"""

from __future__ import annotations

from pathlib import Path

from omeapi_asgi import create_app

#: The example Server.xml next to this file.
CONFIG = Path(__file__).resolve().parent / "Server.xml"

app = create_app(CONFIG)
