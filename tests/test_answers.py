"""Answers kept per snapshot (``omeapi/_wire/answers.py``): a repeated configuration read is
answered with the answer made before, and never once anything it depends on has changed.

The reference is the same API with nothing kept (``Answers(size=0)``): every answer must be
byte for byte the one it would have made afresh, whatever the sequence of requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Client, app_body, make_api, profile_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omeapi import Api, open_api
from omeapi._wire.answers import Answers
from omeapi._wire.request import ApiRequest, ApiResponse

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "Server.xml"
AUTH = {"Host": "localhost", "Authorization": "Basic Y2hhbmdlLW1l"}

ALLOWED = "https://console.example.com"  # matches the API's *.example.com
OTHER = "http://ome.test"  # matches http?://ome.*
REFUSED = "https://evil.example.net"


def fresh_only(api: Api) -> Api:
    api._answers = Answers(size=0)
    return api


def same(a: ApiResponse, b: ApiResponse) -> bool:
    return (a.status, a.headers, a.body, a.route) == (b.status, b.headers, b.body, b.route)


def test_a_repeated_read_gets_the_kept_answer_until_the_state_changes() -> None:
    client = Client(make_api())
    client.create_vhost("w", "a")
    first = client.get("/v1/vhosts/w/apps/a")
    assert client.get("/v1/vhosts/w/apps/a") is first  # kept: not made again
    client.ok("PATCH", "/v1/vhosts/w/apps/a", {"publishers": {"appWorkerCount": 3}})
    after = client.get("/v1/vhosts/w/apps/a")
    assert after is not first
    assert b'"appWorkerCount":3' in after.body


@pytest.mark.parametrize(
    ("path", "change", "seen"),
    [
        ("/v1/vhosts", ("POST", "/v1/vhosts", [{"name": "new"}]), b'"new"'),
        (
            "/v1/vhosts/w/apps",
            ("POST", "/v1/vhosts/w/apps", [app_body("b")]),
            b'"b"',
        ),
        (
            "/v1/vhosts/w/apps/a/outputProfiles",
            ("POST", "/v1/vhosts/w/apps/a/outputProfiles", [profile_body("p")]),
            b'"p"',
        ),
        ("/v1/vhosts/w/apps", ("DELETE", "/v1/vhosts/w/apps/a", None), b'"response":[]'),
    ],
)
def test_every_kept_route_sees_the_next_change(path: str, change: Any, seen: bytes) -> None:
    client = Client(make_api())
    client.create_vhost("w", "a")
    before = client.get(path)
    assert client.get(path) is before
    assert client.request(*change).status == 200
    assert seen in client.get(path).body


def test_a_deleted_resource_is_not_found_at_the_next_read() -> None:
    client = Client(make_api())
    client.create_vhost("w", "a")
    assert client.get("/v1/vhosts/w").status == 200
    assert client.get("/v1/vhosts/w").status == 200
    client.ok("DELETE", "/v1/vhosts/w")
    assert client.get("/v1/vhosts/w").status == 404


def test_the_token_host_and_cors_are_checked_for_every_request() -> None:
    client = Client(make_api())
    kept = client.get("/v1/vhosts", headers={"Origin": ALLOWED})
    assert client.get("/v1/vhosts", headers={"Origin": ALLOWED}) is kept
    assert client.get("/v1/vhosts", headers={"Origin": ALLOWED}, auth=False).status == 401
    wrong = {"Origin": ALLOWED, "Authorization": "Basic d3Jvbmc="}
    assert client.get("/v1/vhosts", headers=wrong).status == 401
    # Each Origin gets its own CORS headers, never another's.
    other = client.get("/v1/vhosts", headers={"Origin": OTHER})
    refused = client.get("/v1/vhosts", headers={"Origin": REFUSED})
    assert other.header("Access-Control-Allow-Origin") == OTHER
    assert refused.header("Access-Control-Allow-Origin") is None
    assert kept.header("Access-Control-Allow-Origin") == ALLOWED


def test_head_is_kept_apart_from_get() -> None:
    client = Client(make_api())
    get = client.get("/v1/vhosts")
    head = client.request("HEAD", "/v1/vhosts")
    assert get.body and head.body == b""
    assert head.header("Content-Length") == get.header("Content-Length")
    assert client.request("HEAD", "/v1/vhosts") is head


def test_errors_and_runtime_routes_are_never_kept() -> None:
    api = make_api()
    client = Client(api)
    client.get("/v1/vhosts/missing")
    client.get("/v1/vhosts/default/apps/app/streams")
    client.get("/v1/stats/current")
    assert len(api._answers) == 0


def test_kept_answers_are_bounded_whatever_clients_send() -> None:
    api = make_api()
    client = Client(api)
    for i in range(3000):
        assert client.get(f"/v1/vhosts?n={i}").status == 200
    assert len(api._answers) <= api._answers.size
    long = "x" * 600
    client.get(f"/v1/vhosts?{long}")
    assert api._answers.key(ApiRequest("GET", "/v1/vhosts", query=long), None, None) is None


def test_a_change_made_by_another_process_is_seen_at_the_next_read(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    one, two = make_api(store=location), make_api(store=location)
    try:
        a, b = Client(one), Client(two)
        a.create_vhost("w", "x")
        assert b'"x"' in b.get("/v1/vhosts/w/apps").body
        assert b.get("/v1/vhosts/w/apps") is b.get("/v1/vhosts/w/apps")
        a.ok("POST", "/v1/vhosts/w/apps", [{"name": "y", "type": "live"}])
        assert b'"y"' in b.get("/v1/vhosts/w/apps").body  # no wait
    finally:
        one.close()
        two.close()


# -- any sequence: kept answers are the fresh ones ------------------------------------------

# A few reads, so that a sequence repeats each often, across the changes below.
READS = st.sampled_from(
    [
        ("GET", "/v1/vhosts", {}),
        ("GET", "/v1/vhosts", {"Origin": ALLOWED}),
        ("HEAD", "/v1/vhosts", {"Origin": OTHER, "Access-Control-Request-Headers": "x-a"}),
        ("GET", "/v1/vhosts/w", {}),
        ("GET", "/v1/vhosts/w/apps", {"Origin": REFUSED}),
        ("GET", "/v1/vhosts/w/apps/a", {}),
        ("GET", "/v1/vhosts/w/apps/a", {"Authorization": "Basic d3Jvbmc="}),
        ("GET", "/v1/vhosts/w/apps/a/outputProfiles", {}),
        ("GET", "/v1/vhosts/w/apps/a/outputProfiles/p", {"Origin": ALLOWED}),
        ("GET", "/v1/vhosts/default/apps/app", {}),
        ("GET", "/v1/version", {}),
    ]
)
CHANGES = st.sampled_from(
    [
        ("POST", "/v1/vhosts", [{"name": "w"}]),
        ("POST", "/v1/vhosts/w/apps", [{"name": "a", "type": "live"}]),
        ("PATCH", "/v1/vhosts/w/apps/a", {"publishers": {"appWorkerCount": 2}}),
        ("PATCH", "/v1/vhosts/w/apps/a", {"publishers": {"appWorkerCount": 5}}),
        ("POST", "/v1/vhosts/w/apps/a/outputProfiles", [profile_body("p")]),
        ("DELETE", "/v1/vhosts/w/apps/a/outputProfiles/p", None),
        ("DELETE", "/v1/vhosts/w/apps/a", None),
        ("DELETE", "/v1/vhosts/w", None),
    ]
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), READS),
        st.tuples(st.just("change"), CHANGES),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_any_sequence_gets_the_answers_made_afresh(steps: list[Any]) -> None:
    kept, fresh = Client(make_api()), Client(fresh_only(make_api()))
    for step in steps:
        if step[0] == "change":
            method, path, body = step[1]
            a, b = kept.request(method, path, body), fresh.request(method, path, body)
        else:
            method, path, headers = step[1]
            a, b = (
                kept.request(method, path, headers=headers),
                fresh.request(method, path, headers=headers),
            )
        assert same(a, b), (step, a, b)


def test_the_nonblocking_path_never_answers_from_a_stale_snapshot(tmp_path: Path) -> None:
    """A change another process made is never hidden by the event-loop path: when the
    shared store's generation moved, ``handle_nonblocking`` hands the request to the
    blocking path (which reads the store) instead of answering from what it kept."""
    store = str(tmp_path / "omeapi.sqlite3")
    mine = open_api(EXAMPLE, store=store)
    other = open_api(EXAMPLE, store=store)
    try:
        read = ApiRequest.build("GET", "/v1/vhosts", AUTH)
        assert mine.handle(read).status == 200
        kept = mine.handle_nonblocking(read)
        assert kept is not None and json.loads(kept.body)["response"] == ["studio"]
        create = ApiRequest.build("POST", "/v1/vhosts", AUTH, b'[{"name": "v2"}]')
        assert other.handle(create).status == 200
        assert mine.handle_nonblocking(read) is None  # the store must be read first
        assert json.loads(mine.handle(read).body)["response"] == ["studio", "v2"]
        fresh = mine.handle_nonblocking(read)
        assert fresh is not None and json.loads(fresh.body)["response"] == ["studio", "v2"]
    finally:
        mine.close()
        other.close()
