"""Memory stays bounded under hostile traffic: every cache keyed by client input has a bound.

Many requests, each with values never seen before (Origin, Access-Control-Request-Headers,
Host, header names, client addresses, credentials, paths, method letter cases), go through
the WSGI adapter into an :class:`~omeapi.Api`.  Once the caches are full:

* each one is within its bound (the CORS decision cache, the adapter's header-name memo,
  the failed-login brake's client table, the host matcher cache, the status-line memo);
* a further run of as many new values leaves the memory traced in omeapi and the adapter
  where it was, give or take ``TRACED_SLACK``: nothing else grows with client input.

docs/deployment.md describes the bounds.
"""

from __future__ import annotations

import base64
import gc
import io
import random
import tracemalloc
from typing import Any

from conftest import AUTH, SERVER_XML
from robust_report import record

import omeapi_werkzeug
from omeapi import open_api
from omeapi._access import hosts
from omeapi._config import parse_server_xml
from omeapi._state.brake import FailureBrake

#: Requests per phase: more distinct values than any cache holds.
PER_PHASE = 3000
MAX_CLIENTS = 500
#: Bytes the traced memory of omeapi and the adapter may move by over the second phase.
TRACED_SLACK = 256 * 1024
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_.~%"


def junk(rng: random.Random, size: int = 12) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(size))


def hostile_environ(rng: random.Random, n: int) -> dict[str, Any]:
    method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    method = "".join(c.lower() if rng.random() < 0.5 else c for c in method)
    path = rng.choice(
        [
            f"/v1/vhosts/{junk(rng)}",
            f"/v1/vhosts/default/apps/{junk(rng)}",
            f"/v1/{junk(rng)}",
            f"/v1/vhosts/default/apps/app/streams/{junk(rng)}:{junk(rng, 5)}",
            f"/{junk(rng)}/{junk(rng)}",
        ]
    )
    body = rng.choice([b"", b"[" * 5000, b'{"a":1,"a":2}', b"\xff\xfe\x00", b"[1e999999]"])
    auth = rng.choice(
        [
            AUTH,
            "Basic " + junk(rng),
            "Basic " + base64.b64encode(junk(rng).encode()).decode(),
            "Bearer " + junk(rng),
        ]
    )
    header_name = "HTTP_X_" + junk(rng, 10).upper().translate(str.maketrans("-.~%", "____"))
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": junk(rng, 20),
        "REMOTE_ADDR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "48081",
        "HTTP_HOST": rng.choice(["localhost", f"{junk(rng)}.example", f"localhost:{n}"]),
        "HTTP_ORIGIN": rng.choice([f"http://{junk(rng)}.example", f"https://{junk(rng)}"]),
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": f"{junk(rng, 8)}, {junk(rng, 8)}",
        "HTTP_AUTHORIZATION": auth,
        header_name: "v",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": False,
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    assert not status.startswith("5"), status


def traced_in_our_code(snapshot: tracemalloc.Snapshot) -> int:
    ours = snapshot.filter_traces(
        [
            tracemalloc.Filter(True, "*/omeapi/*"),
            tracemalloc.Filter(True, "*/omeapi_werkzeug/*"),
        ]
    )
    return sum(stat.size for stat in ours.statistics("filename"))


def test_caches_keyed_by_client_input_stay_within_their_bounds() -> None:
    brake = FailureBrake(max_clients=MAX_CLIENTS)
    api = open_api(parse_server_xml(SERVER_XML, environ={}), brake=brake)
    app = omeapi_werkzeug.create_app(api)
    rng = random.Random(2)
    sent = 0

    def phase() -> None:
        nonlocal sent
        for _ in range(PER_PHASE):
            sent += 1
            for _chunk in app(hostile_environ(rng, sent), _start_response):
                pass

    # Traced from the start, so that what the caches hold is traced too; the first phase
    # fills them, the second must not add to them.
    tracemalloc.start(1)
    try:
        phase()
        gc.collect()
        before = traced_in_our_code(tracemalloc.take_snapshot())
        phase()
        gc.collect()
        after = traced_in_our_code(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    bounds = {
        "CORS decisions": (api.cors._cached.cache_info().currsize, 1024),
        "header-name memo": (len(omeapi_werkzeug._KEYS), 1024),
        "brake clients": (brake.tracked_clients, MAX_CLIENTS),
        "host matchers": (hosts._names_matcher.cache_info().currsize, 256),
        "status lines": (len(omeapi_werkzeug._REASONS), 64),
    }
    sizes = ", ".join(f"{name} {size}/{bound}" for name, (size, bound) in bounds.items())
    record(
        "in-process hostile values",
        f"{sent} requests, traced in omeapi {before / 1024:.0f} -> {after / 1024:.0f} KiB; {sizes}",
    )
    for name, (size, bound) in bounds.items():
        assert size <= bound, (name, size, bound)
    # The caches did fill: the run exercised what it claims to bound.
    assert bounds["CORS decisions"][0] == 1024
    assert bounds["brake clients"][0] == MAX_CLIENTS
    assert abs(after - before) < TRACED_SLACK, (before, after)
