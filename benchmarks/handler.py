"""How long ``Api.handle`` takes per request, in process, on the simulated engine.

Usage: ``python benchmarks/handler.py [--number N] [--repeat N]``.

It builds an :class:`~omeapi.Api` over a small Server.xml (one config vhost with one
app, plus an API-created vhost with one app whose defaults OME fills in), prepares each
request once as an :class:`~omeapi.ApiRequest` (with a correct ``Authorization``, a
``Host`` and an ``Origin`` that CORS allows, as a browser console sends them), then times
``api.handle(request)``: ``--number`` calls per run, best of ``--repeat`` runs, in wall
clock and in CPU time of the process (the minimum is the figure least disturbed by other
load; PATCH runs make ``--number`` / 50 calls).  It prints µs per request for

* ``GET /v1/vhosts``;
* ``GET /v1/vhosts/{vhost}/apps/{app}`` (the app JSON with default providers, publishers and
  output profile: about 600 bytes);
* ``PATCH /v1/vhosts/{vhost}/apps/{app}`` with a value that alternates, so every call restarts
  the app (deep merge, schema parse of the merged app, engine restart, new registry snapshot);
* ``PATCH`` with ``{"type": "live"}``, the value the app has: merged, parsed and compared,
  then nothing restarts.

The figure also printed for ``ApiRequest.build`` + ``handle`` includes lower-casing the
headers, which an adapter does once per request.  Aim: under 15 µs for the GETs on one core.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from omeapi import Api, open_api
from omeapi._config import parse_server_xml
from omeapi._simulated.engine import SimulatedEngine
from omeapi._wire.request import ApiRequest

TOKEN = "bench-token"
SERVER_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
  <Name>bench</Name>
  <Type>origin</Type>
  <IP>*</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name><Name>127.0.0.1</Name></Names></Host>
    <API>
      <AccessToken>{TOKEN}</AccessToken>
      <CrossDomains><Url>http://localhost:*</Url></CrossDomains>
    </API>
  </Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Host><Names><Name>*</Name></Names></Host>
      <Applications>
        <Application>
          <Name>app</Name>
          <Type>live</Type>
          <OutputProfiles>
            <OutputProfile>
              <Name>bypass</Name>
              <OutputStreamName>${{OriginStreamName}}</OutputStreamName>
              <Encodes><Video><Name>v</Name><Bypass>true</Bypass></Video></Encodes>
            </OutputProfile>
          </OutputProfiles>
          <Providers><RTMP/></Providers>
          <Publishers><LLHLS/></Publishers>
        </Application>
      </Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
"""
HEADERS = {
    "Host": "localhost:8081",
    "Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode(),
    "Origin": "http://localhost:3000",
    "Accept": "application/json",
    "User-Agent": "bench/1.0",
}


def make_api() -> Api:
    api = open_api(parse_server_xml(SERVER_XML, environ={}), engine=SimulatedEngine(), brake=False)

    def call(method: str, path: str, body: object) -> None:
        request = ApiRequest.build(method, path, HEADERS, json.dumps(body).encode())
        response = api.handle(request)
        assert response.status == 200, response.body

    call("POST", "/v1/vhosts", [{"name": "dyn"}])
    call("POST", "/v1/vhosts/dyn/apps", [{"name": "live", "type": "live"}])
    return api


def best_of(
    cases: list[tuple[str, Callable[[], object], int]], repeat: int
) -> list[tuple[str, float, float]]:
    """Best µs per call of each ``(name, call, number)``: wall clock and CPU time of this
    process (its threads included).  The runs of all cases are interleaved, so a burst of
    other load on the machine spoils one run of each case rather than every run of one
    case."""
    gc.collect()
    wall = {name: float("inf") for name, _, _ in cases}
    cpu = dict(wall)
    for _ in range(repeat):
        for name, call, number in cases:
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(number):
                call()
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
            wall[name] = min(wall[name], seconds / number * 1e6)
            cpu[name] = min(cpu[name], cpu_seconds / number * 1e6)
    return [(name, wall[name], cpu[name]) for name, _, _ in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=10_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=21, help="runs (the best is kept)")
    args = parser.parse_args()
    api = make_api()
    handle = api.handle

    def request(method: str, path: str, body: bytes = b"") -> ApiRequest:
        return ApiRequest.build(method, path, HEADERS, body)

    list_vhosts = request("GET", "/v1/vhosts")
    get_app = request("GET", "/v1/vhosts/dyn/apps/live")
    patches = [
        request("PATCH", "/v1/vhosts/dyn/apps/live", b'{"publishers":{"appWorkerCount":%d}}' % n)
        for n in (1, 2)
    ]
    for req in (list_vhosts, get_app, *patches):
        assert handle(req).status == 200

    flip = [1]  # the app has appWorkerCount 2 now: the first call sets 1

    def patch_restart() -> object:
        flip[0] ^= 1
        return handle(patches[flip[0]])

    same = request("PATCH", "/v1/vhosts/dyn/apps/live", b'{"type":"live"}')
    engine = api.engine
    assert isinstance(engine, SimulatedEngine)

    number, repeat = args.number, args.repeat
    few = max(1, number // 50)
    calls_before = len(engine.calls)
    rows = best_of(
        [
            ("GET /v1/vhosts", lambda: handle(list_vhosts), number),
            ("GET /v1/vhosts/{vhost}/apps/{app}", lambda: handle(get_app), number),
            (
                "  ApiRequest.build + handle",
                lambda: handle(ApiRequest.build("GET", "/v1/vhosts/dyn/apps/live", HEADERS)),
                number,
            ),
            ("PATCH …/apps/{app} (restart)", patch_restart, few),
            ("PATCH …/apps/{app} (no change)", lambda: handle(same), few),
        ],
        repeat,
    )
    restarts = sum(op == "restart_application" for op, _, _ in engine.calls[calls_before:])
    assert restarts == repeat * few, "a PATCH did not restart the app"
    print(f"Api.handle in process, simulated engine (best of {repeat} runs)")
    print(f"  {'':<36} {'wall':>8}    {'CPU':>8}")
    for name, micros, cpu in rows:
        print(f"  {name:<36} {micros:8.2f} µs {cpu:8.2f} µs/request")


if __name__ == "__main__":
    main()
