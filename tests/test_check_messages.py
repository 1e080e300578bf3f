"""``omeapi check`` on broken configs: OME's text, plus what it leaves out and a person needs
(which variable is unset, whether the token is missing or empty, why a codec is asked for,
a line and column), and an ``<IP>`` no server could bind refused.  The API's answers keep
OME's text alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from omeapi import ConfigError, application_from_json
from omeapi.cli import main

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "Server.xml").read_text()


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "Server.xml"
    path.write_text(text)
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, out
    return err.strip().removeprefix(f"{path}:")


def edited(old: str, new: str) -> str:
    assert old in EXAMPLE
    return EXAMPLE.replace(old, new, 1)


def test_an_unset_variable_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_PORT", raising=False)
    text = edited("${env:OMEAPI_PORT:8081}", "${env:NOPE_PORT}")
    assert check(tmp_path, text, capsys) == (
        "16: Invalid port:  (${env:NOPE_PORT} is empty or not set)"
    )


def test_a_missing_token_is_not_called_empty_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edited("<AccessToken>${env:OMEAPI_TOKEN:change-me}</AccessToken>", "")
    assert check(tmp_path, text, capsys) == (
        "40: Empty <AccessToken> is not allowed (<API> has no <AccessToken>)"
    )


def test_a_bypass_that_is_not_a_boolean_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edited("<Bypass>true</Bypass>", "<Bypass>maybe</Bypass>")
    assert check(tmp_path, text, capsys) == (
        "66: Codec must be specified when bypass is false "
        "(Bypass 'maybe' is neither true nor false, and reads as false)"
    )


def test_malformed_xml_gives_a_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edited("<Name>studio</Name>", "<Name>studio</Name")
    err = check(tmp_path, text, capsys)
    assert err.startswith("52: Could not read the file: ")
    assert "offset: " in err  # OME's text, kept
    assert err.endswith("(line 52, column 4)")


@pytest.mark.parametrize("address", ["127.0.0.300", "1.2.3", "a b", "::g"])
def test_an_address_no_server_could_bind_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    text = edited("<IP>127.0.0.1</IP>", f"<IP>{address}</IP>")
    assert check(tmp_path, text, capsys) == f"11: Invalid IP address: {address}"


@pytest.mark.parametrize("address", ["*", "::", "0.0.0.0", "[::1]", "localhost", "api.example"])
def test_addresses_and_host_names_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    path = tmp_path / "Server.xml"
    path.write_text(edited("<IP>127.0.0.1</IP>", f"<IP>{address}</IP>"))
    assert main(["check", str(path)]) == 0


def test_the_api_answers_omes_text_alone() -> None:
    body = {
        "name": "app",
        "type": "live",
        "outputProfiles": {
            "outputProfile": [
                {
                    "name": "p",
                    "outputStreamName": "s",
                    "encodes": {"videos": [{"name": "v", "bypass": "maybe"}]},
                }
            ]
        },
    }
    with pytest.raises(ConfigError) as caught:
        application_from_json(body)
    assert caught.value.message == "[Config] Codec must be specified when bypass is false"
    assert caught.value.hint  # shown by located() only
