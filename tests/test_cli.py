"""The ``omeapi`` command as a newcomer meets it: flags in any order, bad values refused with
a message and no traceback, help in plain text, a start-up banner that says where to go.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, stop, wait_for
from test_serve import ENV, TOKEN, server_xml

from omeapi.cli import build_parser, main

pytest.importorskip("omeapi_werkzeug")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "Server.xml"
    path.write_text(server_xml(free_port(), None, tls=False))
    return path


# -- --console [PATH] never swallows the config file ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "console"),
    [
        (["serve", "--console", "F"], True),
        (["serve", "F", "--console"], True),
        (["serve", "--console", "F", "--workers", "1"], True),
        (["serve", "--console", "/ops", "F"], "/ops"),
        (["serve", "F", "--console", "/ops"], "/ops"),
        (["serve", "--console=/ops", "F"], "/ops"),
        (["serve", "--console", "--workers", "1", "F"], True),
        (["serve", "F"], None),
    ],
)
def test_console_before_or_after_the_file(argv: list[str], console: object) -> None:
    args = build_parser().parse_args(argv)
    assert (args.file, args.console) == ("F", console)


def test_console_before_an_absolute_config_path() -> None:
    args = build_parser().parse_args(["serve", "--console", "/etc/ome/Server.xml"])
    assert (args.file, args.console) == ("/etc/ome/Server.xml", True)


def test_a_bad_console_path_is_named_as_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "F", "--console", "/a/b"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --console" in err and "'/a/b'" in err and "<input>" not in err


# -- ports, stores: refused with a message, never a traceback, never a password ----------------


@pytest.mark.parametrize("value", ["99999", "0", "-1", "http"])
@pytest.mark.parametrize("flag", ["--port", "--tls-port"])
def test_a_port_out_of_range_is_refused(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "F", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and value in err and "Traceback" not in err


def test_a_store_url_is_shown_without_its_password(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://user:s3cret-pw@127.0.0.1:1/omeapi"
    assert main(["serve", str(config), "--workers", "1", "--store", url]) == 1
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err
    assert "cannot open the store postgresql://user@127.0.0.1:1/omeapi" in err
    assert "<Storage>" not in err  # the flag named it, not the config


# -- help --------------------------------------------------------------------------------------


def test_help_is_plain_text_and_names_the_default_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["--help"], ["serve", "--help"], ["audit", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = " ".join(capsys.readouterr().out.split())  # as if not wrapped
        assert "``" not in out and ":func:" not in out
        if argv != ["--help"]:
            assert "default: Server.xml" in out


# -- the banner ----------------------------------------------------------------------------------


class Recorder(io.StringIO):
    """A stderr that keeps each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "file": "/srv/Server.xml",
        "address": "0.0.0.0",
        "port": 8081,
        "tls": None,
        "workers": 2,
        "store": "postgresql://api:pw@db/omeapi",
        "options": {"console": True},
        **changes,
    }


def test_the_banner_is_whole_lines_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    from omeapi_werkzeug import serve

    recorder = Recorder()
    monkeypatch.setattr(sys, "stderr", recorder)
    monkeypatch.setattr(serve, "_serve_granian", lambda spec: 0)
    assert serve._serve_one("granian", spec()) == 0
    # Two listeners print at once from two processes: each write must be whole lines.
    assert recorder.writes and all(w.endswith("\n") for w in recorder.writes)
    assert len(recorder.writes) == 1
    lines = recorder.getvalue().splitlines()
    assert lines == [
        "omeapi: serving /srv/Server.xml on http://0.0.0.0:8081 with granian, 2 workers, "
        "store postgresql://api@db/omeapi",
        "omeapi: the access token is <Managers><API><AccessToken> of /srv/Server.xml; "
        "clients send it as 'Authorization: Basic base64(token)'",
        "omeapi: console at http://localhost:8081/console/ (log in with the access token)",
    ]


def test_the_banner_names_a_console_path_of_ones_own() -> None:
    from omeapi_werkzeug.logs import banner

    lines = banner("gunicorn", spec(address="::1", tls=("c", "k", None), options={}))
    assert not any("console" in line for line in lines)
    lines = banner(
        "gunicorn", spec(address="::1", tls=("c", "k", None), options={"console": "/ops"})
    )
    assert lines[-1].startswith("omeapi: console at https://[::1]:8081/ops/ ")


def test_granian_starts_without_alarming_lines(config: Path) -> None:
    """granian's warning about the thread pool serve chose, and its note that WSGI has no
    websockets, are left out; its own start-up lines still print."""
    pytest.importorskip("granian")
    port = int(config.read_text().split("<Port>")[1].split("<")[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "omeapi.cli", "serve", "--console", str(config), "--workers", "1"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(port, proc)
    finally:
        stop(proc)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    assert "console at http://127.0.0.1:" in out and "Listening at" in out
    assert "seems quite high" not in out and "Websockets" not in out
    assert TOKEN not in out
