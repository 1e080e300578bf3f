"""The per-request freshness check of a shared store: ns per ``Registry.refresh()`` when
nothing changed (the generation read), next to the counter read it replaces.

    python -m benchmarks.freshness [--calls 200000]

SQLite only (a temporary file); PostgreSQL's check is the same memory read while its
``LISTEN`` connection is up, against one round trip to the database without it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

from omeapi._state.registry import Registry
from omeapi._stores.sqlite import SqliteStore


def per_call(function: Callable[[], object], calls: int) -> float:
    """Best of three runs, in ns per call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(os.path.join(directory, "bench.sqlite3"))
        try:
            registry = Registry(store=store)
            registry.refresh()
            rows = [
                ("generation read (store.generation())", store.generation),
                ("Registry.refresh(), nothing changed", registry.refresh),
                ("counter read it replaces (store.version())", store.version),
            ]
            for name, function in rows:
                calls = args.calls if function is not store.version else args.calls // 20
                print(f"{name:<46} {per_call(function, calls):>9.0f} ns")
        finally:
            store.close()


if __name__ == "__main__":
    main()
