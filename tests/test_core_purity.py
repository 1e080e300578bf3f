"""The core stays pure: no module under ``omeapi/`` pulls in Werkzeug or an adapter.

Each import runs in a fresh interpreter so that nothing another test imported can hide (or
fake) a dependency.
"""

from __future__ import annotations

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


def imported_after(module: str) -> list[str]:
    """The names in ``sys.modules`` after importing ``module`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
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
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return names


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
