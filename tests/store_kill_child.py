"""The process ``test_store_kill`` kills: random API changes on a store, through the handler.

Run as a *zygote*: it imports everything once, then for each ``run`` line read on stdin
forks a child (so a round costs a fork, not an interpreter start), answers ``pid <pid>``,
waits for the child's end and answers ``done <status>``.

A child builds an :class:`~omeapi.Api` over the store (restoring what it holds),
writes ``READY <version> <state>``, then sends random changes forever, writing
``B <request>`` before each and ``A <status> <version> <state>`` after it (each line a JSON
array, written with one ``write`` to an append-only file), until it is killed.  ``state``
is the API-created vhosts and apps as the store holds them, in JSON.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from conftest import AUTH, SERVER_XML, profile_body

from omeapi import Api, open_api
from omeapi._config import parse_server_xml
from omeapi._simulated.engine import SimulatedEngine
from omeapi._state.registry import Registry
from omeapi._wire.request import ApiRequest

VHOSTS = ("v0", "v1", "v2")
APPS = ("a0", "a1", "a2")
PROFILES = ("p0", "p1")
#: A child stops by itself after this long (it is meant to be killed well before).
LIFETIME = 10.0


def state_of(registry: Registry) -> list[Any]:
    """The API-created vhosts and apps, as the store holds them (JSON values)."""
    return [
        [
            entry.name,
            entry.config.to_json(),
            [[a.name, a.config.to_json()] for a in entry.apps.values()],
        ]
        for entry in registry.snapshot.vhosts.values()
        if not entry.read_only
    ]


def random_request(rng: random.Random, n: int) -> tuple[str, str, Any]:
    vhost, app, profile = rng.choice(VHOSTS), rng.choice(APPS), rng.choice(PROFILES)
    base = f"/v1/vhosts/{vhost}/apps"
    kind = rng.choices(
        ["vhost+", "vhost-", "app+", "app-", "patch", "profile+", "profile-"],
        weights=[2, 1, 3, 1, 4, 3, 2],
    )[0]
    if kind == "vhost+":
        body: Any = {"name": vhost}
        if rng.random() < 0.5:
            body["applications"] = {"application": [{"name": app, "type": "live"}]}
        return "POST", "/v1/vhosts", [body]
    if kind == "vhost-":
        return "DELETE", f"/v1/vhosts/{vhost}", None
    if kind == "app+":
        return "POST", base, [{"name": app, "type": "live"}]
    if kind == "app-":
        return "DELETE", f"{base}/{app}", None
    if kind == "patch":
        return "PATCH", f"{base}/{app}", {"publishers": {"appWorkerCount": n % 7 + 1}}
    if kind == "profile+":
        return "POST", f"{base}/{app}/outputProfiles", [profile_body(profile, f"s{n}")]
    return "DELETE", f"{base}/{app}/outputProfiles/{profile}", None


def handle(api: Api, method: str, path: str, body: Any) -> tuple[int, Any]:
    data = b"" if body is None else json.dumps(body).encode()
    response = api.handle(
        ApiRequest.build(method, path, [("Authorization", AUTH)], data, client="127.0.0.1")
    )
    return response.status, json.loads(response.body)


def build_api(location: str) -> Api:
    config = parse_server_xml(SERVER_XML, environ={})
    return open_api(config, SimulatedEngine(), store=location, brake=False)


def child(location: str, seed: int, out: str) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def emit(*parts: Any) -> None:
        # One write per line: a kill cuts at most the last line, never mixes two.
        os.write(fd, (json.dumps(list(parts)) + "\n").encode())

    rng = random.Random(seed)
    api = build_api(location)
    emit("READY", api.store.version(), state_of(api.registry))
    end = time.monotonic() + LIFETIME
    n = 0
    while time.monotonic() < end:
        request = random_request(rng, n)
        emit("B", request)
        status, _ = handle(api, *request)
        emit("A", status, api.registry.version, state_of(api.registry))
        n += 1


def zygote() -> None:
    for line in sys.stdin:
        command, location, seed, out = line.rstrip("\n").split("\t")
        assert command == "run"
        if "postgres" in location:
            import omeapi._stores.postgres  # noqa: F401  (imported before forking)
        pid = os.fork()
        if pid == 0:
            try:
                child(location, int(seed), out)
            finally:
                os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"done {status}", flush=True)


if __name__ == "__main__":
    zygote()
