"""The kill loop with concurrent writers: two processes change one SQLite store at once and
are both SIGKILLed at random moments (``test_store_kill`` does it with one writer).

Each round starts two children (``store_kill_child``, through two zygotes) on the same
store, each sending random API changes, and kills both after a random delay.  Then, with
the store opened afresh:

* SQLite's ``integrity_check`` and ``foreign_key_check`` are clean;
* nothing is half-written: the audit holds exactly one record per version, 1 to the
  store's version;
* every answered change survived: the store's version is at least every version a child
  saw after an answer (a store that lost a committed change would be behind it);
* no answer was a 5xx, and the next round's children both restore the store's version.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from robust_report import record
from store_support import fresh_location
from test_store_kill import Zygote, check_sqlite, read_log, stored

ROUNDS = 25
WRITERS = 2


def wait_ready(log: Path, deadline: float) -> None:
    while "READY" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "a child never got ready"
        time.sleep(0.002)


def test_concurrent_writers_survive_sigkill(tmp_path: Path) -> None:
    location = next(fresh_location("sqlite", tmp_path))
    rng = random.Random(9)
    zygotes = [Zygote() for _ in range(WRITERS)]
    started = time.monotonic()
    kills = answered_total = 0
    version = 0
    try:
        for round_ in range(ROUNDS):
            logs = [tmp_path / f"round{round_}-{w}.log" for w in range(WRITERS)]
            pids = [
                zygote.start(location, round_ * WRITERS + w, log)
                for w, (zygote, log) in enumerate(zip(zygotes, logs, strict=True))
            ]
            if rng.random() < 0.15:
                time.sleep(rng.uniform(0, 0.05))  # still opening and restoring
            else:
                for log in logs:
                    wait_ready(log, time.monotonic() + 20)
                time.sleep(rng.uniform(0, 0.25))
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                kills += 1
                time.sleep(rng.uniform(0, 0.01))
            for zygote in zygotes:
                zygote.reaped()

            answered, highest = 0, version
            for log in logs:
                lines = read_log(log)
                for line in lines:
                    if line[0] == "READY":
                        assert line[1] >= version, (line, version)
                    elif line[0] == "A":
                        assert line[1] < 500, line
                        answered += 1
                        highest = max(highest, line[2])
            check_sqlite(location)
            got_version, _, audited = stored(location)
            assert audited == list(range(1, got_version + 1))
            assert got_version >= highest, (got_version, highest)
            answered_total += answered
            version = got_version
    finally:
        for zygote in zygotes:
            zygote.close()
    record(
        "SIGKILL loop, sqlite store, 2 concurrent writers",
        f"{kills} kills, {answered_total} change requests answered, {version} versions kept, "
        f"0 lost, 0 half-written, {time.monotonic() - started:.1f} s",
    )
    assert answered_total > ROUNDS, "too few changes to mean anything"


pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the zygote forks")
