"""The per-request freshness check of a shared store: ns per ``Registry.refresh()`` when
nothing changed (the generation read), next to the counter read it replaces.

    python -m benchmarks.freshness [--calls 200000] [--postgres URL]

SQLite in a temporary file; with ``--postgres`` also that database (its tables are
created if missing), whose check is the same memory read while the process listens to
notifications, against one round trip without it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable

from omeapi._state.registry import Registry
from omeapi._stores.base import Store
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


def measure(label: str, store: Store, generation: Callable[[], object], calls: int) -> None:
    registry = Registry(store=store)
    registry.refresh()
    rows = [
        ("generation read (store.generation())", generation, calls),
        ("Registry.refresh(), nothing changed", registry.refresh, calls),
        ("counter read it replaces (store.version())", store.version, max(1, calls // 20)),
    ]
    for name, function, count in rows:
        print(f"{label:<10} {name:<46} {per_call(function, count):>9.0f} ns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--postgres", metavar="URL", help="also measure this PostgreSQL store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(os.path.join(directory, "bench.sqlite3"))
        try:
            measure("sqlite", store, store.generation, args.calls)
        finally:
            store.close()
    if args.postgres:
        from omeapi._stores.postgres import PostgresStore

        postgres = PostgresStore(args.postgres)
        stop, listening = threading.Event(), threading.Event()
        listener = threading.Thread(target=postgres.watch, args=(listening.set, stop))
        listener.start()
        try:
            if not listening.wait(10) or postgres.generation() is None:
                raise SystemExit("the PostgreSQL store did not start listening")
            measure("postgres", postgres, postgres.generation, args.calls)
        finally:
            stop.set()
            listener.join()
            postgres.close()


if __name__ == "__main__":
    main()
