"""The engine host's round trip: what a worker pays to have a request answered by the one
engine of the machine instead of an engine of its own.

    python -m benchmarks.engine_host [--requests 20000]

Starts a real engine host (``python -m omeapi_remote.host``, the simulated engine, a private
SQLite store) and a worker ``Api`` in this process that forwards to it, then times, per
request: the worker's answer in process with its own engine (the reference), the same
request forwarded to the engine host, and a bare engine call (``list_streams``) through
``RemoteEngine``.  Prints the wall time and the CPU time of both processes per request
(from ``/proc``), one request at a time (the latency a client sees when the machine is
otherwise idle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from benchmarks.apps import AUTHORIZATION, CONFIG, ORIGIN
from omeapi import ApiRequest, open_api
from omeapi_remote import worker_options
from omeapi_remote.host import ENV_SPEC, HostProcess

_TICK = os.sysconf("SC_CLK_TCK")
STREAM = "/v1/vhosts/default/apps/app/streams/cam"
PULL = b'{"name": "cam", "urls": ["rtsp://origin.example.com/app/cam"]}'


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _measure(call: Callable[[], object], count: int, host: int) -> tuple[float, float, float]:
    """(wall µs, this process's CPU µs, the host's CPU µs) per call, median of 5 runs."""
    runs = []
    for _ in range(5):
        mine, theirs = time.process_time(), _cpu(host)
        started = time.perf_counter()
        for _ in range(count // 5):
            call()
        wall = time.perf_counter() - started
        runs.append(
            (
                wall / (count // 5) * 1e6,
                (time.process_time() - mine) / (count // 5) * 1e6,
                (_cpu(host) - theirs) / (count // 5) * 1e6,
            )
        )
    return tuple(statistics.median(run[i] for run in runs) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    headers = {"Host": "localhost", "Authorization": AUTHORIZATION, "Origin": ORIGIN}
    with tempfile.TemporaryDirectory(prefix="omeapi-bench-") as directory:
        store = os.path.join(directory, "omeapi.sqlite3")
        socket_path = os.path.join(directory, "engine.sock")
        open_api(CONFIG, store=store, brake=False).close()  # the store, made once
        spec = {"file": CONFIG, "store": store, "socket": socket_path, "engine": None}
        host = HostProcess(spec)
        os.environ.pop(ENV_SPEC, None)
        host.start()
        try:
            if host.wait_ready() is not None:
                sys.exit("the engine host did not start")
            assert host.proc is not None
            engine, options = worker_options(socket_path)
            worker = open_api(CONFIG, engine, store=store, brake=False, **options)
            alone = open_api(CONFIG, brake=False)
            for api in (worker, alone):
                api.handle(ApiRequest.build("POST", STREAM.rsplit("/", 1)[0], headers, PULL))
            request = ApiRequest.build("GET", STREAM, headers)
            assert worker.handle(request).status == alone.handle(request).status == 200
            rows = [
                ("GET stream, engine in this process", lambda: alone.handle(request)),
                ("GET stream, forwarded to the engine host", lambda: worker.handle(request)),
                (
                    "RemoteEngine.list_streams (one engine call)",
                    lambda: engine.list_streams("default", "app"),
                ),
            ]
            print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
            print("| what | wall µs | worker CPU µs | host CPU µs | total CPU µs |")
            print("|---|---:|---:|---:|---:|")
            results = {}
            for label, call in rows:
                for _ in range(500):
                    call()
                wall, mine, theirs = _measure(call, args.requests, host.proc.pid)
                results[label] = mine + theirs
                print(f"| {label} | {wall:.1f} | {mine:.1f} | {theirs:.1f} | {mine + theirs:.1f} |")
            base, forwarded = (results[label] for label, _ in rows[:2])
            print(
                f"\nforwarded / in process: {forwarded / base:.2f}x CPU "
                f"(+{forwarded - base:.1f} µs a request)"
            )
            print(json.dumps({"round_trip_cpu_us": round(forwarded - base, 1)}))
            worker.close()
            alone.close()
        finally:
            host.stop()


if __name__ == "__main__":
    main()
