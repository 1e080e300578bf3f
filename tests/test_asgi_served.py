"""The ASGI adapter under real servers: uvicorn and hypercorn on 127.0.0.1, started here.

Each server runs ``asgi_support:served_app`` (body limit 1024 bytes, a SQLite store so that
the lifespan has a follower thread to start and stop) in its own process group, and is
stopped with SIGTERM at the end of the test (killed if it has not ended within 20 s).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from asgi_support import AUTH, OK_BODY, ORIGIN, server_xml
from servers import free_port, stop, wait_for

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
LIMIT = 1024


def command(server: str, port: int, tmp: Path) -> list[str]:
    if server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", "asgi_support:served_app"),
            *("--app-dir", str(TESTS), "--host", "127.0.0.1", "--port", str(port)),
            *("--lifespan", "on", "--no-server-header", "--log-level", "warning"),
            "--no-access-log",
        ]
    # hypercorn has no flag for its Server header: a config file says it.
    config = tmp / "hypercorn.toml"
    config.write_text(
        f'bind = ["127.0.0.1:{port}"]\ninclude_server_header = false\n'
        f'application_path = "{TESTS}"\nloglevel = "WARNING"\ngraceful_timeout = 2\n'
    )
    return [
        *(sys.executable, "-m", "hypercorn", "--config", str(config)),
        "asgi_support:served_app()",
    ]


def start(server: str, config: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = tmp / "lifespan.log"
    env = {
        "PYTHONPATH": f"{TESTS}:{ROOT}",
        "OMEAPI_TEST_CONFIG": str(config),
        "OMEAPI_TEST_LIFESPAN_LOG": str(log),
    }
    proc = subprocess.Popen(
        command(server, port, tmp),
        cwd=TESTS,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return proc, port, log


SERVERS = ["uvicorn", "hypercorn"]


@pytest.fixture(scope="module", params=SERVERS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """One server for all the tests of this module that use it; its lifespan is checked
    once it has stopped."""
    tmp = tmp_path_factory.mktemp(request.param)
    config = tmp / "Server.xml"
    config.write_text(server_xml(storage=str(tmp / "store.sqlite")))
    proc, port, log = start(request.param, config, tmp)
    try:
        wait_for(port, proc)
        yield port, log
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)
    lines = log.read_text().splitlines()
    # The follower of the shared store ran while the server did, and stopped with it.
    assert lines == [
        "lifespan.startup.complete following=True",
        "lifespan.shutdown.complete following=False",
    ]


def connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
    **options: bool,
) -> tuple[int, list[tuple[str, str]], bytes]:
    sent = {"Host": "localhost", "Authorization": AUTH} if headers is None else headers
    conn.request(method, path, body=body, headers=sent, **options)
    response = conn.getresponse()
    return response.status, [(k.lower(), v) for k, v in response.getheaders()], response.read()


def test_get_vhosts_with_the_token(served: tuple[int, Path]) -> None:
    status, headers, body = call(connect(served[0]), "GET", "/v1/vhosts")
    assert (status, body) == (200, OK_BODY)
    assert [v for k, v in headers if k == "server"] == ["OvenMediaEngine"]
    assert ("content-type", "application/json;charset=UTF-8") in headers
    assert ("content-length", str(len(OK_BODY))) in headers


def test_401_without_the_token(served: tuple[int, Path]) -> None:
    status, headers, body = call(connect(served[0]), "GET", "/v1/vhosts", headers={})
    assert status == 401
    assert ("www-authenticate", 'Basic realm="OvenMediaEngine"') in headers
    assert json.loads(body)["statusCode"] == 401


def test_options_204_with_cors(served: tuple[int, Path]) -> None:
    status, headers, body = call(
        connect(served[0]),
        "OPTIONS",
        "/v1/vhosts",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert (status, body) == (204, b"")
    assert ("access-control-allow-origin", ORIGIN) in headers
    assert ("access-control-allow-headers", "authorization") in headers


@pytest.mark.parametrize("chunked", [False, True])
def test_413_for_a_large_body(served: tuple[int, Path], chunked: bool) -> None:
    body = b"[" + b" " * (LIMIT * 2) + b"]"
    conn = connect(served[0])
    sent = {"Host": "localhost", "Authorization": AUTH, "Content-Type": "application/json"}
    if chunked:  # no Content-Length: read to the limit + 1 bytes
        status, _, answer = call(
            conn, "POST", "/v1/vhosts", iter([body[:500], body[500:]]), sent, encode_chunked=True
        )
    else:
        status, _, answer = call(conn, "POST", "/v1/vhosts", body, sent)
    assert status == 413
    assert json.loads(answer)["message"] == (
        f"[HTTP] Request body is too large: {LIMIT + 1} bytes (limit: {LIMIT} bytes) (413)"
    )


def test_head_framing_keeps_the_connection_usable(served: tuple[int, Path]) -> None:
    conn = connect(served[0])
    status, headers, body = call(conn, "HEAD", "/v1/vhosts")
    assert (status, body) == (200, b"")
    assert ("content-length", str(len(OK_BODY))) in headers
    # The next answer on the same connection starts where the HEAD answer ended.
    assert call(conn, "GET", "/v1/vhosts")[::2] == (200, OK_BODY)
    assert call(conn, "HEAD", "/v1/vhosts/default")[::2] == (200, b"")
    assert call(conn, "GET", "/v1/vhosts/default/apps")[2] == (
        b'{"message":"OK","response":["app"],"statusCode":200}'
    )


def test_a_path_that_is_not_utf8_is_decoded_as_wsgi_does(served: tuple[int, Path]) -> None:
    status, _, body = call(connect(served[0]), "GET", "/v1/vhosts/caf%C3%A9%FF")
    assert status == 404
    # Not UTF-8 as a whole: the decoded bytes as latin-1, as WSGI's PATH_INFO carries them.
    assert json.loads(body)["message"] == (
        "[HTTP] Could not find the virtual host: [caf\xc3\xa9\xff] (404)"
    )


@pytest.mark.parametrize("server", SERVERS)
def test_a_broken_config_stops_the_server_with_its_location(server: str, tmp_path: Path) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml().replace("<Type>origin</Type>", "<Type>origin</Type><Bogus/>"))
    proc, _, log = start(server, config, tmp_path)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    # uvicorn exits 3; hypercorn's worker process fails but its main process exits 0.
    assert proc.returncode == (3 if server == "uvicorn" else 0)
    assert f"{config}:3: Unknown item found".encode() in err
    assert log.read_text().startswith("lifespan.startup.failed")
