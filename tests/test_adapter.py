"""The Werkzeug adapter in process: environ in, the core's answer out, nothing added."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from omeapi import open_api
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
        "REQUEST_METHOD": "patch",
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
