"""When the adapter reads ``wsgi.input``, and what it hands the WSGI server back.

granian sets ``wsgi.input_terminated`` on every request; reading its empty input on each
GET cost more than the core (docs/performance.md), so an HTTP/1.x request without a
length or a transfer coding is not read.  Everything that may carry a body still is.
"""

from __future__ import annotations

import io
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
