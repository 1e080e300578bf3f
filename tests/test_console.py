"""The web console's files (docs/console.md): which paths it answers, with what, and where
it sits in the handler's order (after the Host check, before authentication).

The page itself is exercised in a real browser by ``test_console_browser.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import AUTH, make_api
from hypothesis import given
from hypothesis import strategies as st

from omeapi import Api, ApiRequest, ConfigError, open_api
from omeapi._console import CONSOLE_PATH, Console
from omeapi_werkzeug import create_app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "Server.xml"
STATIC = Path(__file__).resolve().parent.parent / "omeapi" / "_console" / "static"


@pytest.fixture
def api() -> Iterator[Api]:
    made = make_api(console=True)
    yield made
    made.close()


def get(
    api: Api, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    response = api.handle(ApiRequest.build(method, path, {"host": "localhost", **headers}))
    return response.status, {k.lower(): v for k, v in response.headers}, response.body


# --- the module: path → (status, content type, bytes) -------------------------------------

LOOKUPS = [
    ("/console", 301, "text/plain; charset=utf-8"),
    ("/console/", 200, "text/html; charset=utf-8"),
    ("/console/console.js", 200, "text/javascript; charset=utf-8"),
    ("/console/console.css", 200, "text/css; charset=utf-8"),
    ("/console/favicon.svg", 200, "image/svg+xml"),
    ("/console/index.html", 404, "text/plain; charset=utf-8"),  # the page is only at /
    ("/console/missing.js", 404, "text/plain; charset=utf-8"),
    ("/console/a/b", 404, "text/plain; charset=utf-8"),
    ("/console/../v1/vhosts", 404, "text/plain; charset=utf-8"),
]


@pytest.mark.parametrize(("path", "status", "content_type"), LOOKUPS)
def test_lookup(path: str, status: int, content_type: str) -> None:
    asset = Console().lookup(path)
    assert asset is not None
    assert (asset.status, asset.content_type) == (status, content_type)


def test_assets_are_the_files() -> None:
    console = Console()
    for name, file in [("", "index.html"), ("console.js", "console.js")]:
        asset = console.lookup(f"/console/{name}")
        assert asset is not None
        assert asset.body == (STATIC / file).read_bytes()


def test_redirect_is_relative() -> None:
    # Relative, so that it is right wherever the app is mounted (SCRIPT_NAME).
    asset = Console("/ui").lookup("/ui")
    assert asset is not None and asset.location == "ui/"


@pytest.mark.parametrize(
    "path", ["/consoles", "/consol", "/", "", "/v1/vhosts", "/console.js", "/CONSOLE", "/x/console"]
)
def test_other_paths_are_not_the_consoles(path: str) -> None:
    assert Console().lookup(path) is None


def test_no_console_answers_nothing() -> None:
    console = Console(None)
    assert console.lookup("/console") is None
    assert console.lookup("/console/") is None


@pytest.mark.parametrize("path", ["console", "/", "/v1", "/a/b", "/console/", "/.", "/..", "/a b"])
def test_bad_console_paths_are_config_errors(path: str) -> None:
    with pytest.raises(ConfigError, match="one path segment"):
        Console(path)


@given(path=st.text())
def test_any_path_is_answered_or_left_alone(path: str) -> None:
    asset = Console().lookup(path)
    under = path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")
    assert (asset is not None) == under
    if asset is not None:
        assert asset.status in (200, 301, 404)


@given(segment=st.from_regex(r"/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,20}", fullmatch=True))
def test_any_segment_serves_the_page(segment: str) -> None:
    if segment == "/v1":
        return
    page = Console(segment).lookup(segment + "/")
    assert page is not None and page.status == 200


# --- the page refers to its own files only --------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("src", "href"):
            if values.get(key):
                self.links.append(str(values[key]))
        self._in_script = tag == "script"
        self.inline_styles += tag == "style" or "style" in values
        self.inline_scripts += any(key.startswith("on") for key in values)

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_page_links_resolve_to_console_assets() -> None:
    console = Console()
    parser = _Links()
    page = console.lookup("/console/")
    assert page is not None
    parser.feed(page.body.decode())
    assert parser.links  # a stylesheet, a script, an icon
    for link in parser.links:
        assert not re.match(r"[a-z]+:|/", link), link  # relative: no CDN, no absolute path
        asset = console.lookup(f"/console/{link}")
        assert asset is not None and asset.status == 200, link
    # The Content-Security-Policy allows no inline script or style.
    assert (parser.inline_scripts, parser.inline_styles) == (0, 0)


def test_script_uses_only_api_routes_and_no_audit_route() -> None:
    script = (STATIC / "console.js").read_text()
    assert "innerHTML" not in script  # names from the API are text, never markup
    assert "audit" not in script  # the API has no audit route: the page shows a note
    note = (STATIC / "index.html").read_text()
    assert "omeapi audit" in note


# --- in the handler: after the Host check, before authentication ---------------------------


def test_console_is_public(api: Api) -> None:
    status, headers, body = get(api, "/console/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(body))
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert b"<title>omeapi console</title>" in body


def test_redirect_to_the_slash(api: Api) -> None:
    status, headers, body = get(api, "/console")
    assert (status, headers["location"], body) == (301, "console/", b"")


def test_head_has_the_length_and_no_body(api: Api) -> None:
    _, _, full = get(api, "/console/console.js")
    status, headers, body = get(api, "/console/console.js", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(full))


def test_unknown_asset_is_a_plain_404(api: Api) -> None:
    status, headers, body = get(api, "/console/nope")
    assert (status, headers["content-type"], body) == (
        404,
        "text/plain; charset=utf-8",
        b"Not found\n",
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_go_through_the_api(api: Api, method: str) -> None:
    status, _, body = get(api, "/console/", method)
    assert status == 401
    assert (
        json.loads(body)["message"] == "[HTTP] Authorization header is required to call API (401)"
    )
    status, _, body = get(api, "/console/", method, authorization=AUTH)
    assert status == 404
    assert json.loads(body)["message"] == "[HTTP] Controller not found (404)"


def test_options_is_unchanged(api: Api) -> None:
    assert get(api, "/console/", "OPTIONS")[0] == 204


def test_api_still_needs_the_token(api: Api) -> None:
    assert get(api, "/v1/vhosts")[0] == 401
    assert get(api, "/v1/vhosts", authorization=AUTH)[0] == 200


def test_host_check_still_applies() -> None:
    api = open_api(EXAMPLE, console=True, environ={})
    try:
        ok = api.handle(ApiRequest.build("GET", "/console/", {"host": "127.0.0.1:8081"}))
        assert ok.status == 200
        bad = api.handle(ApiRequest.build("GET", "/console/", {"host": "evil.example:8081"}))
        assert bad.status != 200
        assert json.loads(bad.body)["statusCode"] == bad.status
    finally:
        api.close()


def test_off_by_default() -> None:
    api = make_api()
    try:
        assert get(api, "/console/")[0] == 401
        assert get(api, "/console/", authorization=AUTH)[0] == 404
    finally:
        api.close()


def test_a_path_of_ones_own() -> None:
    api = make_api(console="/ui")
    try:
        assert get(api, "/ui/")[0] == 200
        assert get(api, "/console/")[0] == 401
    finally:
        api.close()


def test_a_bad_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="one path segment"):
        make_api(console="/v1")


def test_through_the_wsgi_adapter() -> None:
    from werkzeug.test import Client

    app = create_app(EXAMPLE, console=True)
    try:
        client = Client(app)
        response = client.get("/console/console.css", headers={"Host": "localhost"})
        assert response.status_code == 200
        assert response.content_type == "text/css; charset=utf-8"
        assert response.data == (STATIC / "console.css").read_bytes()
        # Mounted under a prefix, the page still finds its files and the API next to it.
        response = client.get(
            "/console", headers={"Host": "localhost"}, environ_overrides={"SCRIPT_NAME": "/ome"}
        )
        assert (response.status_code, response.headers["Location"]) == (301, "console/")
    finally:
        app.api.close()
