"""The web console in a real browser: headless Chromium against a real server on 127.0.0.1.

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-terminated JSON), so the test needs nothing beyond the browser.
It skips where no Chromium is installed (Debian: ``apt-get install chromium``; ``.ci/run``
installs it and sets ``OMEAPI_REQUIRE_CHROMIUM``, which turns the skip into a failure).
``OMEAPI_CHROMIUM`` names another binary; ``OMEAPI_CONSOLE_SCREENSHOT`` a PNG to write of
the logged-in page (docs/console.png is one).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from omeapi_werkzeug import create_app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "Server.xml"
TOKEN = "change-me"
AUTHORIZATION = "Basic " + base64.b64encode(TOKEN.encode()).decode()
TIMEOUT = 20.0


def chromium_binary() -> str | None:
    named = os.environ.get("OMEAPI_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary: str, profile: str) -> None:
        # Chromium reads commands on fd 3 and writes answers on fd 4.
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--disable-gpu",
            "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        self.proc = subprocess.Popen(
            args,
            # dup2 leaves fds 3 and 4 inheritable; close_fds would close them after the hook
            # (every other descriptor is non-inheritable and closes at exec anyway).
            preexec_fn=wire_fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self.session = ""
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        attached = self.command("Target.attachToTarget", targetId=target, flatten=True)
        self.session = attached["sessionId"]
        self.command("Page.enable")
        self.command("Runtime.enable")

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise AssertionError("Chromium closed its DevTools pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command (to the page once attached) and return its result."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == ident:  # events (no id) are not needed here
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.command(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, what: str) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {expression}")

    def navigate(self, url: str) -> None:
        self.command("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", f"{url} to load")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element ``selector`` matches.

        The page fills its panels in as answers arrive, which moves things: the click waits
        until the element is where it was a moment ago and is what is at that point.
        """
        where = f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el || el.offsetParent === null) return null;
            el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            return hit && (hit === el || el.contains(hit)) ? [x, y] : null;
        }})()"""
        deadline = time.monotonic() + TIMEOUT
        box = None
        while True:
            previous, box = box, self.evaluate(where)
            if box is not None and box == previous:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {selector} to hold still")
            time.sleep(0.1)
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.command(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    def type_into(self, selector: str, text: str) -> None:
        """Replace the text of an input or textarea as typing would."""
        self.wait(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return false;
                el.focus();
                el.select();
                return document.activeElement === el;
            }})()""",
            f"{selector} to take focus",
        )
        self.command("Input.insertText", text=text)

    def text(self, selector: str) -> str:
        value = self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"
        )
        return str(value)

    def screenshot(self, path: str) -> None:
        data = self.command("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.command("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("OMEAPI_REQUIRE_CHROMIUM"):
            pytest.fail("OMEAPI_REQUIRE_CHROMIUM is set but no Chromium is installed")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    opened = Browser(binary, profile)
    try:
        yield opened
    finally:
        opened.close()


class Recorder:
    """Wraps the WSGI app: the method, path and Authorization of every request."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.seen: list[tuple[str, str, str | None]] = []
        #: when each request came (monotonic seconds) and its path
        self.times: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self.seen.append(
                (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION"))
            )
            self.times.append((time.monotonic(), environ["PATH_INFO"]))
        return self.app(environ, start_response)

    def last(self, path: str) -> float:
        """When ``path`` was last asked for (0 if never)."""
        with self._lock:
            return max((when for when, seen in self.times if seen == path), default=0.0)

    def api_calls(self) -> list[tuple[str, str, str | None]]:
        with self._lock:
            return [entry for entry in self.seen if entry[1].startswith("/v1/")]


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(create_app(EXAMPLE, console=True))
    httpd = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        recorder.app.api.close()  # type: ignore[attr-defined]
        thread.join(timeout=10)


def api_get(base: str, path: str) -> Any:
    request = urllib.request.Request(base + path, headers={"Authorization": AUTHORIZATION})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["response"]


def test_log_in_browse_and_create_an_app(browser: Browser, server: tuple[str, Recorder]) -> None:
    base, recorder = server
    browser.navigate(base + "/console")
    # /console sends the browser on to /console/, where the page's relative links work.
    assert browser.evaluate("location.pathname") == "/console/"
    browser.wait("!document.getElementById('login').hidden", "the login form")
    assert recorder.api_calls() == []  # nothing is asked of the API before logging in

    # A wrong token: the API's own 401 message, and still the login form.
    browser.type_into("#token", "wrong")
    browser.click("#login-submit")
    browser.wait("document.getElementById('login-error').textContent", "the login error")
    assert browser.text("#login-error") == "[HTTP] Invalid credential (401)"
    assert browser.evaluate("sessionStorage.length") == 0

    browser.type_into("#token", TOKEN)
    browser.click("#login-submit")
    browser.wait("!document.getElementById('console').hidden", "the console")
    browser.wait("!!document.querySelector('#vhosts button[data-vhost=\"studio\"]')", "studio")
    assert "OME API 0.20.0" in browser.text("#server-version")
    assert browser.evaluate("sessionStorage.getItem('omeapi.console.token')") == TOKEN
    # Every API call carries the token as OME's clients send it: Basic base64(token).
    after_login = [auth for _, _, auth in recorder.api_calls()][1:]
    assert after_login and set(after_login) == {AUTHORIZATION}

    # The example vhost, its app, its live stats; the audit log is a note, not a route.
    browser.click('#vhosts button[data-vhost="studio"]')
    browser.wait("!!document.querySelector('#detail-title')", "the vhost panel")
    assert browser.text("#detail-title") == "Virtual host studio"
    browser.wait("!!document.querySelector('#live-stats .stat')", "the vhost's stats")
    browser.wait("document.getElementById('vhost-config').textContent.includes('\"names\"')", "c")
    browser.wait("!!document.querySelector('#vhosts button[data-app=\"live\"]')", "the live app")
    assert "omeapi audit" in browser.text("#audit-note")
    assert not any("audit" in path for _, path, _ in recorder.api_calls())

    # studio is declared in Server.xml: creating an app there shows the API's 403 message.
    browser.type_into("#app-create-json", '[{"name": "nope", "type": "live"}]')
    browser.click("#app-create-json-send")
    browser.wait("document.getElementById('message').className === 'error'", "the 403")
    assert browser.text("#message") == "[HTTP] The VirtualHost is read-only: [studio] (403)"

    # JSON that does not parse is refused in the page: nothing reaches the API.
    before = len(recorder.api_calls())
    browser.type_into("#app-create-json", '[{"name": "broken",}]')
    browser.click("#app-create-json-send")
    browser.wait(
        "document.getElementById('message').textContent.startsWith('Invalid JSON')", "refusal"
    )
    assert [c for c in recorder.api_calls()[before:] if c[0] != "GET"] == []

    # A new vhost, then an app in it: both appear in the tree and in the API.
    browser.click("#vhost-create summary")
    browser.type_into("#vhost-create-json", '[{"name": "show", "host": {"names": ["*"]}}]')
    browser.click("#vhost-create-send")
    browser.wait("!!document.querySelector('#vhosts button[data-vhost=\"show\"]')", "vhost show")
    browser.click('#vhosts button[data-vhost="show"]')
    browser.wait("document.getElementById('detail-title').textContent.endsWith('show')", "show")
    browser.wait(
        "document.getElementById('vhost-config').textContent.includes('show')", "show's config"
    )
    browser.type_into("#app-create-json", '[{"name": "stage", "type": "live"}]')
    browser.click("#app-create-json-send")
    browser.wait(
        '!!document.querySelector(\'#vhosts button[data-vhost="show"][data-app="stage"]\')',
        "the new app in the tree",
    )
    assert browser.text("#message") == "Create applications: 1 × OK"
    assert api_get(base, "/v1/vhosts/show/apps") == ["stage"]

    # The app's panel: its default output profile, and a stream with live stats.
    pulled = urllib.request.Request(
        base + "/v1/vhosts/show/apps/stage/streams",
        data=json.dumps({"name": "cam1", "urls": ["rtmp://127.0.0.1/app/cam1"]}).encode(),
        headers={"Authorization": AUTHORIZATION, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(pulled, timeout=10):
        pass
    browser.click('#vhosts button[data-vhost="show"][data-app="stage"]')
    browser.wait("!!document.querySelector('details.profile[data-profile=\"default\"]')", "profile")
    browser.wait("!!document.querySelector('#streams tr[data-stream=\"cam1\"]')", "stream cam1")
    assert "RtmpPull" in browser.text('#streams tr[data-stream="cam1"]')

    shot = os.environ.get("OMEAPI_CONSOLE_SCREENSHOT")
    if shot:
        browser.command(
            "Emulation.setDeviceMetricsOverride",
            width=1100,
            height=760,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.evaluate("window.scrollTo(0, 0)")
        browser.screenshot(shot)

    # A patch with a key the API refuses: its message, and the app is unchanged.
    browser.type_into("#app-patch-json", '{"name": "renamed"}')
    browser.click("#app-patch-json-send")
    browser.wait("document.getElementById('message').className === 'error'", "the 400")
    assert browser.text("#message") == "[HTTP] Cannot change [name] using this API (400)"

    # Deleting takes a second click; then the app is gone from the tree and the API.
    browser.click("#app-delete")
    assert api_get(base, "/v1/vhosts/show/apps") == ["stage"]
    browser.click("#app-delete")
    browser.wait(
        "!document.querySelector('#vhosts button[data-app=\"stage\"]')", "the app to go away"
    )
    assert api_get(base, "/v1/vhosts/show/apps") == []

    # Logging out forgets the token.
    browser.click("#logout")
    browser.wait("!document.getElementById('login').hidden", "the login form again")
    assert browser.evaluate("sessionStorage.length") == 0


def test_the_console_follows_the_event_feed(browser: Browser, server: tuple[str, Recorder]) -> None:
    """Logged in, the console reads the event feed and stops polling every 3 s; a change
    made elsewhere shows within moments, long before its next poll."""
    base, recorder = server
    browser.navigate(base + "/console/")
    browser.wait("!document.getElementById('login').hidden", "the login form")
    browser.type_into("#token", TOKEN)
    browser.click("#login-submit")
    browser.wait("!document.getElementById('console').hidden", "the console")
    end = time.monotonic() + TIMEOUT
    while recorder.last("/x-omeapi/v1/events") == 0.0:
        assert time.monotonic() < end, "the console never opened the event feed"
        time.sleep(0.05)
    # Polling slows down once the feed is there: 4 s without a tree refresh (every 3 s
    # without the feed).
    while time.monotonic() - recorder.last("/v1/vhosts") < 4.0:
        assert time.monotonic() < end + 10, "the console still polls every few seconds"
        time.sleep(0.1)
    request = urllib.request.Request(
        base + "/v1/vhosts",
        data=b'[{"name": "fed"}]',
        headers={"Authorization": AUTHORIZATION, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    changed = time.monotonic()
    browser.wait("!!document.querySelector('#vhosts button[data-vhost=\"fed\"]')", "fed")
    assert time.monotonic() - changed < 3.0
