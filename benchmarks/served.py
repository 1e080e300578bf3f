"""Served throughput: omeapi vs the bare-WSGI limit vs Flask + flask-cors, under granian and
gunicorn, and omeapi's ASGI adapter vs a bare ASGI app under uvicorn and hypercorn, loaded by
``wrk`` on 127.0.0.1; the mutation path (PATCH / POST profiles); and ``omeapi serve`` with
2 workers vs 1.

    python -m benchmarks.served [--duration 5] [--rounds 3] [--only-workers]
        [--servers granian,sync,gthread,uvicorn,hypercorn]

Prints req/s and latency percentiles per (server, app), measured alternately in rounds, and
the ratios omeapi / limit and omeapi / alternative.  Needs ``wrk`` (Debian package) and the
``flask``/``flask-cors`` packages for the alternative.  Everything listens on 127.0.0.1 and
stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks.apps import AUTHORIZATION, BODY, CONFIG, HEADERS, ORIGIN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = ("omeapi", "bare", "flask")
#: The ASGI servers run omeapi's ASGI adapter and a bare ASGI app (Flask is WSGI only).
ASGI_APPS = ("omeapi", "bare")
#: How long a simulated app restart takes: long next to the API's own work, as a real media
#: server's is, so that what is measured is whether restarts of different apps queue.
RESTART_DELAY = 0.05

SERVERS: dict[str, list[str]] = {
    "granian": [
        "granian",
        "--interface",
        "wsgi",
        "--workers",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "benchmarks.apps:{app}_app",
    ],
    "sync": [
        "gunicorn",
        "-w",
        "1",
        "-k",
        "sync",
        "--log-level",
        "warning",
        "-b",
        "127.0.0.1:{port}",
        "benchmarks.apps:{app}_app()",
    ],
    "gthread": [
        "gunicorn",
        "-w",
        "1",
        "-k",
        "gthread",
        "--threads",
        "4",
        "--log-level",
        "warning",
        "-b",
        "127.0.0.1:{port}",
        "benchmarks.apps:{app}_app()",
    ],
    # One worker process each, as above; uvicorn with whichever HTTP parser it finds
    # (httptools if installed, else h11), and no Server header of its own (the apps send one).
    "uvicorn": [
        "uvicorn",
        "--factory",
        "--workers",
        "1",
        "--no-server-header",
        "--no-access-log",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "benchmarks.served:asgi_{app}_app",
    ],
    "hypercorn": [
        "hypercorn",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--bind",
        "127.0.0.1:{port}",
        "benchmarks.served:asgi_{app}_app()",
    ],
}

AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def asgi_omeapi_app() -> AsgiApp:
    """omeapi through its ASGI adapter (``benchmarks/Server.xml``), for uvicorn / hypercorn."""
    from omeapi_asgi import create_app

    return create_app(CONFIG, brake=False)


def asgi_bare_app() -> AsgiApp:
    """The ASGI limit: the same bytes and headers as omeapi's answer, nothing computed."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(k.lower().encode(), v.encode()) for k, v in HEADERS],
    }
    body = {"type": "http.response.body", "body": BODY}

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(body)

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bin(name: str) -> str:
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.path.exists(local) else name


@contextmanager
def server(kind: str, app: str, env: dict[str, str] | None = None) -> Iterator[int]:
    port = free_port()
    argv = [part.format(port=port, app=app) for part in SERVERS[kind]]
    argv[0] = _bin(argv[0])
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/adapters", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind}/{app} did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    duration: float,
    connections: int = 8,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    threads: int = 1,
) -> tuple[float, dict[str, float]]:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
    ]
    for header in headers:
        argv += ["-H", header]
    if script:
        argv += ["-s", script]
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 60).stdout
    m = _RPS.search(out)
    if m is None:
        raise RuntimeError(f"wrk said:\n{out}")
    latency = {f"p{p}": float(v) * _UNIT[u] for p, v, u in _PCT.findall(out)}
    return float(m.group(1)), latency


def throughput(kinds: list[str], duration: float, rounds: int) -> None:
    headers = (f"Authorization: {AUTHORIZATION}", f"Origin: {ORIGIN}")
    print(f"## GET /v1/vhosts, wrk -t1 -c8, {rounds} rounds x {duration}s, alternating\n")
    print("| server | app | req/s (median) | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        apps = ASGI_APPS if kind in ("uvicorn", "hypercorn") else APPS
        results: dict[str, list[tuple[float, dict[str, float]]]] = {a: [] for a in apps}
        with ExitStack() as stack:
            ports = {name: stack.enter_context(server(kind, name)) for name in apps}
            for name, port in ports.items():  # warm up; check the answers
                with urllib.request.urlopen(
                    urllib.request.Request(
                        f"http://127.0.0.1:{port}/v1/vhosts",
                        headers={"Authorization": AUTHORIZATION, "Origin": ORIGIN},
                    )
                ) as response:
                    assert json.loads(response.read())["response"] == ["default"], name
                wrk(f"http://127.0.0.1:{port}/v1/vhosts", 1, headers=headers)
            for _ in range(rounds):
                for name, port in ports.items():
                    results[name].append(
                        wrk(f"http://127.0.0.1:{port}/v1/vhosts", duration, headers=headers)
                    )
        medians = {}
        for name in apps:
            rps = statistics.median(r for r, _ in results[name])
            medians[name] = rps
            p50 = statistics.median(lat.get("p50", 0.0) for _, lat in results[name])
            p99 = statistics.median(lat.get("p99", 0.0) for _, lat in results[name])
            print(f"| {kind} | {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |")
        ratios = f"omeapi/limit {medians['omeapi'] / medians['bare']:.2f}"
        if "flask" in medians:
            ratios += f", omeapi/flask {medians['omeapi'] / medians['flask']:.2f}"
        print(f"| {kind} | **ratios** | {ratios} | | |")
    print()


# One wrk thread per client, each with its own connection: `setup` gives every thread the
# app it patches, so "4 clients on 4 apps" really never share an app.
_PATCH_LUA = """
local apps = {%s}
local threads = 0
function setup(thread)
  thread:set("app", apps[(threads %% #apps) + 1])
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  -- A value no other client sends: every PATCH is a real change, so every one restarts.
  n = n + 1
  local body = '{"publishers":{"appWorkerCount":' .. (id * 1000000 + n) .. '}}'
  return wrk.format("PATCH", "/v1/vhosts/bench/apps/" .. app, nil, body)
end
"""

_PROFILE_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = '[{"name":"p' .. n .. '","outputStreamName":"s' .. n
    .. '","encodes":{"videos":[{"name":"v","bypass":true}]}}]'
  return wrk.format("POST", "/v1/vhosts/bench/apps/%s/outputProfiles", nil, body)
end
"""


def mutations(duration: float) -> None:
    """PATCH / POST profiles through gthread (4 threads), with slow engine restarts."""
    delay_ms = RESTART_DELAY * 1000
    print(f"## Mutations (gunicorn gthread 4 threads, simulated restart {delay_ms:.0f} ms)\n")
    headers = (f"Authorization: {AUTHORIZATION}", "Content-Type: application/json")
    env = {"OMEAPI_BENCH_RESTART_DELAY": str(RESTART_DELAY)}
    with server("gthread", "omeapi_mutable", env) as port, tempfile.TemporaryDirectory() as tmp:
        base = f"http://127.0.0.1:{port}"
        rows = []
        for label, apps, conns in (
            ("PATCH app, 4 clients on 4 apps", "'a0','a1','a2','a3'", 4),
            ("PATCH app, 4 clients on 1 app", "'a0'", 4),
        ):
            script = os.path.join(tmp, "patch.lua")
            with open(script, "w") as fh:
                fh.write(_PATCH_LUA % apps)
            rows.append((label, *wrk(base, duration, conns, script, headers, threads=conns)))
        script = os.path.join(tmp, "profile.lua")
        with open(script, "w") as fh:
            fh.write(_PROFILE_LUA % "a1")
        rows.append(("POST outputProfiles, 1 client", *wrk(base, duration, 1, script, headers)))
        print("| what | req/s | p50 ms | p99 ms |")
        print("|---|---|---|---|")
        for label, rps, lat in rows:
            print(f"| {label} | {rps:,.0f} | {lat.get('p50', 0):.2f} | {lat.get('p99', 0):.2f} |")
        print(f"\n4 apps / 1 app: {rows[0][1] / rows[1][1]:.2f}x\n")


@contextmanager
def omeapi_serve(workers: int) -> Iterator[int]:
    """``omeapi serve`` itself (granian, no store: its private SQLite file) on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "omeapi.cli", "serve", CONFIG, "--address", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/adapters"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until every worker may answer: the port opens before they boot
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/vhosts", headers={"Authorization": AUTHORIZATION}
                )
                with urllib.request.urlopen(request, timeout=1) as response:
                    response.read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"omeapi serve --workers {workers} did not start") from None
                time.sleep(0.2)
        time.sleep(1.0)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def workers(duration: float, rounds: int) -> None:
    """``omeapi serve`` (granian) with 2 workers vs 1, measured alternately."""
    headers = (f"Authorization: {AUTHORIZATION}", f"Origin: {ORIGIN}")
    print(f"## omeapi serve, granian, 2 workers vs 1 (wrk -t1 -c16, {rounds} rounds)\n")
    print("wrk runs on the same cores and takes its share of the CPU.\n")
    print("| workers | req/s (median) | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    results: dict[int, list[tuple[float, dict[str, float]]]] = {1: [], 2: []}
    with omeapi_serve(1) as one, omeapi_serve(2) as two:
        ports = {1: one, 2: two}
        for _ in range(rounds):
            for count, port in ports.items():
                url = f"http://127.0.0.1:{port}/v1/vhosts"
                results[count].append(wrk(url, duration, connections=16, headers=headers))
    medians = {}
    for count, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        medians[count] = rps
        p50 = statistics.median(lat.get("p50", 0.0) for _, lat in runs)
        p99 = statistics.median(lat.get("p99", 0.0) for _, lat in runs)
        print(f"| {count} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |")
    rounds_ratio = ", ".join(
        f"{b[0] / a[0]:.2f}x" for a, b in zip(results[1], results[2], strict=True)
    )
    print(f"\n2 workers / 1: {medians[2] / medians[1]:.2f}x (per round: {rounds_ratio})\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="granian,sync,gthread,uvicorn,hypercorn")
    parser.add_argument("--skip-mutations", action="store_true")
    parser.add_argument("--only-workers", action="store_true", help="just the workers row")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package 'wrk')")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    if args.only_workers:
        workers(args.duration, args.rounds)
        return
    workers(args.duration, args.rounds)
    throughput(args.servers.split(","), args.duration, args.rounds)
    if not args.skip_mutations:
        mutations(args.duration)


if __name__ == "__main__":
    main()
