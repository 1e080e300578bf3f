"""The WSGI apps the served benchmarks compare, each a factory for granian and gunicorn.

- ``omeapi_app``: omeapi through its Werkzeug adapter (``benchmarks/Server.xml``).
- ``bare_app``: the limit, a WSGI callable returning the same bytes and headers.
- ``flask_app``: the alternative, Flask + flask-cors doing the same Basic-auth check, CORS and
  JSON envelope, written as a user would write it.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "Server.xml")
TOKEN = "bench-token"
ORIGIN = "https://ui.console.example.com"
AUTHORIZATION = "Basic " + base64.b64encode(TOKEN.encode()).decode()

BODY = b'{"message":"OK","response":["default"],"statusCode":200}'
HEADERS = [
    ("Access-Control-Allow-Origin", ORIGIN),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Allow-Methods", "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE"),
    ("Vary", "Origin"),
    ("Content-Type", "application/json;charset=UTF-8"),
    ("Server", "OvenMediaEngine"),
    ("Content-Length", str(len(BODY))),
]


def omeapi_app() -> Callable[..., Iterable[bytes]]:
    from omeapi_werkzeug import create_app

    app = create_app(CONFIG, brake=False)
    return app


def bare_app() -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", HEADERS)
        return [BODY]

    return app


def flask_app() -> Callable[..., Iterable[bytes]]:
    import json

    from flask import Flask, Response, request
    from flask_cors import CORS

    app = Flask(__name__)
    CORS(
        app,
        origins=[r"https?://.*\.console\.example\.com", r"http://localhost:\d+"],
        supports_credentials=True,
        methods=["OPTIONS", "HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"],
    )
    expected = hmac.new(b"k", AUTHORIZATION.encode(), "sha256").digest()

    def envelope(status: int, message: str, response: Any = None) -> Response:
        body: dict[str, Any] = {"message": message, "statusCode": status}
        if response is not None:
            body["response"] = response
        return Response(
            json.dumps(body, separators=(",", ":"), sort_keys=True),
            status=status,
            content_type="application/json;charset=UTF-8",
            headers={"Server": "OvenMediaEngine"},
        )

    @app.before_request
    def authenticate() -> Response | None:
        if request.method == "OPTIONS":
            return None
        given = hmac.new(b"k", request.headers.get("Authorization", "").encode(), "sha256").digest()
        if not hmac.compare_digest(given, expected):
            return envelope(401, "[HTTP] Invalid credential (401)")
        return None

    @app.get("/v1/vhosts")
    def vhosts() -> Response:
        return envelope(200, "OK", ["default"])

    return app


def omeapi_mutable_app() -> Callable[..., Iterable[bytes]]:
    """omeapi with an API-created vhost ``bench`` (apps a0…a3) whose restarts take time.

    ``OMEAPI_BENCH_RESTART_DELAY`` (seconds) is how long each simulated app operation takes,
    so that restarts of different apps can be seen running side by side.
    """
    import json

    from omeapi import open_api
    from omeapi._simulated.engine import SimulatedEngine
    from omeapi._wire.request import ApiRequest
    from omeapi_werkzeug import create_app

    delay = float(os.environ.get("OMEAPI_BENCH_RESTART_DELAY", "0"))
    api = open_api(CONFIG, engine=SimulatedEngine(operation_delay=delay), brake=False)
    auth = {"Authorization": AUTHORIZATION}
    for path, body in (
        ("/v1/vhosts", [{"name": "bench"}]),
        ("/v1/vhosts/bench/apps", [{"name": f"a{i}", "type": "live"} for i in range(4)]),
    ):
        response = api.handle(ApiRequest.build("POST", path, auth, json.dumps(body).encode()))
        assert response.status == 200, response.body
    return create_app(api)
