"""``omeapi serve`` for real: granian and gunicorn on 127.0.0.1, plain and TLS ports."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, stop, wait_for

trustme = pytest.importorskip("trustme")

TOKEN = "serve-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()
ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]
    ),
}


def server_xml(port: int | None, tls_port: int | None, tls: bool = True) -> str:
    ports = (f"<Port>{port}</Port>" if port else "") + (
        f"<TLSPort>{tls_port}</TLSPort>" if tls_port else ""
    )
    tls_block = "<TLS><CertPath>cert.pem</CertPath><KeyPath>key.pem</KeyPath></TLS>" if tls else ""
    return f"""<?xml version="1.0"?>
<Server version="8">
  <Name>serve-test</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API>{ports}<WorkerCount>2</WorkerCount></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name><Name>127.0.0.1</Name></Names>{tls_block}</Host>
    <API><AccessToken>{TOKEN}</AccessToken>
      <CrossDomains><Url>http://localhost:*</Url></CrossDomains></API>
  </Managers>
  <VirtualHosts><VirtualHost><Name>default</Name>
    <Applications><Application><Name>app</Name><Type>live</Type></Application></Applications>
  </VirtualHost></VirtualHosts>
</Server>
"""


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_config(directory: Path, ca: trustme.CA, port: int | None, tls_port: int | None) -> Path:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    path = directory / "Server.xml"
    path.write_text(server_xml(port, tls_port))
    return path


def start(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omeapi.cli",
            "serve",
            str(config),
            "--address",
            "127.0.0.1",
            *extra,
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.fixture(params=["granian", "gunicorn"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, ca: trustme.CA
) -> Iterator[tuple[int, int]]:
    port, tls_port = free_port(), free_port()
    config = write_config(tmp_path, ca, port, tls_port)
    proc = start(config, "--server", request.param)
    try:
        wait_for(port, proc)
        wait_for(tls_port, proc)
        yield port, tls_port
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_plain_port(served: tuple[int, int]) -> None:
    port, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, headers, body = call(conn, "GET", "/v1/vhosts", Authorization=AUTH)
    assert status == 200
    assert body == b'{"message":"OK","response":["default"],"statusCode":200}'
    assert headers["content-type"] == "application/json;charset=UTF-8"

    status, headers, body = call(conn, "GET", "/v1/vhosts")
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="OvenMediaEngine"'

    status, headers, body = call(
        conn,
        "OPTIONS",
        "/v1/vhosts",
        Origin="http://localhost:3000",
        **{
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["access-control-allow-headers"] == "authorization"

    status, headers, body = call(conn, "HEAD", "/v1/vhosts", Authorization=AUTH)
    assert status == 200 and body == b""
    assert headers["content-length"] == str(
        len(b'{"message":"OK","response":["default"],"statusCode":200}')
    )

    # Too large: answered from Content-Length and the connection closed, possibly while
    # the client is still sending (as curl does, it then reads the answer).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/vhosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: {AUTH}\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = b""
        while b'"statusCode"' not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        with contextlib.suppress(OSError):
            sock.sendall(b" " * (2 * 1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"statusCode":413' in answer


def test_tls_port_presents_the_configured_certificate(
    served: tuple[int, int], ca: trustme.CA
) -> None:
    _, tls_port = served
    context = ssl.create_default_context()
    ca.configure_trust(context)
    conn = http.client.HTTPSConnection("localhost", tls_port, context=context, timeout=10)
    status, _, body = call(conn, "GET", "/v1/vhosts/default/apps", Authorization=AUTH)
    assert status == 200
    assert json.loads(body)["response"] == ["app"]


def test_broken_config_exits_1_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "Server.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<Server version="8">\n<Type>origin</Type>\n<Nope/>\n</Server>\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "omeapi.cli", "serve", str(path)],
        env=ENV,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"{path}:4: Unknown item found: Server.Nope")


def test_api_disabled_exits_2(tmp_path: Path, ca: trustme.CA) -> None:
    path = write_config(tmp_path, ca, None, None)
    result = subprocess.run(
        [sys.executable, "-m", "omeapi.cli", "serve", str(path)],
        env=ENV,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "API Server is disabled" in result.stderr.decode()
