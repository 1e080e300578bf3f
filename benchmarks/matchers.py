"""Cost of the per-request matchers: CORS decision, Host check, auth verification.

Usage: ``python benchmarks/matchers.py [--repeat N] [--distinct N]``.

Prints microseconds per call, best of ``--repeat`` runs (``timeit``):

* ``ApiCors.headers`` with 1, 10 and 100 ``<Url>`` patterns (a realistic mix of
  ``*.siteN.example``, ``https://appN.example.com`` and ``localhost:30NN``), for a matching
  and a non-matching Origin, each once from the decision cache (the same Origin again, the
  usual case) and once with a fresh Origin per call (``--distinct`` of them, more than the
  cache holds, so every call is a miss);
* ``HostCheck.check`` with ``*`` (no work) and with three names;
* hostile input: Host and CORS patterns with several ``*`` against the longest Host / Origin
  that is matched (the backtracking regex took seconds to minutes; now linear);
* ``AuthVerifier.verify``: success in the usual form (``Basic`` + padded base64), success in
  another form (``basic``, no padding: parsed step by step), failure (wrong token), with and
  without a :class:`FailureBrake`, and a braked client (429).

Aims (issue 3): under 2 µs per CORS decision at every size; under 3 µs per successful auth.
This is a script, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import platform
import sys
import timeit
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from omeapi._access.auth import AuthVerifier
from omeapi._access.cors import ApiCors, CorsPolicy
from omeapi._access.hosts import HostCheck
from omeapi._errors import ApiError
from omeapi._state.brake import FailureBrake

TOKEN = "ome-access-token"
ASKED = "authorization, content-type"


def best_us(func: Callable[[], object], number: int, repeat: int) -> float:
    """Best time per call of ``func`` in microseconds."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def best_us_each(func: Callable[[str], object], inputs: list[str], repeat: int) -> float:
    """Best time per call of ``func`` over ``inputs`` (each used once per run)."""

    def run() -> None:
        for item in inputs:
            func(item)

    return min(timeit.repeat(run, number=1, repeat=repeat)) / len(inputs) * 1e6


def swallow(func: Callable[[], object]) -> Callable[[], None]:
    """``func`` with our own errors ignored (a refused call is still a timed call)."""

    def call() -> None:
        with contextlib.suppress(ApiError):
            func()

    return call


def print_rows(title: str, rows: list[tuple[str, float]]) -> None:
    print(title)
    for label, value in rows:
        print(f"  {label:<38} {value:>6.2f}")
    print()


def patterns(count: int) -> list[str]:
    kinds = ("*.site{}.example", "https://app{}.example.com", "localhost:{}")
    return [kinds[i % 3].format(i if i % 3 != 2 else 3000 + i) for i in range(count)]


def cors_row(count: int, repeat: int, distinct: int) -> list[float]:
    cors = ApiCors(None, CorsPolicy.compile(patterns(count), scope="API"))
    hit, miss = "https://www.site0.example", "https://www.evil.example"
    assert cors.headers(hit, ASKED)[0][1] == hit
    assert len(cors.headers(miss, ASKED)) == 1
    new_hits = [f"https://w{i}.site0.example" for i in range(distinct)]
    new_misses = [f"https://w{i}.evil.example" for i in range(distinct)]
    return [
        best_us(lambda: cors.headers(hit, ASKED), 2_000, repeat),
        best_us(lambda: cors.headers(miss, ASKED), 2_000, repeat),
        best_us_each(lambda o: cors.headers(o, ASKED), new_hits, repeat),
        best_us_each(lambda o: cors.headers(o, ASKED), new_misses, repeat),
    ]


def bench_cors(repeat: int, distinct: int) -> None:
    print("CORS decision, ApiCors.headers(origin, request_headers), µs per call")
    print("  same Origin each call (from the cache) / a new Origin each call (cache miss)")
    head = ("patterns", "same, match", "same, refused", "new, match", "new, refused")
    print("  ".join(f"{h:>13}" for h in head))
    for count in (1, 10, 100):
        row = cors_row(count, repeat, distinct)
        print("  ".join([f"{count:>13}", *(f"{v:>13.2f}" for v in row)]))
    print()


def bench_hosts(repeat: int) -> None:
    any_host = HostCheck(["*"])
    local = HostCheck(["localhost", "127.0.0.1", "[::1]"])
    rows = [
        ("'*' (no work)", lambda: any_host.check("a:1")),
        ("3 names, allowed", lambda: local.check("localhost:8081")),
        ("3 names, refused (403)", swallow(lambda: local.check("attacker.example:8081"))),
    ]
    print_rows(
        "Host check, HostCheck.check(host_header), µs per call",
        [(label, best_us(func, 2_000, repeat)) for label, func in rows],
    )


def bench_hostile(repeat: int) -> None:
    """Patterns with several ``*`` against the longest inputs that reach the matcher."""
    stars_host = HostCheck(["*.*.*.allowed.com"])
    long_host = "." * 250 + "x"  # the longest Host that is matched at all (255 bytes)
    huge_host = "." * 4000 + "x"  # refused by length before matching
    stars_cors = CorsPolicy.compile(["*.*.*.*.allowed.com"], scope="API")
    dots_origin = "https://" + "." * 245  # well formed, 253 characters
    rows = [
        ("Host *.*.*.allowed.com, 251 chars", swallow(lambda: stars_host.check(long_host))),
        ("Host *.*.*.allowed.com, 4001 chars", swallow(lambda: stars_host.check(huge_host))),
        ("CORS *.*.*.*.allowed.com, 253 chars", lambda: stars_cors.matches(dots_origin)),
    ]
    print_rows(
        "Hostile input (several `*` per pattern; was seconds to minutes), µs per call",
        [(label, best_us(func, 50, max(3, repeat // 10))) for label, func in rows],
    )


def bench_auth(repeat: int, distinct: int) -> None:
    encoded = base64.b64encode(TOKEN.encode()).decode()
    usual, other = f"Basic {encoded}", f"basic {encoded.rstrip('=')}"
    wrong = "Basic " + base64.b64encode(b"wrong-token").decode()
    plain = AuthVerifier(TOKEN)
    braked = AuthVerifier(TOKEN, brake=FailureBrake())
    blocked = AuthVerifier(TOKEN, brake=FailureBrake())
    for _ in range(10):
        swallow(lambda: blocked.verify(wrong, "c"))()
    rows = [
        ("success, usual form, no brake", lambda: plain.verify(usual)),
        ("success, usual form, brake", lambda: braked.verify(usual, "c")),
        ("success, other form, brake", lambda: braked.verify(other, "c")),
        ("failure (401), no brake", swallow(lambda: plain.verify(wrong))),
        ("braked client (429)", swallow(lambda: blocked.verify(usual, "c"))),
    ]
    figures = [(label, best_us(func, 2_000, repeat)) for label, func in rows]
    flood = AuthVerifier(TOKEN, brake=FailureBrake(max_clients=10_000))
    clients = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(distinct)]
    figures.append(
        (
            "failure (401), brake, a new client each",
            best_us_each(lambda c: swallow(lambda: flood.verify(wrong, c))(), clients, repeat),
        )
    )
    print_rows("Auth, AuthVerifier.verify(authorization, client), µs per call", figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=150, help="runs per figure (best is kept)")
    parser.add_argument(
        "--distinct",
        type=int,
        default=4_000,
        help="fresh inputs per run (more than the cache holds)",
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    print()
    bench_cors(args.repeat, args.distinct)
    bench_hosts(args.repeat)
    bench_hostile(args.repeat)
    bench_auth(args.repeat, args.distinct)


if __name__ == "__main__":
    main()
