"""The ASGI adapter in process: a scope in, the core's answer out, nothing added.

The requests are driven by a tiny fake server (``asgi_support``): the tests see every
message the app sends and how often it asked for the body.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import anyio
import pytest
import trustme
from asgi_support import (
    AUTH,
    OK_BODY,
    ORIGIN,
    Answer,
    call,
    drive,
    http_scope,
    lifespan,
    server_xml,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from omeapi import Api, ApiRequest, open_api, parse_server_xml
from omeapi_asgi import AsgiApp, create_app, request_from_scope
from omeapi_werkzeug import create_app as create_wsgi_app

LIMIT = 1024


@pytest.fixture(scope="module")
def api() -> Api:
    return open_api(parse_server_xml(server_xml()), body_limit=LIMIT)


@pytest.fixture
def app(api: Api) -> AsgiApp:
    return create_app(api)


def core_answer(api: Api, method: str, path: str, headers: Iterable[tuple[str, str]]) -> Answer:
    response = api.handle(ApiRequest.build(method, path, headers, client="127.0.0.1"))
    return Answer(response.status, list(response.headers), response.body)


# -- what is answered ------------------------------------------------------------------------

ORIGIN_HEADERS = [("host", "localhost"), ("authorization", AUTH), ("origin", ORIGIN)]

SAME_AS_CORE = [
    ("GET", "/v1/vhosts", ORIGIN_HEADERS),
    ("GET", "/v1/vhosts/default/apps/app", ORIGIN_HEADERS),
    ("GET", "/v1/vhosts/nope", ORIGIN_HEADERS),
    ("DELETE", "/v1/vhosts/default/apps/app/streams", ORIGIN_HEADERS),
    ("GET", "/v1/vhosts", [("host", "localhost")]),
    ("GET", "/v1/vhosts", [("host", "evil.example.net"), ("authorization", AUTH)]),
    ("OPTIONS", "/v1/vhosts", [("host", "localhost"), ("origin", ORIGIN)]),
    ("HEAD", "/v1/vhosts", ORIGIN_HEADERS),
]


@pytest.mark.parametrize(("method", "path", "headers"), SAME_AS_CORE)
def test_answers_exactly_what_the_core_answers(
    api: Api, app: AsgiApp, method: str, path: str, headers: list[tuple[str, str]]
) -> None:
    answer = call(app, method, path, headers=headers)
    expected = core_answer(api, method, path, headers)
    assert (answer.status, answer.headers, answer.body) == (
        expected.status,
        expected.headers,
        expected.body,
    )
    assert [m["type"] for m in answer.messages] == ["http.response.start", "http.response.body"]


def test_get_vhosts_with_the_token(app: AsgiApp) -> None:
    answer = call(app, "GET", "/v1/vhosts")
    assert answer.status == 200
    assert answer.body == OK_BODY
    assert answer.header("content-type") == "application/json;charset=UTF-8"
    assert answer.header("server") == "OvenMediaEngine"
    assert answer.header("content-length") == str(len(OK_BODY))


def test_auth_is_required(app: AsgiApp) -> None:
    answer = call(app, "GET", "/v1/vhosts", headers=[("host", "localhost")])
    assert answer.status == 401
    assert answer.header("www-authenticate") == 'Basic realm="OvenMediaEngine"'
    assert json.loads(answer.body)["statusCode"] == 401


def test_cors_preflight(app: AsgiApp) -> None:
    answer = call(
        app,
        "OPTIONS",
        "/v1/vhosts/default/apps",
        headers=[
            ("host", "localhost"),
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization, content-type"),
        ],
    )
    assert answer.status == 204
    assert answer.body == b""
    assert answer.header("access-control-allow-origin") == ORIGIN
    assert answer.header("access-control-allow-credentials") == "true"
    assert answer.header("access-control-allow-headers") == "authorization, content-type"


def test_head_has_the_length_but_no_body(app: AsgiApp) -> None:
    full = call(app, "GET", "/v1/vhosts")
    head = call(app, "HEAD", "/v1/vhosts")
    assert head.status == 200
    assert head.body == b""
    assert head.header("content-length") == str(len(full.body)) == str(len(OK_BODY))


def test_a_change_and_its_body(app: AsgiApp) -> None:
    body = json.dumps([{"name": "made-by-asgi"}]).encode()
    answer = call(app, "POST", "/v1/vhosts", body=body, chunk=3)
    assert answer.status == 200, answer.body
    listed = call(app, "GET", "/v1/vhosts")
    assert "made-by-asgi" in json.loads(listed.body)["response"]
    assert call(app, "DELETE", "/v1/vhosts/made-by-asgi").status == 200


# -- the body limit --------------------------------------------------------------------------


def test_a_streamed_body_over_the_limit_is_read_only_to_limit_plus_one(app: AsgiApp) -> None:
    body = b"[" + b" " * (LIMIT * 4) + b"]"
    answer = call(app, "POST", "/v1/vhosts", body=body, chunk=100)  # no Content-Length
    assert answer.status == 413
    assert json.loads(answer.body)["message"] == (
        f"[HTTP] Request body is too large: {LIMIT + 1} bytes (limit: {LIMIT} bytes) (413)"
    )
    # 11 messages of 100 bytes hold LIMIT + 1; the other 30 are never asked for.
    assert answer.receives == 11


def test_a_declared_length_over_the_limit_is_answered_before_the_body(app: AsgiApp) -> None:
    headers = [("host", "localhost"), ("authorization", AUTH), ("content-length", "99999999")]
    answer = call(app, "POST", "/v1/vhosts", headers=headers, body=b"[]")
    assert answer.status == 413
    assert answer.receives == 0


def test_the_core_keeps_its_order_for_a_large_body(app: AsgiApp) -> None:
    # Authentication comes before the body limit, as with any other body.
    headers = [("host", "localhost"), ("content-length", str(LIMIT + 1))]
    answer = call(app, "POST", "/v1/vhosts", headers=headers, body=b"[]")
    assert answer.status == 401
    assert answer.receives == 0


@pytest.mark.parametrize("chunk", [None, 1, 7, LIMIT])
def test_a_body_at_the_limit_is_read_whole(app: AsgiApp, chunk: int | None) -> None:
    body = b"{" + b" " * (LIMIT - 2) + b"}"
    answer = call(app, "POST", "/v1/vhosts", body=body, chunk=chunk)
    # Read whole and parsed: the core's 400 for an object where an array belongs.
    assert json.loads(answer.body)["message"] == "[HTTP] Request body must be an array (400)"


def test_a_client_gone_before_the_body_gets_no_answer(app: AsgiApp) -> None:
    chunked = [("host", "localhost"), ("authorization", AUTH), ("transfer-encoding", "chunked")]
    scope = http_scope("POST", headers=chunked)
    first = {"type": "http.request", "body": b"[", "more_body": True}
    answer = asyncio.run(drive(app, scope, [first]))  # then http.disconnect
    assert answer.messages == []


# -- translating the scope -------------------------------------------------------------------


def test_request_from_scope_maps_every_field() -> None:
    scope = http_scope(
        "patch",
        "/v1/vhosts/x",
        [("Host", "api.example.com:8081"), ("X-Custom", " yes "), ("content-type", "a/b")],
        query=b"a=1&b=caf\xe9",
        client=("192.0.2.7", 5555),
        scheme="https",
    )
    request = request_from_scope(scope, b"{}")
    assert request.method == "PATCH"
    assert request.path == "/v1/vhosts/x"
    assert request.query == "a=1&b=café"
    assert request.client == "192.0.2.7"
    assert request.scheme == "https"
    assert request.body == b"{}"
    assert request.headers == {
        "host": "api.example.com:8081",
        "x-custom": "yes",
        "content-type": "a/b",
    }


def test_header_values_are_latin_1_and_the_last_repeat_wins() -> None:
    scope = http_scope(
        headers=[("x-a", "caf\xe9"), ("authorization", "one"), ("authorization", "two")]
    )
    request = request_from_scope(scope, b"")
    assert request.headers["x-a"] == "café"
    assert request.headers["authorization"] == "two"


@given(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=24)), max_size=8))
def test_decoded_header_bytes_are_the_headers_build_makes(pairs: list[tuple[bytes, bytes]]) -> None:
    text = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs]
    assert ApiRequest.decode_headers(pairs) == ApiRequest.build("GET", "/", text).headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("authorization", "Basic bad"), ("authorization", AUTH)], 200),
        ([("authorization", AUTH), ("authorization", "Basic bad")], 401),
    ],
)
def test_repeated_authorization_last_wins(
    app: AsgiApp, headers: list[tuple[str, str]], status: int
) -> None:
    assert call(app, headers=[("host", "localhost"), *headers]).status == status


def test_no_host_header_is_the_servers_address() -> None:
    scope = http_scope(headers=[], server=("127.0.0.1", 8081))
    assert request_from_scope(scope, b"").headers["host"] == "127.0.0.1:8081"
    assert "host" not in request_from_scope(http_scope(headers=[], server=None), b"").headers


def test_no_client_address() -> None:
    assert request_from_scope(http_scope(client=None), b"").client == ""


@pytest.mark.parametrize(
    ("scope_path", "root_path", "expected"),
    [
        ("/ome/v1/vhosts", "/ome", "/v1/vhosts"),  # Starlette's Mount, uvicorn --root-path
        ("/v1/vhosts", "/ome", "/v1/vhosts"),  # hypercorn's root_path: not in the path
        ("/omega/v1/vhosts", "/ome", "/omega/v1/vhosts"),  # not at a segment boundary
        ("/ome", "/ome", ""),
    ],
)
def test_the_path_below_root_path(scope_path: str, root_path: str, expected: str) -> None:
    scope = http_scope(path=scope_path, root_path=root_path)
    assert request_from_scope(scope, b"").path == expected


def test_a_percent_encoded_utf8_path_is_decoded_once(app: AsgiApp) -> None:
    raw = "/v1/vhosts/caf%C3%A9%2541"
    answer = call(app, path=unquote(raw), raw_path=raw.encode())
    assert json.loads(answer.body)["message"] == (
        "[HTTP] Could not find the virtual host: [café%41] (404)"
    )


def test_a_path_that_is_not_utf8_is_the_raw_bytes_as_latin_1() -> None:
    raw = b"/v1/vhosts/%FFx"
    scope = http_scope(path=unquote(raw.decode()), raw_path=raw)  # the server's "\ufffdx"
    assert request_from_scope(scope, b"").path == "/v1/vhosts/\xffx"


_SHARED_API = open_api(parse_server_xml(server_xml()), body_limit=LIMIT)

# The raw request targets a client may send: safe characters and any percent-encoded bytes.
raw_paths = st.lists(
    st.one_of(
        st.sampled_from([*"abcXYZ019-._~:@!$&'()*+,;=", "/", "//"]),
        st.binary(min_size=1, max_size=4).map(lambda b: "".join(f"%{x:02X}" for x in b)),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=3).map(quote),
    ),
    max_size=12,
).map(lambda parts: "/v1/vhosts/" + "".join(parts))


def wsgi_environ(raw: str, script_name: str) -> dict[str, Any]:
    """The environ a PEP 3333 server makes: PATH_INFO is the decoded bytes as latin-1."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": unquote_to_bytes(raw).decode("latin-1"),
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8081",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "HTTP_AUTHORIZATION": AUTH,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }


@settings(max_examples=150, deadline=None)
@given(raw=raw_paths, mounted=st.booleans())
def test_the_path_is_decoded_as_the_wsgi_adapter_decodes_it(raw: str, mounted: bool) -> None:
    api = _SHARED_API
    prefix = "/ome" if mounted else ""
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.append(status)

    wsgi_body = b"".join(
        create_wsgi_app(api)(wsgi_environ(raw, prefix), start_response)  # type: ignore[arg-type]
    )
    scope = http_scope(  # as uvicorn makes it: UTF-8 with replacement, root_path prepended
        path=prefix + unquote(raw), raw_path=(prefix + raw).encode(), root_path=prefix
    )
    answer = asyncio.run(drive(AsgiApp(api), scope, [{"type": "http.request", "body": b""}]))
    assert (answer.status, answer.body) == (int(started[0].split()[0]), wsgi_body)


# -- other scope types -----------------------------------------------------------------------


def test_a_websocket_is_refused(app: AsgiApp) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "websocket", "path": "/v1/vhosts"}, receive, send))
    assert [m["type"] for m in sent] == ["websocket.close"]


def test_an_unknown_scope_type_raises(app: AsgiApp) -> None:
    async def never() -> dict[str, Any]:
        raise AssertionError

    with pytest.raises(ValueError, match="unsupported ASGI scope type 'telepathy'"):
        asyncio.run(app({"type": "telepathy"}, never, never))  # type: ignore[arg-type]


# -- lifespan --------------------------------------------------------------------------------


def following() -> bool:
    return any(t.name == "omeapi-follow" and t.is_alive() for t in threading.enumerate())


def test_lifespan_builds_starts_and_closes_the_api(tmp_path: Path) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml(storage=str(tmp_path / "store.sqlite")))
    seen: list[Api] = []
    app = create_app(config, on_api=seen.append)
    assert seen == []  # nothing is built before the server starts

    async def serve() -> tuple[list[dict[str, Any]], Answer, bool, list[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        task = asyncio.create_task(app({"type": "lifespan"}, queue.get, send))
        await queue.put({"type": "lifespan.startup"})
        while not sent:
            await asyncio.sleep(0.01)
        answer = await drive(app, http_scope(), [{"type": "http.request", "body": b""}])
        running = following()
        await queue.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 30)
        return sent[:1], answer, running, sent[1:]

    started, answer, running, stopped = asyncio.run(serve())
    assert started == [{"type": "lifespan.startup.complete"}]
    assert len(seen) == 1
    assert answer.status == 200
    assert running  # the shared store's follower ran while the server did
    assert stopped == [{"type": "lifespan.shutdown.complete"}]
    assert not following()


def test_a_broken_config_fails_the_startup_with_its_location(tmp_path: Path) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml().replace("<Type>origin</Type>", "<Type>origin</Type><Bogus/>"))
    sent = asyncio.run(lifespan(create_app(config), "startup"))
    assert len(sent) == 1
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert sent[0]["message"].startswith(f"{config}:3: ")
    assert "Unknown item found" in sent[0]["message"]


def test_without_a_lifespan_the_first_request_builds_the_api(tmp_path: Path) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml())
    seen: list[Api] = []
    app = create_app(config, on_api=seen.append)
    assert call(app).status == 200
    assert call(app).status == 200
    assert len(seen) == 1


def test_without_a_lifespan_a_broken_config_is_logged_with_its_location(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml().replace("<Type>origin</Type>", "<Type>origin</Type><Bogus/>"))
    with caplog.at_level(logging.ERROR, logger="omeapi.asgi"):
        answer = call(create_app(config))
    assert (answer.status, answer.body) == (500, b"")
    assert f"{config}:3: " in caplog.text
    assert "Traceback" not in caplog.text


def test_an_api_passed_in_is_kept_and_started(api: Api) -> None:
    app = create_app(api)
    assert app.api is api
    assert asyncio.run(lifespan(app, "startup", "shutdown")) == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert app.api is api


def test_host_lifespan_context(tmp_path: Path) -> None:
    config = tmp_path / "Server.xml"
    config.write_text(server_xml(storage=str(tmp_path / "store.sqlite")))
    app = create_app(config)

    async def run() -> bool:
        async with app.lifespan(object()):
            return following()

    assert asyncio.run(run())
    assert not following()


def test_on_api_hooks_certificate_reloads(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    tls = f"<TLS><CertPath>{cert}</CertPath><KeyPath>{key}</KeyPath></TLS>"
    reloaded: list[Any] = []
    app = create_app(
        parse_server_xml(server_xml(tls=tls)),
        on_api=lambda api: api.certificates.subscribe(reloaded.append),
    )
    ca.issue_cert("localhost").cert_chain_pems[0].write_to_path(str(cert))
    ca.issue_cert("localhost").private_key_pem.write_to_path(str(key))  # a mismatched key
    failed = call(app, "POST", "/v1/managers/api:reloadCertificate")
    assert failed.status != 200 and reloaded == []
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    answer = call(app, "POST", "/v1/managers/api:reloadCertificate")
    assert answer.status == 200, answer.body
    assert [(c.cert_path, c.key_path) for c in reloaded] == [(str(cert), str(key))]


# -- worker threads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threads", "worker_count", "expected", "given"),
    [(2, None, 2, False), (None, 3, 3, False), (None, None, 4, False), (None, 3, 3, True)],
)
def test_handle_runs_off_the_loop_in_a_bounded_pool(
    threads: int | None, worker_count: int | None, expected: int, given: bool
) -> None:
    config = parse_server_xml(server_xml(worker_count=worker_count))
    app = create_app(open_api(config) if given else config, threads=threads)
    api = app.api
    handle = api.handle
    lock = threading.Lock()
    running = 0
    most = 0
    idents: set[int] = set()

    def slow(request: ApiRequest) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            idents.add(threading.get_ident())
        time.sleep(0.05)
        with lock:
            running -= 1
        return handle(request)

    api.handle = slow  # type: ignore[method-assign]
    # As if every request needed a thread (the engine, a store round trip).
    api.handle_nonblocking = lambda request, **_: None  # type: ignore[method-assign]

    async def many() -> tuple[list[Answer], int]:
        loop_thread = threading.get_ident()
        scope = http_scope()
        answers = await asyncio.gather(
            *(drive(app, dict(scope), [{"type": "http.request"}]) for _ in range(10))
        )
        return answers, loop_thread

    answers, loop_thread = asyncio.run(many())
    assert [a.status for a in answers] == [200] * 10
    assert most == expected
    assert loop_thread not in idents


def _threads_used(app: Any, requests: list[tuple[str, str, str]]) -> list[tuple[int, bool]]:
    """(status, whether a worker thread answered) for each request, in order."""
    api = app.api
    handle = api.handle
    threaded: list[bool] = []

    def spy(request: ApiRequest) -> Any:
        threaded[-1] = True
        return handle(request)

    api.handle = spy  # type: ignore[method-assign]
    out: list[tuple[int, bool]] = []
    for method, path, token in requests:
        threaded.append(False)
        headers = [("host", "localhost"), ("authorization", token)]
        answer = call(app, method, path, headers=headers)
        out.append((answer.status, threaded[-1]))
    return out


_GOOD = AUTH
_WRONG = "Basic d3Jvbmc="


def test_what_cannot_block_is_answered_on_the_loop(tmp_path: Path) -> None:
    app = create_app(parse_server_xml(server_xml()))
    answers = _threads_used(
        app,
        [
            ("GET", "/v1/vhosts", _GOOD),  # a config read (and then a kept answer)
            ("GET", "/v1/vhosts", _GOOD),
            ("GET", "/v1/vhosts/default/apps/app", _GOOD),
            ("GET", "/v1/nothing", _GOOD),  # 404
            ("GET", "/v1/vhosts/default/apps/app/streams", _GOOD),  # the engine
            ("POST", "/v1/vhosts", _GOOD),  # a change
            ("GET", "/v1/vhosts", _WRONG),  # a failed login is counted
        ],
    )
    assert answers == [
        (200, False),
        (200, False),
        (200, False),
        (404, False),
        (200, True),
        (400, True),
        (401, True),
    ]


def test_failed_logins_are_counted_once_on_the_async_path() -> None:
    app = create_app(parse_server_xml(server_xml()))
    wrong = [("GET", "/v1/vhosts", _WRONG)] * 11
    statuses = [status for status, _ in _threads_used(app, wrong)]
    # The brake's limit is 10 failures a minute: the 11th is braked, not the 6th.
    assert statuses == [401] * 10 + [429]
    # A braked client is refused on the loop, without a thread.
    assert _threads_used(app, [("GET", "/v1/vhosts", _GOOD)]) == [(429, False)]


def test_threads_must_be_positive(api: Api) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AsgiApp(api, threads=0)


def test_a_stalled_body_is_cut_off_at_the_body_timeout(api: Api) -> None:
    app = create_app(api, body_timeout=0.1)
    scope = http_scope(
        "POST",
        "/v1/vhosts",
        [("host", "localhost"), ("authorization", AUTH), ("content-length", "30")],
    )

    async def run() -> Answer:
        answer = Answer()
        first = [{"type": "http.request", "body": b'[{"name":', "more_body": True}]

        async def receive() -> dict[str, Any]:
            if first:
                return first.pop()
            await anyio.sleep(3600)  # the client sends nothing more, and stays
            raise AssertionError("not cut off")

        async def send(message: dict[str, Any]) -> None:
            answer.messages.append(message)
            if message["type"] == "http.response.start":
                answer.status = message["status"]
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        with anyio.fail_after(5):
            await app(scope, receive, send)
        return answer

    answer = anyio.run(run)
    assert answer.status == 408
    assert json.loads(answer.body) == {
        "message": "[HTTP] Request body was not received within 0.1 seconds (408)",
        "statusCode": 408,
    }


STALLING_FRAMINGS = [
    # (HTTP version, headers besides Host and the token): a body may still be on its way.
    ("1.1", [("content-length", "9")]),
    ("1.1", [("transfer-encoding", "chunked")]),
    ("1.1", [("content-length", "09")]),
    ("2", []),
    ("3", []),
]


@pytest.mark.parametrize(("version", "framing"), STALLING_FRAMINGS)
def test_a_body_that_never_comes_is_cut_off_whatever_the_framing(
    api: Api, version: str, framing: list[tuple[str, str]]
) -> None:
    # Only HTTP/1.x without a length or chunks (or a length of 0) is read without a
    # deadline: every other framing may leave the first body message to the client.
    app = create_app(api, body_timeout=0.1)
    scope = http_scope("POST", "/v1/vhosts", [("host", "localhost"), ("authorization", AUTH)])
    scope["http_version"] = version
    scope["headers"] += [(k.encode(), v.encode()) for k, v in framing]

    async def receive() -> dict[str, Any]:
        await anyio.sleep(3600)  # the client sends nothing, and stays
        raise AssertionError("not cut off")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        with anyio.fail_after(5):
            await app(scope, receive, send)

    anyio.run(run)
    assert sent[0]["status"] == 408


@pytest.mark.parametrize(("version", "length"), [("1.1", None), ("1.0", None), ("2", "0")])
def test_a_request_framed_without_a_body_is_answered_without_reading(
    api: Api, version: str, length: str | None
) -> None:
    # ASGI lets an app leave receive() alone; a bare app never calls it, and neither need
    # this one when the framing says there is nothing to read.
    headers = [("host", "localhost"), ("authorization", AUTH)]
    if length is not None:
        headers.append(("content-length", length))

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing to read")

    answer = Answer()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        else:
            answer.body += message.get("body", b"")

    scope = http_scope("GET", "/v1/vhosts", headers)
    scope["http_version"] = version
    asyncio.run(create_app(api, body_timeout=0.1)(scope, receive, send))
    assert (answer.status, answer.body) == (200, OK_BODY)


def test_an_answer_to_a_client_gone_meanwhile_is_dropped_quietly(app: AsgiApp) -> None:
    # ASGI 2.4: a server raises OSError from send() once the client has gone.
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the client has gone")

    asyncio.run(app(http_scope(), receive, send))


def test_the_header_list_given_to_the_server_is_its_own(app: AsgiApp) -> None:
    # A server (or a middleware) may add to the list it is sent; the next answer with the
    # same headers must not carry what it added.
    first = call(app, headers=ORIGIN_HEADERS)
    second = call(app, headers=ORIGIN_HEADERS)
    assert first.messages[0]["headers"] is not second.messages[0]["headers"]
    first.messages[0]["headers"].append((b"x-added", b"1"))
    third = call(app, headers=ORIGIN_HEADERS)
    assert (b"x-added", b"1") not in third.messages[0]["headers"]
    assert third.messages[0]["headers"] == second.messages[0]["headers"][:]


def test_encoded_headers_stay_bounded_however_many_origins_ask(app: AsgiApp) -> None:
    import omeapi_asgi

    # An Origin the config allows is echoed back: headers that clients choose.
    for n in range(omeapi_asgi._ENCODED_MAX + 50):
        origin = f"https://client{n}.console.example.com"
        headers = [("host", "localhost"), ("authorization", AUTH), ("origin", origin)]
        answer = call(app, headers=headers)
        assert (b"access-control-allow-origin", origin.encode()) in [
            (k.lower(), v) for k, v in answer.messages[0]["headers"]
        ]
        assert len(omeapi_asgi._ENCODED) <= omeapi_asgi._ENCODED_MAX


def test_without_a_body_timeout_a_slow_body_is_waited_for(api: Api) -> None:
    answer = call(create_app(api), "POST", "/v1/vhosts", body=b'[{"name":"slowly"}]', chunk=2)
    assert answer.status == 200
