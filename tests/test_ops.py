"""What operators watch: the access log, Prometheus metrics and the health probes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from omeapi import ApiRequest, ApiResponse, StoreError
from omeapi._ops.access_log import AccessLog
from tests.conftest import AUTH, TOKEN, Client, make_api

pytest.importorskip("prometheus_client")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "omeapi.access"]


# -- the access log ----------------------------------------------------------------------


def test_text_lines_name_the_request_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(make_api(access_log="text"), client="198.51.100.7")
    with caplog.at_level(logging.INFO, logger="omeapi.access"):
        client.get("/v1/vhosts?secret=s3cr3t")
        client.get("/v1/vhosts/nope")
        client.get("/v1/vhosts", auth=False)
    first, second, third = _lines(caplog)
    assert first.startswith('198.51.100.7 GET "/v1/vhosts" 200 ')
    assert first.endswith("us list_vhosts")
    assert second.startswith('198.51.100.7 GET "/v1/vhosts/nope" 404 ')
    assert third.startswith('198.51.100.7 GET "/v1/vhosts" 401 ') and third.endswith(" -")
    text = "\n".join(_lines(caplog))
    assert TOKEN not in text and AUTH not in text and "s3cr3t" not in text


def test_json_lines_are_one_object_each(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(make_api(access_log="json"))
    with caplog.at_level(logging.INFO, logger="omeapi.access"):
        client.get("/v1/vhosts/a\nfake 200 line")
    [line] = _lines(caplog)
    record = json.loads(line)
    assert record["method"] == "GET" and record["status"] == 404
    assert record["path"] == "/v1/vhosts/a\nfake 200 line"
    assert record["route"] == "get_vhost" and isinstance(record["us"], int)
    assert set(record) == {"method", "path", "status", "us", "client", "route"}


def test_a_control_character_cannot_forge_a_text_line(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(make_api(access_log="text"))
    with caplog.at_level(logging.INFO, logger="omeapi.access"):
        client.get("/v1/x\n1.2.3.4 GET /v1/vhosts 200")
    [line] = _lines(caplog)
    assert "\n" not in line


def test_no_line_when_the_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(make_api(access_log="text"))
    with caplog.at_level(logging.WARNING, logger="omeapi.access"):
        client.get("/v1/vhosts")
    assert _lines(caplog) == []


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        AccessLog("xml")


def test_a_failing_observer_does_not_cost_the_answer() -> None:
    seen: list[int] = []

    def broken(request: ApiRequest, response: ApiResponse, seconds: float) -> None:
        seen.append(response.status)
        raise RuntimeError("observer bug")

    api = make_api()
    api._observers = (broken,)
    assert Client(api).get("/v1/vhosts").status == 200
    assert seen == [200]


# -- metrics ---------------------------------------------------------------------------------


def _metrics(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    return response.body.decode()


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    key = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_requests_by_route_and_status() -> None:
    client = Client(make_api(metrics_path="/metrics"))
    for _ in range(3):
        client.get("/v1/vhosts")
    client.get("/v1/vhosts/nope")
    text = _metrics(client)
    assert _sample(text, "omeapi_requests_total", route="list_vhosts", status="200") == 3
    assert _sample(text, "omeapi_requests_total", route="get_vhost", status="404") == 1
    assert _sample(text, "omeapi_request_duration_seconds_count", route="list_vhosts") == 3


def test_metrics_count_failed_auth_brake_hits_and_restarts() -> None:
    client = Client(make_api(metrics_path="/metrics", brake=True))
    bad = {"Authorization": "Basic d3Jvbmc="}
    statuses = [client.get("/v1/vhosts", headers=bad).status for _ in range(12)]
    assert statuses.count(401) == 10 and statuses.count(429) == 2
    good = Client(client.api, client="192.0.2.99")  # another address: not braked
    good.create_vhost("dynvh", "dyn")
    good.ok("PATCH", "/v1/vhosts/dynvh/apps/dyn", {"publishers": {"appWorkerCount": 2}})
    text = _metrics(good)
    assert _sample(text, "omeapi_auth_failures_total") == 10
    assert _sample(text, "omeapi_auth_brake_hits_total") == 2
    assert _sample(text, "omeapi_app_events_total", kind="restart") == 1


def test_metrics_are_protected_like_the_api() -> None:
    client = Client(make_api(metrics_path="/metrics"))
    assert client.get("/metrics", auth=False).status == 401
    assert client.request("HEAD", "/metrics").body == b""
    assert client.post("/metrics").status == 404  # only read


def test_no_metrics_path_unless_asked() -> None:
    assert Client(make_api()).get("/metrics").status == 404


# -- health probes ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_token_and_any_host(path: str) -> None:
    client = Client(make_api())
    response = client.get(path, auth=False, headers={"Host": "10.1.2.3:8081"})
    assert (response.status, response.body) == (200, b'{"message":"OK","statusCode":200}')
    assert client.request("HEAD", path, auth=False).body == b""


def test_not_ready_when_the_store_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    api = make_api()

    def unreadable() -> Any:
        raise StoreError("database is down")

    monkeypatch.setattr(api.registry, "refresh", unreadable)
    client = Client(api)
    assert client.get("/readyz", auth=False).status == 503
    assert client.get("/healthz", auth=False).status == 200


def test_probes_can_be_switched_off() -> None:
    assert Client(make_api(health=False)).get("/healthz", auth=False).status == 401
