"""examples/starlette_app.py: the API mounted in a Starlette app, in process and under uvicorn."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from asgi_support import serving
from servers import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "starlette_app.py"
TOKEN = "example-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("starlette_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_app() -> Any:
    return load_example().make_app(environ={"OMEAPI_TOKEN": TOKEN})


@contextlib.asynccontextmanager
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Requests to ``app`` while its lifespan runs (which builds the API)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        serving(app),
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as http,
    ):
        yield http


def test_the_hosts_own_route_and_the_mounted_api() -> None:
    async def run() -> None:
        async with client(make_app()) as http:
            assert (await http.get("/health")).json() == {"status": "ok"}
            response = await http.get("/ome/v1/vhosts", headers={"Authorization": AUTH})
            assert response.status_code == 200
            assert response.json()["response"] == ["studio"]
            assert response.headers["server"] == "OvenMediaEngine"
            apps = await http.get("/ome/v1/vhosts/studio/apps", headers={"Authorization": AUTH})
            assert apps.json()["response"] == ["live"]
            assert (await http.get("/ome/v1/vhosts")).status_code == 401
            preflight = await http.options(
                "/ome/v1/vhosts",
                headers={
                    "Origin": "http://localhost:3000",
                    "Access-Control-Request-Method": "GET",
                },
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
            # OME's paths are below the mount: outside it, the host app's own 404.
            outside = await http.get("/v1/vhosts", headers={"Authorization": AUTH})
            assert outside.status_code == 404
            assert "server" not in outside.headers

    asyncio.run(run())


def test_the_api_lives_as_long_as_the_host_app() -> None:
    auth = {"Authorization": AUTH}
    app = make_app()

    async def run() -> None:
        async with client(app) as http:
            response = await http.post("/ome/v1/vhosts", headers=auth, json=[{"name": "made"}])
            assert response.status_code == 200, response.text
            listed = await http.get("/ome/v1/vhosts", headers=auth)
            assert listed.json()["response"] == ["studio", "made"]
        # The next startup builds a new API from Server.xml (the example keeps no store).
        async with client(app) as http:
            listed = await http.get("/ome/v1/vhosts", headers=auth)
            assert listed.json()["response"] == ["studio"]

    asyncio.run(run())


def test_the_example_under_uvicorn() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "starlette_app:make_app"),
            *("--app-dir", str(EXAMPLE.parent), "--host", "127.0.0.1", "--port", str(port)),
            *("--no-server-header", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env={**os.environ, "OMEAPI_TOKEN": TOKEN, "PYTHONPATH": f"{ROOT}:{ROOT}/adapters"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/health")
        assert json.loads(conn.getresponse().read()) == {"status": "ok"}
        conn.request("GET", "/ome/v1/vhosts", headers={"Authorization": AUTH, "Host": "localhost"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["response"] == ["studio"]
        assert response.getheader("server") == "OvenMediaEngine"
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)
