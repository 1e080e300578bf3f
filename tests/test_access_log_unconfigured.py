"""``open_api(..., access_log=…)`` in a program that never configured logging: the lines
asked for reach stderr (Python's last resort would print warnings only); once logging
is configured they go through it, and only through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import logging, sys
from omeapi import ApiRequest, open_api
if sys.argv[1] == "configured":
    logging.basicConfig(level=logging.INFO, format="logged: %(message)s", stream=sys.stdout)
api = open_api("examples/Server.xml", access_log="text")
auth = {"Host": "localhost", "Authorization": "Basic Y2hhbmdlLW1l"}
assert api.handle(ApiRequest.build("GET", "/v1/vhosts", auth)).status == 200
api.close()
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_without_logging_configured_the_lines_reach_stderr() -> None:
    done = run("bare")
    assert done.stderr.startswith('- GET "/v1/vhosts" 200 ')
    assert done.stderr.endswith("us list_vhosts\n") and done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_with_logging_configured_they_go_through_it_only() -> None:
    done = run("configured")
    assert [line for line in done.stdout.splitlines() if "/v1/vhosts" in line] == [
        line for line in done.stdout.splitlines() if line.startswith("logged: - GET ")
    ]
    assert 'logged: - GET "/v1/vhosts" 200 ' in done.stdout
    assert "/v1/vhosts" not in done.stderr
