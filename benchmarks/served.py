"""Served throughput: omeapi vs the bare-WSGI limit vs Flask + flask-cors, under granian and
gunicorn, and omeapi's ASGI adapter vs a bare ASGI app under uvicorn and hypercorn, loaded by
``wrk`` on 127.0.0.1; the mutation path (PATCH / POST profiles); and ``omeapi serve`` with
one worker per core vs one, beside OvenMediaEngine's own API server with as many threads
when ``OME_BIN`` names a locally built binary (left out otherwise).

    [OME_BIN=/path/to/OvenMediaEngine] python -m benchmarks.served [--duration 5]
        [--rounds 3] [--only-workers | --only-engine-host | --only-servers]
        [--servers granian,sync,gthread,uvicorn,hypercorn] [--connections 8]

Prints req/s, latency percentiles and the server's CPU time per request per (server, app),
measured alternately in rounds, and last the ratios omeapi / limit and omeapi / alternative.
The CPU time per request (every process of the server, from ``/proc``) moves far less than
req/s when other jobs share the machine.  Needs ``wrk`` (Debian package); the alternative
needs ``flask``/``flask-cors`` (``pip install -e .[bench]``) and is left out without them.
No media server is needed (the simulated engine answers).  Everything listens on 127.0.0.1
and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
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
from contextlib import contextmanager
from typing import Any

from benchmarks.apps import AUTHORIZATION, BODY, CONFIG, HEADERS, ORIGIN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = ("omeapi", "bare", "flask")
#: The ASGI servers run omeapi's ASGI adapter and a bare ASGI app (Flask is WSGI only).
ASGI_APPS = ("omeapi", "bare")
ASGI_SERVERS = ("uvicorn", "hypercorn")
#: The process group of each running server, by port (for its CPU time).
_GROUPS: dict[int, int] = {}
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
    _GROUPS[port] = proc.pid  # start_new_session: the server leads its own group
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
        _GROUPS.pop(port, None)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_COUNT = re.compile(r"(\d+) requests in")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(port: int) -> float:
    """User + system CPU time of every process of the server on ``port`` (Linux)."""
    group = _GROUPS.get(port)
    total = 0
    if group is None or not os.path.isdir("/proc"):
        return 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


class Run:
    """One wrk run: req/s, latency percentiles (ms), and the server's CPU µs a request."""

    def __init__(self, rps: float, latency: dict[str, float], cpu_us: float) -> None:
        self.rps = rps
        self.latency = latency
        self.cpu_us = cpu_us


def wrk(
    url: str,
    duration: float,
    connections: int = 8,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    threads: int = 1,
) -> tuple[float, dict[str, float]]:
    run = wrk_run(url, duration, connections, script, headers, threads)
    return run.rps, run.latency


def wrk_run(
    url: str,
    duration: float,
    connections: int = 8,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    threads: int = 1,
) -> Run:
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
    port = int(url.split(":")[2].split("/")[0])
    before = cpu_seconds(port)
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 60).stdout
    used = cpu_seconds(port) - before
    m = _RPS.search(out)
    count = _COUNT.search(out)
    if m is None or count is None:
        raise RuntimeError(f"wrk said:\n{out}")
    refused = _NON_2XX.search(out)
    if refused is not None:
        # A server answering errors fast would win: every contender must answer 200s.
        raise RuntimeError(f"{url}: {refused.group(1)} answers were not 2xx or 3xx")
    latency = {f"p{p}": float(v) * _UNIT[u] for p, v, u in _PCT.findall(out)}
    return Run(float(m.group(1)), latency, used / max(int(count.group(1)), 1) * 1e6)


def _have_flask() -> bool:
    try:
        import flask  # noqa: F401
        import flask_cors  # noqa: F401
    except ImportError:
        return False
    return True


def throughput(kinds: list[str], duration: float, rounds: int, connections: int = 8) -> list[str]:
    """Print the table; return the ratio lines (printed last by :func:`main`)."""
    headers = (f"Authorization: {AUTHORIZATION}", f"Origin: {ORIGIN}")
    apps = APPS if _have_flask() else tuple(a for a in APPS if a != "flask")
    print(
        f"## GET /v1/vhosts, wrk -t1 -c{connections}, {rounds} rounds x {duration}s, alternating\n"
    )
    if "flask" not in apps:
        print("(flask / flask-cors are not installed: the alternative is left out)\n")
    print("| server | app | req/s (median) | p50 ms | p99 ms | server CPU µs/request |")
    print("|---|---|---|---|---|---|")
    summary = []
    for kind in kinds:
        # Flask is WSGI only: the ASGI servers run omeapi's ASGI adapter and a bare ASGI app.
        names = tuple(a for a in apps if a in ASGI_APPS) if kind in ASGI_SERVERS else apps
        results: dict[str, list[Run]] = {a: [] for a in names}
        with contextlib.ExitStack() as stack:
            ports = {name: stack.enter_context(server(kind, name)) for name in names}
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
                        wrk_run(
                            f"http://127.0.0.1:{port}/v1/vhosts",
                            duration,
                            connections,
                            headers=headers,
                        )
                    )
        medians = {}
        cpu = {}
        for name in names:
            runs = results[name]
            medians[name] = statistics.median(r.rps for r in runs)
            cpu[name] = statistics.median(r.cpu_us for r in runs)
            p50 = statistics.median(r.latency.get("p50", 0.0) for r in runs)
            p99 = statistics.median(r.latency.get("p99", 0.0) for r in runs)
            print(
                f"| {kind} | {name} | {medians[name]:,.0f} | {p50:.2f} | {p99:.2f} "
                f"| {cpu[name]:.1f} |"
            )
        # The ratio of each round (omeapi and the limit measured next to each other), then
        # the median of those: steadier than the ratio of medians on a shared machine.
        paired = statistics.median(
            o.rps / b.rps for o, b in zip(results["omeapi"], results["bare"], strict=True)
        )
        line = (
            f"{kind}: omeapi/limit {paired:.2f} (req/s, median of rounds), "
            f"{cpu['bare'] / cpu['omeapi']:.2f} (server CPU per request)"
        )
        if "flask" in names:
            line += f", omeapi/flask {medians['omeapi'] / medians['flask']:.2f}"
        summary.append(line)
    print()
    return summary


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
def answering(name: str, argv: list[str], port: int, cwd: str = ROOT) -> Iterator[int]:
    """Run ``argv`` (a server listening on ``port``) in a process group of its own until it
    answers an authenticated ``GET /v1/vhosts``; stop the group afterwards."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/adapters"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    _GROUPS[port] = proc.pid
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
                    os.killpg(proc.pid, signal.SIGKILL)
                    said = proc.communicate()[1].decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} did not start:\n{said}") from None
                time.sleep(0.2)
        time.sleep(1.0)
        yield port
    finally:
        _GROUPS.pop(port, None)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@contextmanager
def omeapi_serve(workers: int) -> Iterator[int]:
    """``omeapi serve`` itself (granian, no store: its private SQLite file) on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "omeapi.cli", "serve", CONFIG, "--address", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers)]
    with answering(f"omeapi serve --workers {workers}", argv, port) as port:
        yield port


@contextmanager
def ome(binary: str, threads: int) -> Iterator[int]:
    """OvenMediaEngine itself (``binary``, run as ``binary -c <dir>``) serving the benchmark's
    Server.xml, with ``threads`` API worker threads (``<Bind><Managers><API><WorkerCount>``),
    on a free port."""
    port = free_port()
    with open(CONFIG, encoding="utf-8") as fh:
        config = fh.read()
    config, ports = re.subn(r"<Port>\d+</Port>", f"<Port>{port}</Port>", config, count=1)
    config, counts = re.subn(
        r"<WorkerCount>\d+</WorkerCount>", f"<WorkerCount>{threads}</WorkerCount>", config, count=1
    )
    assert ports == counts == 1, "benchmarks/Server.xml lost its API <Port> or <WorkerCount>"
    with tempfile.TemporaryDirectory(prefix="ome-bench-") as directory:
        with open(os.path.join(directory, "Server.xml"), "w", encoding="utf-8") as fh:
            fh.write(config)
        with open(os.path.join(directory, "Logger.xml"), "w", encoding="utf-8") as fh:
            fh.write(
                '<?xml version="1.0" encoding="UTF-8"?>\n<Logger version="2">'
                f'<Path>{directory}/logs</Path><Tag name=".*" level="warn"/></Logger>\n'
            )
        argv = [os.path.abspath(binary), "-c", directory]
        with answering(f"OvenMediaEngine ({binary})", argv, port, cwd=directory) as port:
            yield port


def workers(duration: float, rounds: int) -> list[str]:
    """``omeapi serve`` (granian) with one worker per core vs one, and OvenMediaEngine with
    as many API threads when ``$OME_BIN`` names a binary, measured alternately; the summary
    lines (ratios of the medians)."""
    cores = max(2, os.cpu_count() or 1)
    binary = os.environ.get("OME_BIN", "")
    headers = (f"Authorization: {AUTHORIZATION}", f"Origin: {ORIGIN}")
    print(f"## GET /v1/vhosts on every core (wrk -t1 -c16, {rounds} rounds x {duration}s)\n")
    print("wrk runs on the same cores and takes its share of the CPU.")
    if not binary:
        print("OvenMediaEngine left out: set OME_BIN to a locally built binary to include it.")
    print("\n| server | req/s (median) | server CPU µs a request | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    names = {"one": "omeapi serve, 1 worker", "all": f"omeapi serve, {cores} workers"}
    results: dict[str, list[Run]] = {"one": [], "all": []}
    with contextlib.ExitStack() as stack:
        ports = {
            "one": stack.enter_context(omeapi_serve(1)),
            "all": stack.enter_context(omeapi_serve(cores)),
        }
        if binary:
            names["ome"] = f"OvenMediaEngine, {cores} API threads"
            results["ome"] = []
            ports["ome"] = stack.enter_context(ome(binary, cores))
        for _ in range(rounds):
            for key, port in ports.items():
                url = f"http://127.0.0.1:{port}/v1/vhosts"
                results[key].append(wrk_run(url, duration, connections=16, headers=headers))
    medians = {}
    for key, runs in results.items():
        medians[key] = rps = statistics.median(r.rps for r in runs)
        cpu = statistics.median(r.cpu_us for r in runs)
        p50 = statistics.median(r.latency.get("p50", 0.0) for r in runs)
        p99 = statistics.median(r.latency.get("p99", 0.0) for r in runs)
        print(f"| {names[key]} | {rps:,.0f} | {cpu:.1f} | {p50:.2f} | {p99:.2f} |")

    def ratio(top: str, bottom: str) -> str:
        rounds_ratio = ", ".join(
            f"{a.rps / b.rps:.2f}x" for a, b in zip(results[top], results[bottom], strict=True)
        )
        return f"{medians[top] / medians[bottom]:.2f}x (per round: {rounds_ratio})"

    lines = [f"granian, {cores} workers / 1: {ratio('all', 'one')}"]
    if binary:
        lines.append(
            f"omeapi {cores} workers / OvenMediaEngine {cores} threads: {ratio('all', 'ome')}"
        )
    print()
    for line in lines:
        print(line)
    print()
    return lines


#: The runtime read of the engine-host rows: a pulled stream, answered by the engine.
_STREAM_PATH = "/v1/vhosts/default/apps/app/streams/cam"


def _pull(port: int) -> None:
    """Create the stream :data:`_STREAM_PATH` reads (the simulated engine pulls anything)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/vhosts/default/apps/app/streams",
        data=b'{"name": "cam", "urls": ["rtsp://origin.example.com/app/cam"]}',
        headers={"Authorization": AUTHORIZATION, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status


def engine_host(duration: float, rounds: int) -> list[str]:
    """A runtime read (``GET …/streams/{s}``) answered by the engine in the one worker
    (``--workers 1``) and through the engine host (one worker per core): what the round
    trip to the engine host costs, in server CPU per request and in latency."""
    cores = max(2, os.cpu_count() or 1)
    headers = (f"Authorization: {AUTHORIZATION}", f"Origin: {ORIGIN}")
    print(f"## GET {_STREAM_PATH} (wrk -t1 -c8, {rounds} rounds x {duration}s)\n")
    print("| server | req/s (median) | server CPU µs a request | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    names = {
        "one": "omeapi serve, 1 worker (engine in the worker)",
        "all": f"omeapi serve, {cores} workers (engine host)",
    }
    results: dict[str, list[Run]] = {"one": [], "all": []}
    with contextlib.ExitStack() as stack:
        ports = {
            "one": stack.enter_context(omeapi_serve(1)),
            "all": stack.enter_context(omeapi_serve(cores)),
        }
        for port in ports.values():
            _pull(port)
            wrk(f"http://127.0.0.1:{port}{_STREAM_PATH}", 1, headers=headers)
        for _ in range(rounds):
            for key, port in ports.items():
                url = f"http://127.0.0.1:{port}{_STREAM_PATH}"
                results[key].append(wrk_run(url, duration, headers=headers))
    cpu: dict[str, float] = {}
    for key, runs in results.items():
        rps = statistics.median(r.rps for r in runs)
        cpu[key] = statistics.median(r.cpu_us for r in runs)
        p50 = statistics.median(r.latency.get("p50", 0.0) for r in runs)
        p99 = statistics.median(r.latency.get("p99", 0.0) for r in runs)
        print(f"| {names[key]} | {rps:,.0f} | {cpu[key]:.1f} | {p50:.2f} | {p99:.2f} |")
    line = (
        f"runtime read through the engine host / in the worker: "
        f"{cpu['all'] / cpu['one']:.2f}x server CPU per request "
        f"(+{cpu['all'] - cpu['one']:.1f} µs; aim: at most 1.5x)"
    )
    print(f"\n{line}\n")
    return [line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="granian,sync,gthread,uvicorn,hypercorn")
    parser.add_argument("--skip-mutations", action="store_true")
    parser.add_argument("--only-workers", action="store_true", help="just the workers row")
    parser.add_argument(
        "--only-engine-host", action="store_true", help="just the engine host's runtime read"
    )
    parser.add_argument(
        "--only-servers", action="store_true", help="just the table of --servers against the limit"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="wrk's connections for that table (-c)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package 'wrk')")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    if args.only_workers:
        workers(args.duration, args.rounds)
        return
    if args.only_engine_host:
        engine_host(args.duration, args.rounds)
        return
    if args.only_servers:
        kinds = args.servers.split(",")
        for line in throughput(kinds, args.duration, args.rounds, args.connections):
            print(f"- {line}")
        return
    summary = workers(args.duration, args.rounds)
    summary += engine_host(args.duration, args.rounds)
    summary += throughput(args.servers.split(","), args.duration, args.rounds, args.connections)
    if not args.skip_mutations:
        mutations(args.duration)
    print("## Ratios\n")
    for line in summary:
        print(f"- {line}")


if __name__ == "__main__":
    main()
