"""Hostile bodies and names: bounded work, small answers, and only names a path can reach.

A body may be up to the body limit, but its shape is bounded (nesting depth, number of
arrays and objects, items per multi-item request), so that no request costs seconds or
answers megabytes; and a resource whose name no route could reach is refused at creation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omeapi import _messages as msg
from omeapi._controllers.call import MAX_ITEMS
from omeapi._wire.json_body import MAX_CONTAINERS, MAX_DEPTH, parse_json_body
from tests.conftest import Client, decode, envelope, profile_body

PROFILES = "/v1/vhosts/dynvh/apps/dyn/outputProfiles"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- the shape of a body -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 8, MAX_DEPTH])
def test_nesting_up_to_the_limit_is_decoded(depth: int) -> None:
    value = parse_json_body(_nested(depth))
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (_nested(MAX_DEPTH + 1), f"{MAX_DEPTH} levels of nesting"),
        (_nested(100_000), f"{MAX_CONTAINERS} arrays and objects"),
        (b"[" + b",".join([b"{}"] * (MAX_CONTAINERS + 1)) + b"]", "20000 arrays and objects"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "64 levels of nesting"),
    ],
    ids=["one-too-deep", "deep-megabyte", "too-many-containers", "deep-objects"],
)
def test_a_body_too_complex_is_refused(body: bytes, limit: str) -> None:
    with pytest.raises(Exception) as caught:
        parse_json_body(body)
    assert caught.value.args[0] == msg.JSON_TOO_COMPLEX.format(limit=limit)
    assert getattr(caught.value, "status", None) == 400


def test_brackets_inside_strings_are_not_structure() -> None:
    text = "[" * 5000 + '\\"{' * 100
    assert parse_json_body(json.dumps({"note": text}).encode()) == {"note": text}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)


@given(_json)
@settings(max_examples=200, deadline=None)
def test_bodies_within_the_bounds_decode_as_json_does(value: Any) -> None:
    body = json.dumps(value).encode()
    assert parse_json_body(body) == json.loads(body)


# -- through the API: small answers, fast --------------------------------------------------


def test_too_many_items_is_one_small_400(dyn: Client) -> None:
    items = [{"name": f"v{i}"} for i in range(MAX_ITEMS + 1)]
    response = dyn.post("/v1/vhosts", items)
    assert response.status == 400
    assert response.body == envelope(
        400, msg.TOO_MANY_ITEMS.format(count=MAX_ITEMS + 1, limit=MAX_ITEMS)
    )


def test_a_300001_item_body_answers_a_small_error(dyn: Client) -> None:
    body = b"[" + b",".join([b"0"] * 300_001) + b"]"  # 600 KB, under the body limit
    response = dyn.post("/v1/vhosts", body)
    assert response.status == 400
    assert len(response.body) < 200


def test_a_deep_body_is_refused_before_any_route_work(dyn: Client) -> None:
    response = dyn.post("/v1/vhosts", _nested(300_000))
    assert response.status == 400
    assert decode(response)["message"].startswith("[HTTP] Request body is too complex")


# -- names no path can reach ---------------------------------------------------------------


def _refused(kind: str, name: str, characters: str) -> str:
    return msg.UNREACHABLE_NAME.format(kind=kind, name=name, characters=characters)


@pytest.mark.parametrize("name", ["a/b", "/", "a/"])
def test_vhost_names_with_slash_are_refused(client: Client, name: str) -> None:
    response = client.post("/v1/vhosts", [{"name": name}, {"name": "fine:1"}])
    assert response.status == 207
    first, second = decode(response)
    assert first == {"message": _refused("virtual host", name, "'/'"), "statusCode": 400}
    assert second["statusCode"] == 200  # a ':' is reachable in a vhost segment
    assert client.ok("GET", "/v1/vhosts") == ["default", "fine:1"]
    assert client.get("/v1/vhosts/fine:1").status == 200


@pytest.mark.parametrize("name", ["a/b", "x:startPush"])
def test_app_names_with_slash_or_colon_are_refused(dyn: Client, name: str) -> None:
    status, items = dyn.json("POST", "/v1/vhosts/dynvh/apps", [{"name": name, "type": "live"}])
    assert status == 400
    assert items == [{"message": _refused("application", name, "'/' or ':'"), "statusCode": 400}]
    assert dyn.ok("GET", "/v1/vhosts/dynvh/apps") == ["dyn"]


def test_apps_inside_a_posted_vhost_are_checked_too(client: Client) -> None:
    body = [{"name": "v", "applications": {"application": [{"name": "a/b", "type": "live"}]}}]
    status, items = client.json("POST", "/v1/vhosts", body)
    assert status == 400
    assert items[0]["message"] == _refused("application", "a/b", "'/' or ':'")
    assert client.ok("GET", "/v1/vhosts") == ["default"]


def test_profile_names_with_slash_are_refused_colon_is_fine(dyn: Client) -> None:
    response = dyn.post(PROFILES, [profile_body("p/q")])
    assert response.body == envelope(400, _refused("output profile", "p/q", "'/'"))
    assert dyn.post(PROFILES, [profile_body("p:q")]).status == 200
    assert dyn.get(PROFILES + "/p:q").status == 200


def test_pulled_stream_names_with_slash_are_refused(dyn: Client) -> None:
    body = {"name": "s/t", "urls": ["rtmp://example.com/live/x"]}
    response = dyn.post("/v1/vhosts/dynvh/apps/dyn/streams", body)
    assert response.body == envelope(400, _refused("stream", "s/t", "'/'"))
