"""When the adapter reads ``wsgi.input``, and what it hands the WSGI server back.

granian sets ``wsgi.input_terminated`` on every request; reading its empty input on each
GET cost more than the core (docs/performance.md), so an HTTP/1.x request without a
length or a transfer coding is not read.  Everything that may carry a body still is.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from typing import Any

import pytest

from omeapi import open_api
from omeapi._config import parse_server_xml
from omeapi_werkzeug import WsgiApp, request_from_environ

SERVER_XML = """<?xml version="1.0"?>
<Server version="8">
  <Name>body</Name><Type>origin</Type><IP>*</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers><API><AccessToken>t</AccessToken></API></Managers>
  <VirtualHosts><VirtualHost><Name>default</Name></VirtualHost></VirtualHosts>
</Server>
"""


class RecordingInput(io.BytesIO):
    """A ``wsgi.input`` that remembers whether it was read."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)

    def readinto(self, buffer: Any) -> int:  # werkzeug's LimitedStream reads this way
        self.reads += 1
        return super().readinto(buffer)


def environ(protocol: str, body: bytes = b"", **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/vhosts",
        "SERVER_PROTOCOL": protocol,
        "wsgi.input": RecordingInput(body),
        "wsgi.url_scheme": "http",
        **extra,
    }


@pytest.mark.parametrize(
    ("protocol", "extra", "read"),
    [
        # granian's HTTP/1.1 GET: flag set, no length, no transfer coding: no body to read
        ("HTTP/1.1", {"wsgi.input_terminated": True}, False),
        ("HTTP/1", {"wsgi.input_terminated": True}, False),
        ("HTTP/1.1", {}, False),
        # a length or a transfer coding: read, whatever the protocol
        ("HTTP/1.1", {"wsgi.input_terminated": True, "CONTENT_LENGTH": "2"}, True),
        ("HTTP/1.1", {"CONTENT_LENGTH": "2"}, True),
        ("HTTP/1.1", {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}, True),
        # HTTP/2 may send a body without a length: the server's flag is believed
        ("HTTP/2", {"wsgi.input_terminated": True}, True),
        ("HTTP/3", {"wsgi.input_terminated": True}, True),
        # no SERVER_PROTOCOL at all (not HTTP/1.x as far as anyone can tell): read
        (None, {"wsgi.input_terminated": True}, True),
    ],
)
def test_when_the_input_is_read(protocol: str | None, extra: dict[str, Any], read: bool) -> None:
    env = environ(protocol or "", b"[]", **extra)
    if protocol is None:
        del env["SERVER_PROTOCOL"]
    request = request_from_environ(env, 1024)
    assert (env["wsgi.input"].reads > 0) is read
    assert request.body == (b"[]" if read else b"")


def test_the_answer_is_a_list_of_one_buffer() -> None:
    # granian sends a list as one buffer and iterates anything else chunk by chunk.
    app = WsgiApp(open_api(parse_server_xml(SERVER_XML)))
    seen: list[str] = []
    env = environ("HTTP/1.1", REQUEST_METHOD="GET")
    out = app(env, lambda status, headers: seen.append(status))
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], bytes)
    assert seen == ["401 Unauthorized"]


class TricklingInput(io.BytesIO):
    """A chunked body as a server hands it over when it arrives in tiny chunks: a few
    bytes a read, each read taking a while."""

    def __init__(self, body: bytes, per_read: int, seconds: float) -> None:
        super().__init__(body)
        self.per_read, self.seconds = per_read, seconds

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(self.seconds)
        wanted = self.per_read if size is None or size < 0 else min(size, self.per_read)
        return super().read(wanted)


def body_request(stream: io.BytesIO, **extra: Any) -> dict[str, Any]:
    return environ(
        "HTTP/1.1",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"t").decode(),
        HTTP_ORIGIN="http://console.example",
        **{"wsgi.input": stream, "wsgi.input_terminated": True, **extra},
    )


def served(app: WsgiApp, env: dict[str, Any]) -> tuple[str, dict[str, str], Any]:
    seen: list[Any] = []
    out = app(env, lambda status, headers: seen.append((status, dict(headers))))
    return seen[0][0], seen[0][1], json.loads(b"".join(out))


def test_a_body_still_arriving_after_the_body_timeout_is_answered_408() -> None:
    api = open_api(parse_server_xml(SERVER_XML))
    app = WsgiApp(api, close_unread=True, body_timeout=0.05)
    trickle = TricklingInput(b'[{"name":"' + b"x" * 5000 + b'"}]', per_read=100, seconds=0.01)
    status, headers, body = served(app, body_request(trickle))
    assert status == "408 Request Timeout"
    assert body == {
        "message": "[HTTP] Request body was not received within 0.05 seconds (408)",
        "statusCode": 408,
    }
    assert headers["Connection"] == "close"  # the rest of the body is not waited for
    assert 0 < trickle.tell() < 5000
    assert api.registry.vhost("x" * 5000) is None


def test_a_body_in_time_is_read_whole_in_pieces() -> None:
    api = open_api(parse_server_xml(SERVER_XML))
    app = WsgiApp(api, close_unread=True, body_timeout=5)
    trickle = TricklingInput(b'[{"name":"' + b"v" * 40000 + b'"}]', per_read=20000, seconds=0)
    status, _, body = served(app, body_request(trickle))
    assert status == "200 OK", body
    assert body[0]["response"]["name"] == "v" * 40000


def test_without_a_body_timeout_the_body_is_read_at_once() -> None:
    trickle = TricklingInput(b"[]" * 10, per_read=1000, seconds=0)
    request = request_from_environ(body_request(trickle), 1024)
    assert request.body == b"[]" * 10


class StalledInput(io.BytesIO):
    """A body whose client stops sending: reads block until ``go`` is set."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.started, self.go = threading.Event(), threading.Event()

    def read(self, size: int | None = -1) -> bytes:
        self.started.set()
        self.go.wait(10)
        return super().read(size)


def test_past_body_readers_a_body_is_refused_429_and_the_rest_still_answered() -> None:
    api = open_api(parse_server_xml(SERVER_XML))
    app = WsgiApp(api, close_unread=True, body_readers=1)
    stalled = StalledInput(b'[{"name":"first"}]')
    first: list[Any] = []
    reader = threading.Thread(target=lambda: first.append(served(app, body_request(stalled))))
    reader.start()
    try:
        assert stalled.started.wait(5)
        status, headers, body = served(app, body_request(io.BytesIO(b'[{"name":"second"}]')))
        assert status == "429 Too Many Requests"
        assert headers["Retry-After"] == "1" and headers["Connection"] == "close"
        assert body == {
            "message": "[HTTP] Too many request bodies are being received at once "
            "(limit: 1); try again (429)",
            "statusCode": 429,
        }
        get = environ(
            "HTTP/1.1",
            REQUEST_METHOD="GET",
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"t").decode(),
        )
        assert served(app, get)[0] == "200 OK"  # no body: not counted
    finally:
        stalled.go.set()
        reader.join(10)
    assert first[0][0] == "200 OK"
    # The reader's place is free again.
    assert served(app, body_request(io.BytesIO(b'[{"name":"third"}]')))[0] == "200 OK"
