"""The core stays pure: no module under ``omeapi/`` pulls in Werkzeug or an adapter.

Each import runs in a fresh interpreter so that nothing another test imported can hide (or
fake) a dependency.  Where the platform can fork, one interpreter does them all, as a tree
of forks: it imports only what the harness needs (as a one-module interpreter did), then a
child imports ``omeapi``, and from that state a child per subpackage or module imports it,
and so on down.  Importing ``a.b.c`` in a fresh interpreter imports ``a``, then ``a.b``,
then ``a.b.c``, exactly the steps from the root to that child, so each child's
``sys.modules`` is the one a fresh interpreter would have after importing its module alone
(a forbidden import by any single module shows), while the shared steps are done once.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "omeapi"

#: Top-level packages the core must never import: the WSGI toolkit and every adapter.
FORBIDDEN = ("werkzeug", "omeapi_werkzeug", "adapters")

#: Servers and WSGI plumbing: not even a bare ``import omeapi`` may load them.
SERVERS = ("gunicorn", "granian", "wsgiref", "http.server", "socketserver")


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


#: The harness of the fork tree.  stdin: JSON ``{module: [its submodules]}`` with the roots
#: under ``""``.  Each child imports its module, prints one JSON line ``[module, names]``
#: (names: ``sys.modules``, or the traceback text of a failed import), then forks its
#: submodules' children one after the other.  The top imports nothing past ``importlib``,
#: ``json``, ``os`` and ``sys``: what a one-module interpreter had loaded too.
_FORKING_HARNESS = """\
import importlib, json, os, sys
tree = json.loads(sys.stdin.read())

def say(module, names):
    line = (json.dumps([module, names]) + "\\n").encode()
    while line:
        line = line[os.write(1, line):]

def below(module):
    for child in tree.get(module, ()):
        yield child
        yield from below(child)

def visit(module):
    try:
        importlib.import_module(module)
    except BaseException:
        import traceback
        failure = traceback.format_exc()
        for failed in (module, *below(module)):
            say(failed, failure)
        return
    say(module, sorted(sys.modules))
    for child in tree.get(module, ()):
        fork(child)

def fork(module):
    pid = os.fork()
    if pid == 0:
        try:
            visit(module)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)

for root in tree[""]:
    fork(root)
"""


def _run_fresh(code: str) -> str:
    """The last line ``code`` prints in a fresh interpreter (fails on a non-zero exit)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@functools.cache
def _imported_by_each() -> dict[str, list[str] | str]:
    """``sys.modules`` after importing each core module on its own (the fork tree): a list
    of names, or the traceback text of a failed import."""
    modules = core_modules()
    tree: dict[str, list[str]] = {}
    for module in modules:
        parent = module.rpartition(".")[0]
        tree.setdefault(parent if parent in modules else "", []).append(module)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _FORKING_HARNESS],
        cwd=REPO,
        env=env,
        input=json.dumps(tree),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[str] | str] = {}
    for line in done.stdout.splitlines():
        module, names = json.loads(line)
        found[module] = names
    assert sorted(found) == sorted(modules), done.stderr
    return found


def imported_after(module: str) -> list[str]:
    """The names in ``sys.modules`` after importing ``module`` in a fresh interpreter."""
    if hasattr(os, "fork") and module in core_modules():
        names = _imported_by_each()[module]
        assert not isinstance(names, str), names  # the import failed: its traceback
        return names
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result: list[str] = json.loads(_run_fresh(code))
    return result


def offenders(names: list[str], roots: tuple[str, ...]) -> list[str]:
    return [
        n
        for n in names
        if any(n == r or n.startswith(r + ".") for r in roots) or n.startswith("omeapi_")
    ]


def test_the_core_has_modules() -> None:
    assert "omeapi" in core_modules()
    assert "omeapi._config.tree" in core_modules()


def test_import_omeapi_is_pure() -> None:
    names = imported_after("omeapi")
    assert offenders(names, FORBIDDEN + SERVERS) == []


@pytest.mark.parametrize("module", core_modules())
def test_core_module_imports_no_adapter(module: str) -> None:
    assert offenders(imported_after(module), FORBIDDEN) == []
