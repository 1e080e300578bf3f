"""The omeapi extensions through a real ``omeapi serve`` with several workers (and the
engine host): scoped tokens, ETag / If-Match, the event feed and sessions.

Real servers on 127.0.0.1 on free ports, in their own process group, stopped at the end of
each test.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, stop, wait_for
from test_serve import ENV

from omeapi.cli import main

TOKEN = "ext-token"


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


ADMIN = basic(TOKEN)


def config(directory: Path, port: int) -> Path:
    path = directory / "Server.xml"
    path.write_text(
        f"""<?xml version="1.0"?>
<Server version="8">
  <Name>ext-test</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>{port}</Port></API></Managers></Bind>
  <Managers><API><AccessToken>{TOKEN}</AccessToken></API></Managers>
  <VirtualHosts><VirtualHost><Name>default</Name>
    <Applications><Application><Name>app</Name><Type>live</Type></Application></Applications>
  </VirtualHost></VirtualHosts>
</Server>
"""
    )
    return path


class Served:
    def __init__(self, port: int, store: str) -> None:
        self.port = port
        self.store = store

    def call(
        self, method: str, path: str, body: object = None, auth: str = ADMIN, **headers: str
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode()
            sent = {"Authorization": auth, **{k.replace("_", "-"): v for k, v in headers.items()}}
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                json.loads(raw) if raw else None,
            )
        finally:
            conn.close()

    def cli(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main([*args, "--store", self.store])
        return code, out.getvalue().strip()

    def token(self, *args: str) -> str:
        code, secret = self.cli("token", "add", *args)
        assert code == 0
        return secret


def serve(directory: Path, server: str, workers: int) -> tuple[subprocess.Popen[bytes], Served]:
    port = free_port()
    store = str(directory / "store.sqlite3")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omeapi.cli",
            "serve",
            str(config(directory, port)),
            "--address",
            "127.0.0.1",
            "--server",
            server,
            "--workers",
            str(workers),
            "--store",
            store,
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(port, proc)
    return proc, Served(port, store)


@pytest.fixture(params=[("granian", 3)], ids=lambda p: f"{p[0]}-{p[1]}")
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    proc, api = serve(tmp_path, *request.param)
    try:
        yield api
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)


# -- scoped tokens ------------------------------------------------------------------------


def test_scoped_tokens(served: Served) -> None:
    monitor = basic(served.token("monitor", "--read-only"))
    ops = basic(served.token("ops", "--vhost", "v2"))
    status, _, _ = served.call("POST", "/v1/vhosts", [{"name": "v2"}])
    assert status == 200
    # A read-only token reads stats (the monitoring case) and config, and changes nothing.
    for _ in range(6):  # several connections: several workers
        assert served.call("GET", "/v1/stats/current", auth=monitor)[0] == 200
    assert served.call("GET", "/v1/vhosts/default/apps/app", auth=monitor)[0] == 200
    status, _, body = served.call(
        "POST", "/v1/vhosts/v2/apps", [{"name": "a", "type": "live"}], auth=monitor
    )
    assert status == 403
    assert body["message"] == "[HTTP] The access token is read-only: [monitor] (403)"
    # A vhost-limited token works in its vhost, and nowhere else.
    status, _, body = served.call(
        "POST", "/v1/vhosts/v2/apps", [{"name": "a", "type": "live"}], auth=ops
    )
    assert status == 200, body
    assert served.call("GET", "/v1/vhosts/default", auth=ops)[0] == 403
    status, _, body = served.call("GET", "/v1/stats/current", auth=ops)
    assert status == 403 and "limited to some virtual hosts" in body["message"]
    # The audit log names who made each change.
    code, log = served.cli("audit", "--json")
    assert code == 0
    by = [json.loads(line)["summary"].get("by") for line in log.splitlines()]
    assert by == ["admin", "ops"]
    # Listed without secrets; revoked, refused at the next request of every worker.
    code, listing = served.cli("token", "list")
    assert code == 0 and "monitor" in listing and "omeapi_" not in listing
    assert served.cli("token", "revoke", "monitor")[0] == 0
    for _ in range(6):
        status, _, body = served.call("GET", "/v1/stats/current", auth=monitor)
        assert status == 401 and body["message"] == "[HTTP] Invalid credential (401)"
    assert served.call("GET", "/v1/vhosts/v2", auth=ops)[0] == 200


# -- ETag / If-Match -----------------------------------------------------------------------


def test_etag_and_if_match(served: Served) -> None:
    assert served.call("POST", "/v1/vhosts", [{"name": "v3"}])[0] == 200
    app = "/v1/vhosts/v3/apps/a"
    assert served.call("POST", "/v1/vhosts/v3/apps", [{"name": "a", "type": "live"}])[0] == 200
    status, headers, _ = served.call("GET", app)
    assert status == 200
    first = headers["etag"]
    # Two admins read the same version; the first PATCH wins, the second gets 412.
    status, headers, body = served.call("PATCH", app, {"decodes": {}}, If_Match=first)
    assert status == 200, body
    second = headers["etag"]
    assert second != first
    status, _, body = served.call("PATCH", app, {"providers": {}}, If_Match=first)
    assert status == 412
    assert body["message"].startswith("[HTTP] The resource has changed")
    assert served.call("GET", app)[1]["etag"] == second  # nothing changed
    assert served.call("DELETE", app, If_Match=first)[0] == 412
    # Without If-Match, as before; "*" matches whatever exists.
    assert served.call("PATCH", app, {"providers": {}})[0] == 200
    profile = app + "/outputProfiles/default"
    tag = served.call("GET", profile)[1]["etag"]
    assert served.call("DELETE", profile, If_Match='"stale"')[0] == 412
    assert served.call("DELETE", profile, If_Match=tag)[0] == 200
    vhost_tag = served.call("GET", "/v1/vhosts/v3")[1]["etag"]
    assert served.call("DELETE", "/v1/vhosts/v3", If_Match='"x"')[0] == 412
    assert served.call("DELETE", "/v1/vhosts/v3", If_Match=vhost_tag)[0] == 200
    assert served.call("DELETE", "/v1/vhosts/v3", If_Match="*")[0] == 404


# -- the event feed ------------------------------------------------------------------------


class Feed:
    """A subscriber of ``/x-omeapi/v1/events`` read line by line."""

    def __init__(self, served: Served, auth: str = ADMIN, last_id: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
        headers = {"Authorization": auth}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        self.conn.request("GET", "/x-omeapi/v1/events", headers=headers)
        self.response = self.conn.getresponse()

    def next(self, kind: str) -> dict[str, Any]:
        """The next event of ``kind`` (others are skipped)."""
        event = ""
        while True:
            line = self.response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == kind:
                data: dict[str, Any] = json.loads(line[6:])
                return data

    def close(self) -> None:
        self.conn.close()


def test_event_feed(served: Served) -> None:
    monitor = basic(served.token("watch", "--read-only", "--vhost", "v4"))
    feeds = [Feed(served) for _ in range(3)]  # on several workers, most likely
    limited = Feed(served, monitor)
    try:
        assert feeds[0].response.status == 200
        assert feeds[0].response.getheader("content-type") == "text/event-stream"
        assert served.call("POST", "/v1/vhosts", [{"name": "v4"}])[0] == 200
        for feed in feeds:
            event = feed.next("config.changed")
            assert event["vhost"] == "v4" and event["data"]["method"] == "POST"
        assert served.call("POST", "/v1/vhosts", [{"name": "v5"}])[0] == 200
        created = {"name": "a", "type": "live"}
        assert served.call("POST", "/v1/vhosts/v4/apps", [created])[0] == 200
        assert served.call("PATCH", "/v1/vhosts/v4/apps/a", {"decodes": {}})[0] == 200
        restarted = feeds[1].next("app.restart")
        assert restarted["vhost"] == "v4" and restarted["data"]["app"] == "a"
        stream = {"name": "s", "urls": ["rtsp://127.0.0.1:1/x"]}
        status, _, _ = served.call("POST", "/v1/vhosts/v4/apps/a/streams", stream)
        if status == 201:
            assert feeds[2].next("stream.started")["data"]["name"] == "s"
        # A vhost-limited token sees its vhost's events only (v5's never came).
        seen = limited.next("config.changed")
        assert seen["vhost"] == "v4"
        assert limited.next("config.changed")["vhost"] == "v4"
        # Resume after an id: what came after it comes again.
        resumed = Feed(served, last_id=str(seen["id"]))
        try:
            assert resumed.next("config.changed")["id"] > seen["id"]
        finally:
            resumed.close()
    finally:
        for feed in [*feeds, limited]:
            feed.close()
    # A read-only token may subscribe; a bad one may not.
    status, _, _ = served.call("GET", "/x-omeapi/v1/events", auth=basic("nope"))
    assert status == 401


# -- sessions ------------------------------------------------------------------------------


def test_sessions(served: Served) -> None:
    base = "/x-omeapi/v1/vhosts/default/apps/app/streams"
    stream = {"name": "cam", "urls": ["rtsp://127.0.0.1:1/cam"]}
    assert served.call("POST", "/v1/vhosts/default/apps/app/streams", stream)[0] == 201
    # Every worker answers from the one engine (forwarded to the engine host).
    answers = [served.call("GET", f"{base}/cam/sessions") for _ in range(6)]
    assert {status for status, _, _ in answers} == {200}
    listed = {json.dumps(body["response"], sort_keys=True) for _, _, body in answers}
    ids = [[s["id"] for s in json.loads(one)] for one in listed]
    assert len({tuple(i) for i in ids}) == 1 and len(ids[0]) == 1
    session = json.loads(next(iter(listed)))[0]
    assert session["protocol"] == "rtsp" and session["remoteAddress"] == "127.0.0.1:1"
    # Listing reads, disconnecting writes.
    monitor = basic(served.token("eyes", "--read-only"))
    assert served.call("GET", f"{base}/cam/sessions", auth=monitor)[0] == 200
    status, _, body = served.call("DELETE", f"{base}/cam/sessions/{session['id']}", auth=monitor)
    assert status == 403 and "read-only" in body["message"]
    feed = Feed(served)
    try:
        status, _, body = served.call("DELETE", f"{base}/cam/sessions/{session['id']}")
        assert status == 200, body
        event = feed.next("session.disconnected")
        assert event["vhost"] == "default"
        assert event["data"]["stream"] == "cam" and event["data"]["id"] == session["id"]
    finally:
        feed.close()
    # The publisher's going ended the stream.
    status, _, body = served.call("GET", f"{base}/cam/sessions")
    assert status == 404 and "Could not find the stream" in body["message"]
    status, _, body = served.call("DELETE", f"{base}/cam/sessions/{session['id']}")
    assert status == 404


# -- the event feed under every server -----------------------------------------------------


def _threads(root: int) -> int:
    """Threads of the server's processes (``root`` and its descendants, found by parent)."""
    parents: dict[int, int] = {}
    threads: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            threads[int(entry.name)] = int(fields[17])
        except (OSError, ValueError, IndexError):
            continue
    family = {root}
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    assert len(family) > 1, "the server's worker processes are not found"
    return sum(threads.get(pid, 0) for pid in family)


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn", "hypercorn"])
def test_event_feed_under_every_server(server: str, tmp_path: Path) -> None:
    proc, served = serve(tmp_path, server, 3)
    try:
        before = _threads(proc.pid)
        feeds = [Feed(served) for _ in range(12)]  # spread over the workers
        try:
            assert {feed.response.status for feed in feeds} == {200}
            # Changes made through any worker reach every subscriber of every worker.
            for name in ("e1", "e2", "e3"):
                assert served.call("POST", "/v1/vhosts", [{"name": name}])[0] == 200
            for feed in feeds:
                got = [feed.next("config.changed")["vhost"] for _ in range(3)]
                assert got == ["e1", "e2", "e3"]
            if server != "gunicorn":  # ASGI: no thread held per subscriber
                grown = _threads(proc.pid) - before
                assert grown < len(feeds), (before, grown)
        finally:
            for feed in feeds:
                feed.close()
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)
