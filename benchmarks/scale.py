"""How request costs grow with the number of vhosts: 1, 1,000 and 10,000 (10 apps each).

    python -m benchmarks.scale [--sizes 1,1000,10000] [--number 2000] [--repeat 7]

Each size runs in a fresh interpreter (so no size inherits the heap of another): it opens
the API over ``benchmarks/Server.xml`` on the simulated engine, creates the vhosts through
the API (``POST /v1/vhosts``, 1,000 vhosts a request, each with 10 live apps), then times
``Api.handle`` in process for

* ``GET /v1/vhosts/{vhost}/apps/{app}``, cycling over 100 apps spread over all vhosts;
* ``PATCH /v1/vhosts/{vhost}/apps/{app}`` with a new ``appWorkerCount`` every call (a real
  change: merge, schema parse, engine restart, store write, new snapshot), over those apps;
* ``GET /v1/stats/current``;

best of ``--repeat`` runs of ``--number`` calls (PATCH: ``--number`` / 10; a run also ends
after half a second, at 10 calls at least), the runs of the three requests interleaved.
It prints the rate of each, its ratio to the 1-vhost rate (aim: at least 0.9), the
start-up time (open + create), and memory per vhost (RSS growth over the creation, divided
by the vhosts created).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS_PER_VHOST = 10
BATCH = 1000  # the most items one POST may carry
SAMPLE = 100  # distinct apps the GETs and PATCHes cycle over
AIM = 0.9


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _one(size: int, number: int, repeat: int) -> dict[str, Any]:
    sys.path[:0] = [ROOT]
    from benchmarks.apps import AUTHORIZATION, CONFIG
    from omeapi import open_api
    from omeapi._wire.request import ApiRequest

    headers = {"authorization": AUTHORIZATION}

    def request(method: str, path: str, body: Any = None) -> ApiRequest:
        data = b"" if body is None else json.dumps(body).encode()
        return ApiRequest(method, path, headers, data)

    rss0 = _rss()
    t0 = time.perf_counter()
    api = open_api(CONFIG, brake=False)
    for start in range(0, size, BATCH):
        items = [
            {
                "name": f"v{i}",
                "applications": [{"name": f"a{j}", "type": "live"} for j in range(APPS_PER_VHOST)],
            }
            for i in range(start, min(size, start + BATCH))
        ]
        response = api.handle(request("POST", "/v1/vhosts", items))
        assert response.status == 200, response.body[:300]
    startup = time.perf_counter() - t0
    rss1 = _rss()

    step = max(1, size * APPS_PER_VHOST // SAMPLE)
    targets = [
        (f"v{k // APPS_PER_VHOST}", f"a{k % APPS_PER_VHOST}")
        for k in range(0, size * APPS_PER_VHOST, step)
    ][:SAMPLE]
    gets = [request("GET", f"/v1/vhosts/{v}/apps/{a}") for v, a in targets]
    stats = request("GET", "/v1/stats/current")
    for req in (*gets, stats):
        assert api.handle(req).status == 200
    counter = [0]

    def run_gets(n: int) -> None:
        handle = api.handle
        for i in range(n):
            handle(gets[i % len(gets)])

    def run_patches(n: int) -> None:
        for _ in range(n):
            counter[0] += 1
            v, a = targets[counter[0] % len(targets)]
            body = {"publishers": {"appWorkerCount": 1 + counter[0] % 64}}
            response = api.handle(request("PATCH", f"/v1/vhosts/{v}/apps/{a}", body))
            assert response.status == 200, response.body[:300]

    def run_stats(n: int) -> None:
        handle = api.handle
        for _ in range(n):
            handle(stats)

    runs = {
        "GET app": (run_gets, number),
        "PATCH app": (run_patches, max(1, number // 10)),
        "GET /v1/stats/current": (run_stats, number),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, (fn, n) in runs.items():
            # A run stops after `n` calls or half a second, whichever comes first, so that
            # a request whose cost grows with the vhosts still ends (one call at least).
            calls, t, deadline = 0, time.perf_counter(), time.perf_counter() + 0.5
            while calls < n:
                fn(min(n - calls, 10))
                calls += min(n - calls, 10)
                if time.perf_counter() > deadline:
                    break
            best[name] = min(best[name], (time.perf_counter() - t) / calls)
    return {
        "size": size,
        "startup_s": startup,
        "rss_per_vhost": (rss1 - rss0) / max(size, 1),
        "rss_mb": rss1 / 2**20,
        "us": {name: best[name] * 1e6 for name in runs},
    }


def _rate(us: float) -> str:
    rate = 1e6 / us
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,1000,10000")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one, args.number, args.repeat)))
        return
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [
                *(sys.executable, "-m", "benchmarks.scale", "--one", str(size)),
                *("--number", str(args.number), "--repeat", str(args.repeat)),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"... {size} vhosts done", file=sys.stderr, flush=True)
    base = results[0]["us"]
    names = list(base)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print(f"## Scale: vhosts x {APPS_PER_VHOST} apps, API-created, in process\n")
    print(
        "| vhosts | " + " | ".join(f"{n} µs (req/s)" for n in names) + " | start-up s "
        "| RSS MB | KB per vhost |"
    )
    print("|---:|" + "---:|" * (len(names) + 3))
    for r in results:
        cells = [f"{r['us'][n]:,.1f} ({_rate(r['us'][n])})" for n in names]
        print(
            f"| {r['size']:,} | " + " | ".join(cells) + f" | {r['startup_s']:.2f} "
            f"| {r['rss_mb']:.0f} | {r['rss_per_vhost'] / 1024:.1f} |"
        )
    print(f"\nRate relative to {results[0]['size']} vhost(s) (aim: each at least {AIM}):\n")
    for r in results[1:]:
        ratios = ", ".join(f"{n} {base[n] / r['us'][n]:.2f}" for n in names)
        worst = min(base[n] / r["us"][n] for n in names)
        print(f"- {r['size']:,} vhosts: {ratios} ({'ok' if worst >= AIM else 'BELOW AIM'})")


if __name__ == "__main__":
    main()
