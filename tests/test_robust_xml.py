"""XML bombs, XXE and include loops, refused through ``omeapi check`` (the CLI, as a
subprocess) in well under a second of work each.

The time allowed is measured against a check of a valid file made the same way, so the
interpreter's start on a loaded machine is not counted against the refusal.  Each time is
the fastest of up to :data:`TRIES` checks (a case stops at its first one within the time
allowed): other tests running on the same cores (pytest-xdist) slow a check down now and
then, while a bomb, or a fetch that hangs, is slow every time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from robust_report import record

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}
#: Seconds of CPU a refusal may take beyond the check of a valid file: CPU, not the clock,
#: so that tests running beside it (pytest-xdist) cannot make a refusal look slow.
WITHIN = 1.0
#: Seconds of the clock a check may take at all: a parser that waited on the network (an
#: external entity) would spend little CPU and much time.
WALL = 10.0
#: Checks at most, of which the fastest counts.
TRIES = 3

VALID = """<?xml version="1.0"?>
<Server version="8">
  <Name>x</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>8081</Port></API></Managers></Bind>
  <Managers><API><AccessToken>t</AccessToken></API></Managers>
  <VirtualHosts><VirtualHost><Name>default</Name>{extra}</VirtualHost></VirtualHosts>
</Server>
"""

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Server [\n <!ENTITY l0 "lol">\n'
    + "".join(f' <!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<Server version="8"><Name>&l9;</Name></Server>\n'
)
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE Server [<!ENTITY a "'
    + "a" * 50_000
    + '">]>\n<Server version="8"><Name>'
    + "&a;" * 50_000
    + "</Name></Server>\n"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE Server [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    '<Server version="8"><Name>&x;</Name></Server>\n'
)
XXE_PARAMETER = (
    '<?xml version="1.0"?>\n<!DOCTYPE Server [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">'
    '%p;]>\n<Server version="8"/>\n'
)
EXTERNAL_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE Server SYSTEM "http://127.0.0.1:9/x.dtd">\n'
    '<Server version="8"/>\n'
)
VARIABLE_BOMB = VALID.format(extra="<Comment>" + "${env:HOME}" * 200_000 + "</Comment>")
DEEP = (
    '<?xml version="1.0"?>\n<Server version="8">' + "<a>" * 200_000 + "</a>" * 200_000 + "</Server>"
)


def check(path: Path) -> tuple[int, str, float]:
    """Exit status, output and the CPU seconds (user + system) of ``omeapi check path``;
    a check that takes longer than :data:`WALL` on the clock fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "omeapi.cli", "check", str(path)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert took < WALL, f"omeapi check {path} took {took:.1f} s"
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.returncode, done.stdout + done.stderr, cpu


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> float:
    path = tmp_path_factory.mktemp("valid") / "Server.xml"
    path.write_text(VALID.format(extra=""))
    fastest = float("inf")
    for _ in range(TRIES):
        code, out, elapsed = check(path)
        assert code == 0, out
        fastest = min(fastest, elapsed)
    return fastest


def write_loop(directory: Path) -> Path:
    (directory / "a.xml").write_text('<VirtualHost include="b.xml"/>')
    (directory / "b.xml").write_text('<VirtualHost include="a.xml"/>')
    main = directory / "Server.xml"
    main.write_text(
        VALID.replace(
            "<VirtualHosts><VirtualHost>",
            '<VirtualHosts><VirtualHost include="a.xml"/><VirtualHost>',
        ).format(extra="")
    )
    return main


def write_self_include(directory: Path) -> Path:
    (directory / "self.xml").write_text('<VirtualHost include="self.xml"/>')
    main = directory / "Server.xml"
    main.write_text(
        VALID.replace("<VirtualHosts>", '<VirtualHosts><VirtualHost include="self.xml"/>').format(
            extra=""
        )
    )
    return main


CASES = {
    "billion laughs": LAUGHS,
    "quadratic blowup": QUADRATIC,
    "XXE (file)": XXE,
    "XXE (parameter entity)": XXE_PARAMETER,
    "external DTD": EXTERNAL_DTD,
    "variable expansion bomb": VARIABLE_BOMB,
    "200,000 nested elements": DEEP,
    "include loop": write_loop,
    "a file including itself": write_self_include,
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_config_is_refused_quickly_by_omeapi_check(
    name: str, tmp_path: Path, baseline: float
) -> None:
    case = CASES[name]
    if isinstance(case, str):
        path = tmp_path / "Server.xml"
        path.write_text(case)
    else:
        path = case(tmp_path)
    times: list[float] = []
    while len(times) < TRIES:
        code, out, took = check(path)
        times.append(took)
        elapsed = min(times)
        wrong = code == 0 or "Traceback" in out or "root:" in out or not out.strip()
        if wrong or elapsed - baseline < WITHIN:
            break  # a wrong answer is reported as it is; a right one within the time allowed
    record(
        f"omeapi check, {name}",
        f"exit {code} in {elapsed:.2f} s CPU (valid file {baseline:.2f} s, {len(times)} checks)",
    )
    assert code != 0, out
    assert "Traceback" not in out, out
    assert "root:" not in out  # /etc/passwd never shows through
    assert out.strip(), "refused without saying why"
    assert elapsed - baseline < WITHIN, (elapsed, baseline, out[:500])
