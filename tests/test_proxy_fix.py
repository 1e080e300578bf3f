"""``docs/deployment.md``, "Behind nginx": the app wrapped in Werkzeug's ``ProxyFix`` sees the
client's address (the failed-login brake and the audit log key on it), scheme and host."""

from __future__ import annotations

import base64
from pathlib import Path

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from omeapi_werkzeug import create_app

TOKEN = "proxy-token"
GOOD = "Basic " + base64.b64encode(TOKEN.encode()).decode()
BAD = "Basic " + base64.b64encode(b"guess").decode()
NGINX = {"REMOTE_ADDR": "127.0.0.1"}  # every request reaches the app from the proxy

SERVER_XML = f"""<?xml version="1.0"?>
<Server version="8">
  <Name>proxied</Name><Type>origin</Type><IP>*</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>api.ome.example.com</Name></Names></Host>
    <API><AccessToken>{TOKEN}</AccessToken></API>
  </Managers>
  <VirtualHosts><VirtualHost><Name>default</Name>
    <Applications><Application><Name>app</Name><Type>live</Type>
      <Providers><RTSPPull/></Providers></Application></Applications>
  </VirtualHost></VirtualHosts>
</Server>
"""


def forwarded(client_ip: str, authorization: str) -> dict[str, str]:
    """The headers nginx sends for a client (see the sample server block)."""
    return {
        "Host": "127.0.0.1:8081",
        "X-Forwarded-For": client_ip,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.ome.example.com",
        "Authorization": authorization,
    }


def app_behind_proxy(tmp_path: Path) -> Client:
    config = tmp_path / "Server.xml"
    config.write_text(SERVER_XML)
    return Client(ProxyFix(create_app(config, environ={}), x_for=1, x_proto=1, x_host=1))


def test_the_brake_keys_on_the_forwarded_client_address(tmp_path: Path) -> None:
    client = app_behind_proxy(tmp_path)
    attacker, user = "203.0.113.7", "198.51.100.20"
    failures = 0
    while True:
        response = client.get("/v1/vhosts", headers=forwarded(attacker, BAD), environ_base=NGINX)
        if response.status_code == 429:
            break
        assert response.status_code == 401, response.get_data()
        failures += 1
        assert failures < 50, "the brake never engaged"
    assert failures >= 3
    assert int(response.headers["Retry-After"]) > 0
    # Another client behind the same proxy is not braked.
    response = client.get("/v1/vhosts", headers=forwarded(user, GOOD), environ_base=NGINX)
    assert response.status_code == 200
    assert response.get_json()["response"] == ["default"]


def test_a_client_cannot_choose_its_own_address(tmp_path: Path) -> None:
    client = app_behind_proxy(tmp_path)
    for _ in range(50):
        # The client sends its own X-Forwarded-For; nginx appends the real address.
        headers = forwarded("10.9.9.9, 203.0.113.7", BAD)
        if client.get("/v1/vhosts", headers=headers, environ_base=NGINX).status_code == 429:
            break
    headers = forwarded("10.9.9.9, 203.0.113.7", GOOD)
    assert client.get("/v1/vhosts", headers=headers, environ_base=NGINX).status_code == 429
    headers = forwarded("203.0.113.8", GOOD)
    assert client.get("/v1/vhosts", headers=headers, environ_base=NGINX).status_code == 200


def test_scheme_and_host_are_the_clients(tmp_path: Path) -> None:
    client = app_behind_proxy(tmp_path)
    # The Host check sees the forwarded host (the proxy's own Host is not in <Names>) ...
    response = client.post(
        "/v1/vhosts/default/apps/app/streams",
        json={"name": "cam", "urls": ["rtsp://unreachable.invalid/live"]},
        headers=forwarded("203.0.113.7", GOOD),
        environ_base=NGINX,
    )
    # ... and OME's pull failure names the request's URL as the client sent it.
    assert response.status_code == 502
    assert response.get_json()["message"] == (
        "[HTTP] Could not pull the stream : "
        "https://api.ome.example.com/v1/vhosts/default/apps/app/streams (502)"
    )
    without_proxy_fix = Client(create_app(tmp_path / "Server.xml", environ={}))
    response = without_proxy_fix.get(
        "/v1/vhosts", headers=forwarded("203.0.113.7", GOOD), environ_base=NGINX
    )
    assert response.status_code == 403  # Host 127.0.0.1:8081 is not in <Names>
