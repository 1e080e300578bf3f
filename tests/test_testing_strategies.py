"""The public strategies of :mod:`omeapi.testing.strategies` tell the truth: valid configs and
bodies are accepted, every near miss gets exactly the answer it carries, CORS and
Authorization cases are accepted or refused as they say."""

from __future__ import annotations

import json
from typing import Any

from conftest import Client, make_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omeapi import open_api
from omeapi._access.auth import AuthVerifier
from omeapi._access.cors import CorsPolicy
from omeapi._config import ServerConfig, parse_server_xml
from omeapi._wire.request import ApiRequest
from omeapi.testing import strategies as ts

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _client() -> Client:
    client = Client(make_api())
    client.create_vhost("nm", "app")
    return client


def _answer(client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
    response = client.request(method, path, body)
    return response.status, json.loads(response.body)


@FUZZ
@given(ts.server_configs())
def test_server_configs_are_parsed_configs(config: ServerConfig) -> None:
    assert isinstance(config, ServerConfig)
    names = [vhost.name for vhost in config.virtual_hosts]
    assert names == [f"vhost{i}" for i in range(len(names))]


@FUZZ
@given(ts.invalid_virtual_host_json())
def test_vhost_near_misses_get_their_answer(near: ts.NearMiss) -> None:
    client = _client()
    status, body = _answer(client, "POST", "/v1/vhosts", [near.body])
    assert (status, body) == (
        near.status,
        [{"message": near.message, "statusCode": near.status}],
    ), near.flaw
    assert client.ok("GET", "/v1/vhosts") == ["default", "nm"]


@FUZZ
@given(ts.invalid_application_json())
def test_app_near_misses_get_their_answer(near: ts.NearMiss) -> None:
    client = _client()
    calls = len(client.engine.calls)
    status, body = _answer(client, "POST", "/v1/vhosts/nm/apps", [near.body])
    assert (status, body) == (near.status, {"message": near.message, "statusCode": near.status})
    assert len(client.engine.calls) == calls  # refused before the engine was asked anything


@FUZZ
@given(ts.invalid_app_patch_json())
def test_app_patch_near_misses_get_their_answer(near: ts.NearMiss) -> None:
    client = _client()
    before = client.ok("GET", "/v1/vhosts/nm/apps/app")
    status, body = _answer(client, "PATCH", "/v1/vhosts/nm/apps/app", near.body)
    assert (status, body) == (near.status, {"message": near.message, "statusCode": near.status})
    assert client.ok("GET", "/v1/vhosts/nm/apps/app") == before
    assert client.engine.generation("nm", "app") == 0


@FUZZ
@given(ts.invalid_output_profile_json())
def test_profile_near_misses_get_their_answer(near: ts.NearMiss) -> None:
    client = _client()
    path = "/v1/vhosts/nm/apps/app/outputProfiles"
    status, body = _answer(client, "POST", path, [near.body])
    assert (status, body) == (near.status, {"message": near.message, "statusCode": near.status})
    assert client.ok("GET", path) == ["default"]
    assert client.engine.generation("nm", "app") == 0


@FUZZ
@given(
    ts.virtual_host_json(tls=False), ts.application_json(), ts.output_profile_json(min_encodes=1)
)
def test_valid_bodies_are_accepted(
    vhost: dict[str, Any], app: dict[str, Any], profile: dict[str, Any]
) -> None:
    client = Client(make_api())
    vhost = {**vhost, "name": "created"}
    assert client.request("POST", "/v1/vhosts", [vhost]).status == 200
    assert client.request("POST", "/v1/vhosts/created/apps", [app]).status == 200
    path = f"/v1/vhosts/created/apps/{app['name']}/outputProfiles"
    profile = {**profile, "name": "fresh_profile"}
    assert client.request("POST", path, [profile]).status == 200


@settings(max_examples=300, deadline=None)
@given(ts.cors_cases())
def test_cors_cases_tell_the_truth(case: ts.CorsCase) -> None:
    policy = CorsPolicy.compile(case.urls, (), "API")
    assert (policy.allow_origin(case.origin) is not None) == case.allowed, policy


_CORS_XML = """<Server version="8"><Type>origin</Type><IP>*</IP><Bind/>
<Managers><API><AccessToken>t</AccessToken>{cors}</API></Managers></Server>"""


@FUZZ
@given(ts.cors_cases())
def test_cors_cases_through_the_handler(case: ts.CorsCase) -> None:
    api = open_api(parse_server_xml(_CORS_XML.format(cors=case.xml()), environ={}), brake=False)
    response = api.handle(ApiRequest.build("OPTIONS", "/v1/vhosts", {"Origin": case.origin}))
    allowed = response.header("Access-Control-Allow-Origin")
    assert (allowed == case.origin) if case.allowed else allowed is None


@settings(max_examples=200, deadline=None)
@given(ts.authorization_cases())
def test_authorization_cases_tell_the_truth(case: ts.AuthCase) -> None:
    api = open_api(
        parse_server_xml(_CORS_XML.format(cors=""), environ={}),
        brake=False,
        allow_no_auth=True,
    )
    # The token is put in place of the config's (any text, as <AccessToken> may hold).
    api.auth = AuthVerifier(case.token)
    headers = {} if case.header is None else {"Authorization": case.header}
    response = api.handle(ApiRequest.build("GET", "/v1/vhosts", headers))
    if case.message is None:
        assert response.status == 200
    else:
        assert response.status == 401
        assert json.loads(response.body)["message"] == case.message


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_valid_authorization_for_a_fixed_token(data: st.DataObject) -> None:
    header = data.draw(ts.valid_authorization("ome-access-token"))
    client = Client(make_api())
    assert client.request("GET", "/v1/vhosts", headers={"Authorization": header}).status == 200
