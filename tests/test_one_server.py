"""One media engine per machine, whatever the number of workers: the same seeded sequence of
requests (``one_server_ops.operations``, every route family, invalid and duplicate requests
included) gets the same answers from ``omeapi serve --workers 1`` as from several workers
under granian and under the ASGI server.

Each request goes on a new connection, so the kernel spreads them over the workers: with one
simulated engine per worker, runtime state (streams, pushes, records, dumps, channels,
statistics) would depend on which worker answered, and the answers would differ.  A second
``--workers 1`` server (``workers1-control``) is compared with the reference as well: it must
agree on every answer, which shows the comparison is not flaky by construction.

What is compared is (status, normalised body) per request; ``one_server_ops.normalise`` says
what is normalised and why: timestamps, counters, throughputs and durations, a job's state
within its phase (started or stopping) and a record's output path once set, all of which move
with wall time, and the server's own address.  Nothing else: a push that exists on one server
and answers 404 on another, a list one item longer, an error text, all count as differences.

Servers are real (``python -m omeapi.cli serve``) on 127.0.0.1 on free ports, each in its own
process group with a fresh copy of the config directory, and stopped by a finalizer.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from one_server_ops import Op, normalise, operations, send, server_xml
from servers import free_port, stop, wait_for

from omeapi._simulated.jobs import JOB_RETENTION

pytest.importorskip("granian")  # the default server of ``omeapi serve``
pytest.importorskip("werkzeug")

#: The sequence: a fixed seed (a failure must reproduce), long enough to cross every route
#: family many times and short enough that four servers run it in seconds.
SEED = 20240611
COUNT = 300

ROOT = Path(__file__).resolve().parent.parent
#: This tree's code in the servers, whatever the environment installed.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]
    ),
}

Answer = tuple[int, Any]
Serve = Callable[[Sequence[str]], int]


@pytest.fixture(scope="module")
def ops() -> list[Op]:
    return operations(SEED, COUNT)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config every server starts from (each gets its own copy: channel files are
    written next to the Server.xml)."""
    directory = tmp_path_factory.mktemp("one-server-config")
    (directory / "Server.xml").write_text(server_xml())
    return directory


def _start(config_dir: Path, directory: Path, args: Sequence[str]) -> subprocess.Popen[bytes]:
    copy = directory / "config"
    shutil.copytree(config_dir, copy)
    with open(directory / "server.log", "wb") as log:  # a file: a full pipe would block it
        return subprocess.Popen(
            [sys.executable, "-m", "omeapi.cli", "serve", str(copy / "Server.xml"), *args],
            env=ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _when_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until a request is answered: workers may still be booting after the port opened."""
    wait_for(port, proc, timeout)
    end = time.monotonic() + timeout
    while True:
        try:
            if send(port, Op("ready", "GET", "/v1/version"))[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        assert proc.poll() is None, f"server exited: {proc.returncode}"
        assert time.monotonic() < end, "server never answered"
        time.sleep(0.1)


def _serve(
    request: pytest.FixtureRequest, config_dir: Path, directory: Path, args: Sequence[str]
) -> int:
    """Start ``omeapi serve … args`` on a free port, stopped when the requesting test or
    module ends; returns the port."""
    port = free_port()
    proc = _start(config_dir, directory, ["--address", "127.0.0.1", "--port", str(port), *args])
    request.addfinalizer(lambda: stop(proc))
    _when_ready(port, proc)
    return port


def _run(port: int, ops: Sequence[Op]) -> list[Answer]:
    server = f"127.0.0.1:{port}"
    answers: list[Answer] = []
    started = time.monotonic()
    for op in ops:
        status, body = send(port, op)
        answers.append((status, normalise(body, server)))
    # Stopped jobs are listed for JOB_RETENTION seconds, then vanish: a run that long would
    # compare lists that legitimately differ, so it is a failure of the test, not a finding.
    took = time.monotonic() - started
    assert took < JOB_RETENTION / 2, f"the sequence took {took:.0f} s: too slow to compare"
    return answers


@pytest.fixture(scope="module")
def reference(
    request: pytest.FixtureRequest,
    config_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[Op],
) -> list[Answer]:
    """The answers of one worker: one process, one engine, by construction."""
    port = _serve(request, config_dir, tmp_path_factory.mktemp("reference"), ["--workers", "1"])
    return _run(port, ops)


def _show(answer: Answer, limit: int = 400) -> str:
    text = json.dumps(answer[1], sort_keys=True)
    return f"{answer[0]} {text if len(text) <= limit else text[:limit] + '…'}"


def differences(
    ops: Sequence[Op], expected: list[Answer], got: list[Answer], shown: int = 5
) -> str:
    """An empty string when every answer agrees, else how many differ, by family, and the
    first ``shown`` with both answers."""
    differing = [i for i, pair in enumerate(zip(expected, got, strict=True)) if pair[0] != pair[1]]
    if not differing:
        return ""
    families = Counter(ops[i].family for i in differing)
    lines = [
        f"{len(differing)} of {len(ops)} answers differ "
        f"(by family: {', '.join(f'{k} {v}' for k, v in families.most_common())})"
    ]
    for i in differing[:shown]:
        lines += [
            f"#{i} {ops[i]}",
            f"    one worker: {_show(expected[i])}",
            f"    this one:   {_show(got[i])}",
        ]
    return "\n".join(lines)


SERVERS = {
    "workers1-control": ["--workers", "1"],
    "workers4": ["--workers", "4"],
    "uvicorn-workers2": ["--server", "uvicorn", "--workers", "2"],
}


@pytest.mark.parametrize("name", list(SERVERS))
def test_same_answers_as_one_worker(
    request: pytest.FixtureRequest,
    config_dir: Path,
    tmp_path: Path,
    ops: list[Op],
    reference: list[Answer],
    name: str,
) -> None:
    if "uvicorn" in SERVERS[name]:
        pytest.importorskip("uvicorn")
    port = _serve(request, config_dir, tmp_path, SERVERS[name])
    report = differences(ops, reference, _run(port, ops))
    if report:
        pytest.fail(report, pytrace=False)


def test_the_sequence_covers_every_route_family(ops: list[Op]) -> None:
    """The comparison means something only if the sequence reaches every family, with
    reads and changes both."""
    seen = Counter((op.family, op.method == "GET") for op in ops)
    families = {
        "vhost",
        "app",
        "profile",
        "stream",
        "action",
        "push",
        "record",
        "scheduled",
        "multiplex",
        "stats",
    }
    assert {family for family, _ in seen} == families
    for family in families - {"stats"}:
        assert seen[(family, False)] >= 3, family
    assert seen[("stats", True)] >= 10
    actions = {op.path.rpartition(":")[2] for op in ops if op.family == "action"}
    assert {
        "startHlsDump",
        "hlsDumps",
        "stopHlsDump",
        "sendEvent",
        "concludeHlsLive",
        "sendSubtitles",
    } <= actions
    assert operations(SEED, COUNT) == ops  # the same seed, the same sequence
