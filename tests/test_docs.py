"""The documentation's examples are true: type-checked with ``mypy --strict`` and run.

Every ```python block of README.md and docs/*.md is part of its page's program, the blocks
in page order; a block right after a ``<!-- not run -->`` line is a fragment (a signature,
or code for a server that is not here) and is left out.  A block of ``>>>`` lines is run as
a doctest.  Each program runs in a fresh interpreter, with a timeout, from a directory
holding a copy of ``examples/Server.xml`` (as ``Server.xml`` and as itself); the programs
use the in-process API, except docs/embedding.md's last section, which serves its engine to
``omeapi serve`` on a private socket and 127.0.0.1.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omeapi import MediaEngine, open_api
from omeapi._routes import ROUTES
from omeapi._wire.request import ApiRequest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "<!-- not run -->"
BLOCK = re.compile(r"^(?P<mark><!-- not run -->\n)?```python\n(?P<code>.*?)^```", re.S | re.M)
TIMEOUT = 120


def _blocks(page: Path) -> list[tuple[bool, str]]:
    """(runs, code) for every python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(m["mark"] is None, m["code"]) for m in BLOCK.finditer(text)]


def _program(page: Path) -> str:
    code = [c for runs, c in _blocks(page) if runs and not c.lstrip().startswith(">>>")]
    # `from __future__` must come first: hoist it from whichever block has it.
    future = "from __future__ import annotations\n"
    joined = "\n\n".join(c.replace(future, "") for c in code)
    return future + joined if code else ""


RUN_PAGES = [p for p in PAGES if _program(p)]
DOCTEST_PAGES = [p for p in PAGES if any(r and c.lstrip().startswith(">>>") for r, c in _blocks(p))]


def _module_name(page: Path) -> str:
    return "doc_" + page.stem.lower().replace("-", "_")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs, one file per page, next to a copy of the example Server.xml."""
    where = tmp_path_factory.mktemp("docs")
    shutil.copy(ROOT / "examples" / "Server.xml", where / "Server.xml")
    (where / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "Server.xml", where / "examples" / "Server.xml")
    for page in RUN_PAGES:
        (where / f"{_module_name(page)}.py").write_text(_program(page), encoding="utf-8")
    return where


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEAPI_")}
    paths = [str(ROOT), str(ROOT / "adapters"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["MYPYPATH"] = os.pathsep.join(paths[:2])
    return env


def test_pages_have_examples_that_run() -> None:
    names = {p.name for p in RUN_PAGES}
    assert {"README.md", "embedding.md", "engine.md", "config.md"} <= names
    marked = sum(not runs for page in PAGES for runs, _ in _blocks(page))
    ran = sum(runs for page in PAGES for runs, _ in _blocks(page))
    assert marked < ran  # fragments stay the exception


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_import_only_the_public_face(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"\bomeapi\._\w+", text), "docs import from `omeapi`, not `omeapi._…`"
    assert "Api(config" not in text and "Api.from_file" not in text


def test_docs_examples_pass_mypy_strict(workdir: Path) -> None:
    files = sorted(str(f) for f in workdir.glob("doc_*.py"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(ROOT / ".mypy_cache"), *files],
        cwd=workdir, env=_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: p.name)
def test_docs_examples_run(page: Path, workdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, f"{_module_name(page)}.py"],
        cwd=workdir, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("page", DOCTEST_PAGES, ids=lambda p: p.name)
def test_docs_doctests(page: Path) -> None:
    examples = "\n".join(c for r, c in _blocks(page) if r and c.lstrip().startswith(">>>"))
    test = doctest.DocTestParser().get_doctest(examples, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def _exec(page: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(workdir)
    namespace: dict[str, Any] = {"__name__": _module_name(page)}
    exec(compile(_program(page), str(page), "exec"), namespace)
    return namespace


# -- docs/embedding.md: the example engine answers no 5xx on any route ------------------------

_VALUES = {"vhost": "studio", "app": "live", "stream": "s", "profile": "passthrough"}
_BODIES = [
    b"",
    b"{}",
    b"[]",
    b'{"id": "j", "stream": {"name": "s"}, "protocol": "rtmp", "url": "rtmp://h/a"}',
    b'{"name": "s", "urls": ["rtsp://origin.example.com/app/s"]}',
    b'{"outputStream": {"name": "m"}, "sourceStreams": [{"name": "a", "url": "stream://x"}]}',
]


def _path(pattern: str) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: _VALUES[m[1]], pattern)
    return path.replace("\\", "")


def test_embedding_engine_answers_no_5xx(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = ROOT / "docs" / "embedding.md"
    namespace = _exec(page, workdir, monkeypatch)
    assert isinstance(namespace["MyEngine"](namespace["MyServer"]()), MediaEngine)
    api = open_api("Server.xml", engine=namespace["MyEngine"](namespace["MyServer"]()))
    auth = {"host": "localhost", "authorization": "Basic Y2hhbmdlLW1l"}
    # Deletions last, so that the other routes meet the vhost and app still there.
    routes = sorted(ROUTES, key=lambda r: "DELETE" in r.methods)
    answered = 0
    try:
        for route in routes:
            for method in sorted(route.methods):
                for body in _BODIES if route.body else [b""]:
                    request = ApiRequest.build(method, _path(route.pattern), auth, body)
                    response = api.handle(request)
                    assert response.status < 500, (method, request.path, body, response.body)
                    json.loads(response.body)  # OME's envelope, always
                    answered += 1
    finally:
        api.close()
    assert answered > len(ROUTES)


# -- docs/engine.md's example host runs as documented -----------------------------------------


def test_engine_doc_example_prints_its_story(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = _exec(ROOT / "docs" / "engine.md", workdir, monkeypatch)
    assert isinstance(namespace["api"].engine, MediaEngine)  # every method is there
    printed = capsys.readouterr().out
    assert "  event: studio/live hot_apply\n" in printed
    assert "  event: studio/live rollback\n" in printed
    assert "PATCH /v1/vhosts/studio/apps/live 500 " in printed
