"""The README's curl steps, replayed through the API on the example config: a newcomer who
types them reaches a first write, and sees the answers the README shows."""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path

from omeapi import ApiRequest, open_api

ROOT = Path(__file__).resolve().parent.parent
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
TOKEN = "change-me"


def curl_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        line
        for block in SH_BLOCK.findall(text)
        for line in block.splitlines()
        if line.startswith("curl ")
    ]


def request(line: str) -> tuple[ApiRequest, str | None]:
    """The request a curl line makes (with the README's $AUTH), and the answer its
    ``# …`` comment shows (None: none shown)."""
    command, _, shown = line.partition("   # ")
    auth = "Basic " + base64.b64encode(TOKEN.encode()).decode()
    words = shlex.split(command.replace('"$AUTH"', shlex.quote(f"Authorization: {auth}")))
    method, body, headers, url = "GET", b"", {}, ""
    args = iter(words[1:])
    for word in args:
        if word == "-X":
            method = next(args)
        elif word == "-d":
            body = next(args).encode()
            method = method if method != "GET" else "POST"
        elif word == "-H":
            name, _, value = next(args).partition(": ")
            headers[name] = value
        elif not word.startswith("-"):
            url = word
    host, _, path = url.removeprefix("http://").partition("/")
    headers["Host"] = host
    return ApiRequest.build(method, "/" + path, headers, body), shown.strip() or None


def test_the_readme_reaches_a_first_write() -> None:
    lines = curl_lines()
    assert any(" -X POST " in line for line in lines), "the README shows no write"
    api = open_api(str(ROOT / "examples" / "Server.xml"), environ={})
    try:
        for line in lines:
            ask, shown = request(line)
            answer = api.handle(ask)
            assert answer.status == 200, (line, answer.body)
            if shown is not None:
                assert json.loads(answer.body) == json.loads(shown), line
    finally:
        api.close()
