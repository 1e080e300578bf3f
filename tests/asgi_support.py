"""Helpers for the ASGI adapter's tests: a Server.xml, and a tiny in-process ASGI driver.

:func:`call` plays the server: it hands the app a scope and the request body as
``http.request`` messages, and collects what the app sends back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import attrs

TOKEN = "asgi:token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()
ORIGIN = "https://ui.console.example.com"
OK_BODY = b'{"message":"OK","response":["default"],"statusCode":200}'

SERVER_XML = f"""<?xml version="1.0"?>
<Server version="8">
  <Name>asgi</Name><Type>origin</Type><IP>*</IP>
  <Bind><Managers><API><Port>8081</Port>{{tls_port}}{{worker_count}}</API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name><Name>127.0.0.1</Name></Names>{{tls}}</Host>
    <API>
      <AccessToken>{TOKEN}</AccessToken>
      <CrossDomains><Url>*.console.example.com</Url></CrossDomains>
      {{storage}}
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


def server_xml(
    *, worker_count: int | None = None, storage: str | None = None, tls: str = ""
) -> str:
    """The test Server.xml, with a ``<WorkerCount>``, a SQLite ``<Storage>`` and a TLS port
    with the ``<TLS>`` element ``tls`` if asked."""
    return SERVER_XML.format(
        tls_port="<TLSPort>8443</TLSPort>" if tls else "",
        tls=tls,
        worker_count=f"<WorkerCount>{worker_count}</WorkerCount>" if worker_count else "",
        storage=f"<Storage><Enabled>true</Enabled><Path>{storage}</Path></Storage>"
        if storage
        else "",
    )


@attrs.define
class Answer:
    """What the app sent for one request."""

    status: int | None = None
    headers: list[tuple[str, str]] = attrs.field(factory=list)
    body: bytes = b""
    messages: list[dict[str, Any]] = attrs.field(factory=list)
    receives: int = 0  # how many times the app asked for a message

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


def http_scope(
    method: str = "GET",
    path: str = "/v1/vhosts",
    headers: Iterable[tuple[str, str]] = (("host", "localhost"), ("authorization", AUTH)),
    *,
    query: bytes = b"",
    raw_path: bytes | None = None,
    root_path: str = "",
    client: tuple[str, int] | None = ("127.0.0.1", 40000),
    server: tuple[str, int] | None = ("127.0.0.1", 8081),
    scheme: str = "http",
) -> dict[str, Any]:
    """An HTTP scope as uvicorn makes one (``raw_path`` defaults to ``path``'s bytes)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "root_path": root_path,
        "query_string": query,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": client,
        "server": server,
    }


async def drive(app: Any, scope: dict[str, Any], incoming: Sequence[dict[str, Any]]) -> Answer:
    """Run ``app`` on ``scope``; ``incoming`` are the messages ``receive`` returns, then
    ``http.disconnect``."""
    answer = Answer()
    queue = list(incoming)

    async def receive() -> dict[str, Any]:
        answer.receives += 1
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        answer.messages.append(message)
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
            ]
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


def body_messages(body: bytes, chunk: int | None = None) -> list[dict[str, Any]]:
    """``body`` as ``http.request`` messages of ``chunk`` bytes (one message by default)."""
    if chunk is None or not body:
        return [{"type": "http.request", "body": body, "more_body": False}]
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


def call(
    app: Any,
    method: str = "GET",
    path: str = "/v1/vhosts",
    *,
    body: bytes = b"",
    chunk: int | None = None,
    headers: Iterable[tuple[str, str]] | None = None,
    **scope: Any,
) -> Answer:
    """One request through ``app`` in a fresh event loop."""
    if headers is None:
        headers = [("host", "localhost"), ("authorization", AUTH)]
        if body:
            # HTTP/1.1 frames a body by its length, or sends it in chunks.
            if chunk is None:
                headers.append(("content-length", str(len(body))))
            else:
                headers.append(("transfer-encoding", "chunked"))
    made = http_scope(method, path, headers, **scope)
    return asyncio.run(drive(app, made, body_messages(body, chunk)))


async def lifespan(app: Any, *events: str) -> list[dict[str, Any]]:
    """Send ``lifespan.<event>`` messages in order; what the app answered."""
    queue = [{"type": f"lifespan.{event}"} for event in events]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)  # a server waits; the tests never get here
        raise AssertionError("lifespan did not end")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent


def served_app() -> Any:
    """The app the served tests start (``--factory``): ``OMEAPI_TEST_CONFIG`` with a body
    limit of 1024 bytes; lifespan messages it sends are appended to
    ``OMEAPI_TEST_LIFESPAN_LOG``, one a line, with whether the API's follower runs."""
    import os
    import threading

    from omeapi_asgi import create_app

    app = create_app(os.environ["OMEAPI_TEST_CONFIG"], body_limit=1024)
    record = os.environ["OMEAPI_TEST_LIFESPAN_LOG"]

    def following() -> bool:
        return any(t.name == "omeapi-follow" for t in threading.enumerate())

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def logged(message: dict[str, Any]) -> None:
            with open(record, "a") as out:
                out.write(f"{message['type']} following={following()}\n")
            await send(message)

        return await app(scope, receive, logged)

    return wrapped


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """Run ``app``'s lifespan as a server does: startup before the block, shutdown after.

    Yields the list of what the app sent on the lifespan (it grows at shutdown).
    """
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        done.set()

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, queue.get, send)
    )
    await queue.put({"type": "lifespan.startup"})
    await asyncio.wait_for(done.wait(), 30)
    assert sent[-1]["type"] == "lifespan.startup.complete", sent
    try:
        yield sent
    finally:
        await queue.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 30)
