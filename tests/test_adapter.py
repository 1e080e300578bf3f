"""The Werkzeug adapter in process: environ in, the core's answer out, nothing added."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from omeapi import ApiRequest, open_api
from omeapi._config import parse_server_xml
from omeapi_werkzeug import WsgiApp, create_app, request_from_environ

TOKEN = "adapter:token"
AUTH = {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()}

SERVER_XML = f"""<?xml version="1.0"?>
<Server version="8">
  <Name>adapter</Name><Type>origin</Type><IP>*</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name><Name>api.example.com</Name></Names></Host>
    <API>
      <AccessToken>{TOKEN}</AccessToken>
      <CrossDomains><Url>*.console.example.com</Url></CrossDomains>
    </API>
  </Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Applications><Application><Name>app</Name><Type>live</Type></Application></Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
"""


@pytest.fixture
def app() -> WsgiApp:
    return create_app(parse_server_xml(SERVER_XML), body_limit=1024)


@pytest.fixture
def served_app() -> WsgiApp:
    """As ``omeapi serve`` builds it."""
    return create_app(parse_server_xml(SERVER_XML), body_limit=1024, close_unread=True)


@pytest.fixture
def client(app: WsgiApp) -> Client:
    return Client(app)


def get(client: Client, path: str, **kwargs: object) -> Response:
    headers = {**AUTH, "Host": "localhost"}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return client.open(path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_create_app_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "Server.xml"
    path.write_text(SERVER_XML)
    response = get(Client(create_app(path)), "/v1/vhosts")
    assert response.status_code == 200
    assert response.get_data() == b'{"message":"OK","response":["default"],"statusCode":200}'


def test_create_app_from_an_api() -> None:
    api = open_api(parse_server_xml(SERVER_XML))
    assert create_app(api).api is api


def test_answers_exactly_what_the_core_answers(client: Client) -> None:
    response = get(client, "/v1/vhosts/default")
    assert response.status == "200 OK"
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Server"] == "OvenMediaEngine"
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert json.loads(response.get_data())["response"] == {"name": "default"}


def test_status_line_uses_omes_reason_phrases(client: Client) -> None:
    client.open(
        "/v1/vhosts",
        method="POST",
        headers={**AUTH, "Host": "localhost"},
        data=json.dumps([{"name": "a"}, {"name": "a"}]),
    )
    response = client.open(
        "/v1/vhosts",
        method="POST",
        headers={**AUTH, "Host": "localhost"},
        data=json.dumps([{"name": "b"}, {"name": "a"}]),
    )
    assert response.status == "207 Multi Status"


def test_auth_is_required(client: Client) -> None:
    response = client.get("/v1/vhosts", headers={"Host": "localhost"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="OvenMediaEngine"'


def test_host_check(client: Client) -> None:
    response = get(client, "/v1/vhosts", headers={"Host": "evil.example.net:8081"})
    assert response.status_code == 403
    assert json.loads(response.get_data())["message"] == (
        "[HTTP] Host is not allowed: [evil.example.net] (403)"
    )


def test_cors_preflight_from_a_browser(client: Client) -> None:
    response = client.open(
        "/v1/vhosts/default/apps",
        method="OPTIONS",
        headers={
            "Host": "api.example.com",
            "Origin": "https://ui.console.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == "https://ui.console.example.com"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert response.headers["Access-Control-Allow-Methods"] == (
        "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE"
    )


def test_head_has_the_length_but_no_body(client: Client) -> None:
    full = get(client, "/v1/vhosts")
    head = get(client, "/v1/vhosts", method="HEAD")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(full.get_data()))


def test_mounted_under_a_prefix(app: WsgiApp) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    def elsewhere(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("not routed here")

    mounted = DispatcherMiddleware(elsewhere, {"/ome": app})  # type: ignore[arg-type]
    response = get(Client(mounted), "/ome/v1/vhosts/default/apps")
    assert response.status_code == 200
    assert json.loads(response.get_data())["response"] == ["app"]


def test_body_limit_gives_413_without_reading_everything(client: Client) -> None:
    response = client.open(
        "/v1/vhosts",
        method="POST",
        headers={**AUTH, "Host": "localhost"},
        data=b"[" + b" " * 5000 + b"]",
    )
    assert response.status_code == 413
    body = json.loads(response.get_data())
    assert body["statusCode"] == 413
    assert body["message"].startswith("[HTTP] ")


def test_percent_encoded_utf8_path_is_decoded_once(client: Client) -> None:
    response = get(client, "/v1/vhosts/caf%C3%A9")
    assert json.loads(response.get_data())["message"] == (
        "[HTTP] Could not find the virtual host: [café] (404)"
    )


def test_request_from_environ_maps_headers_and_client() -> None:
    environ = {
        "REQUEST_METHOD": "PATCH",
        "PATH_INFO": "/v1/vhosts/x",
        "QUERY_STRING": "a=1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8081",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_X_CUSTOM": "yes",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "2",
        "wsgi.url_scheme": "https",
        "wsgi.input": __import__("io").BytesIO(b"{}"),
    }
    request = request_from_environ(environ, 100)  # type: ignore[arg-type]
    assert request.method == "PATCH"
    assert request.path == "/v1/vhosts/x"
    assert request.query == "a=1"
    assert request.client == "192.0.2.7"
    assert request.scheme == "https"
    assert request.body == b"{}"
    assert request.headers["host"] == "localhost:8081"
    assert request.headers["x-custom"] == "yes"
    assert request.headers["content-type"] == "application/json"


def test_method_is_passed_as_sent() -> None:
    # Upper-casing `head` would answer HEAD (no body) where the server framed a GET-like
    # answer; the core refuses the method instead.
    environ = {"REQUEST_METHOD": "head", "PATH_INFO": "/v1/version"}
    assert request_from_environ(environ, 100).method == "head"  # type: ignore[arg-type]


class Unreadable(io.RawIOBase):
    """A body that must not be read: the answer was decided from the headers."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")

    def readable(self) -> bool:
        return True


def environ_for(method: str, path: str, length: str, **headers: str) -> dict[str, object]:
    environ: dict[str, object] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8081",
        "HTTP_HOST": "localhost",
        "CONTENT_LENGTH": length,
        "wsgi.input": Unreadable(),
        "wsgi.url_scheme": "http",
    }
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return environ


def call_wsgi(app: WsgiApp, environ: dict[str, object]) -> tuple[str, dict[str, str], bytes]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.append((status, headers))

    body = b"".join(app(environ, start_response))  # type: ignore[arg-type]
    status, headers = seen[0]
    return status, {k.lower(): v for k, v in headers}, body


AUTHZ = AUTH["Authorization"]


@pytest.mark.parametrize(
    ("method", "path", "length", "headers", "status", "message"),
    [
        # In OME's order: Host, then auth, then the route, then the body limit.
        (
            "POST",
            "/v1/vhosts",
            "5000",
            {"host": "evil.example"},
            403,
            "[HTTP] Host is not allowed: [evil.example] (403)",
        ),
        ("POST", "/v1/vhosts", "5000", {}, 401, None),
        (
            "POST",
            "/v1/nowhere",
            "5000",
            {"authorization": AUTHZ},
            404,
            "[HTTP] Controller not found (404)",
        ),
        ("DELETE", "/v1/version", "5000", {"authorization": AUTHZ}, 405, None),
        (
            "POST",
            "/v1/vhosts",
            "50000000",
            {"authorization": AUTHZ},
            413,
            "[HTTP] Request body is too large: 50000000 bytes (limit: 1024 bytes) (413)",
        ),
        ("POST", "/v1/vhosts", "18446744073709551616", {"authorization": AUTHZ}, 413, None),
        ("POST", "/v1/vhosts", "9" * 5000, {"authorization": AUTHZ}, 413, None),
    ],
)
def test_answers_from_the_headers_without_reading_the_body(
    app: WsgiApp,
    served_app: WsgiApp,
    method: str,
    path: str,
    length: str,
    headers: dict[str, str],
    status: int,
    message: str | None,
) -> None:
    code, response_headers, body = call_wsgi(app, environ_for(method, path, length, **headers))
    assert int(code.split()[0]) == status
    assert json.loads(body)["statusCode"] == status
    if message is not None:
        assert json.loads(body)["message"] == message
    # The unread body would be taken for the next request: the connection ends where the
    # server allows the header; PEP 3333 (plain create_app) forbids it.
    assert "connection" not in response_headers
    served = call_wsgi(served_app, environ_for(method, path, length, **headers))
    assert (served[0], served[2]) == (code, body)
    assert served[1]["connection"] == "close"


def test_options_is_answered_before_the_body(app: WsgiApp) -> None:
    code, _, body = call_wsgi(app, environ_for("OPTIONS", "/v1/vhosts", "10"))
    assert code == "204 No Content" and body == b""


def test_precheck_matches_handle_and_leaves_the_rest_to_it(app: WsgiApp) -> None:
    api = app.api
    ok = ApiRequest.build(
        "POST", "/v1/vhosts", {"Host": "localhost", **AUTH, "Content-Length": "1024"}
    )
    assert api.precheck(ok) is None
    for headers in ({"Host": "localhost"}, {"Host": "localhost", **AUTH}):
        request = ApiRequest.build("POST", "/v1/vhosts", headers, b"x" * 2000)
        early = api.precheck(
            ApiRequest.build("POST", "/v1/vhosts", {**headers, "Content-Length": "2000"})
        )
        assert early is not None
        full = api.handle(request)
        assert (early.status, early.headers) == (full.status, full.headers)
        assert early.body == full.body


@pytest.mark.parametrize("declared", [{"Transfer-Encoding": "chunked"}, {"Content-Length": "9"}])
def test_a_route_that_reads_no_body_is_answered_without_one(
    app: WsgiApp, declared: dict[str, str]
) -> None:
    # A client may declare a body it never sends: a GET need not wait for it.
    headers = {"Host": "localhost", **AUTH, **declared}
    early = app.api.precheck(ApiRequest.build("GET", "/v1/vhosts", headers))
    assert early is not None and early.status == 200
    assert early.body == app.api.handle(ApiRequest.build("GET", "/v1/vhosts", headers)).body
    environ = environ_for(
        "GET", "/v1/vhosts", declared.get("Content-Length", ""), authorization=AUTHZ
    )
    if "Transfer-Encoding" in declared:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input"] = _NeverRead()
    assert call_wsgi(app, environ)[0] == "200 OK"


class _NeverRead(io.RawIOBase):
    """A body that must not be read (it would block forever on a real connection)."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")

    readline = read  # type: ignore[assignment]


def test_a_request_without_a_declared_body_is_not_prechecked(served_app: WsgiApp) -> None:
    environ = environ_for("GET", "/v1/version", "", authorization=AUTHZ)
    environ["wsgi.input_terminated"] = True  # as granian says for every request
    environ["wsgi.input"] = io.BytesIO(b"")
    code, headers, _ = call_wsgi(served_app, environ)
    assert code == "200 OK"
    assert "connection" not in headers


def test_wsgiref_validator_accepts_an_early_answer(app: WsgiApp) -> None:
    from wsgiref.validate import validator

    environ = environ_for("POST", "/v1/vhosts", "50000000")
    environ.update(
        {
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "wsgi.version": (1, 0),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
    )
    seen: list[str] = []
    answer = validator(app)(environ, lambda status, headers: seen.append(status))  # type: ignore[arg-type]
    try:
        assert json.loads(b"".join(answer))["statusCode"] == 401
    finally:
        answer.close()  # type: ignore[attr-defined]
    assert seen == ["401 Unauthorized"]
