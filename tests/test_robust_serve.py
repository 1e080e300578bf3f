"""Hostile HTTP through a real ``omeapi serve`` under granian, on every documented route.

Hypothesis builds raw HTTP/1.1 requests for the paths of ``docs/openapi.yaml`` (path
parameters included) and makes them hostile: deep nesting, huge numbers, invalid UTF-8,
NULs, duplicate keys, huge bodies with and without ``Content-Length``, chunked bodies, odd
percent-encodings, repeated headers, bad Basic base64, methods in odd letter cases.  Each
goes on its own connection to 127.0.0.1.  Asserted for every one: an answer that is not
5xx (or the connection closed), within a few seconds, with no traceback text; over the
run, no traceback in the server's stderr and the server's resident memory (main process
and workers, from /proc) growing by less than ``RSS_BOUND``.

Requests with bad credentials come from another loopback address each (127.x.y.z), so
the failed-login brake does not turn the rest of the run into 429s.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_report import record
from servers import free_port, stop, wait_for

yaml = pytest.importorskip("yaml")
pytest.importorskip("granian")

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "robust-token"
AUTH = "Basic " + base64.b64encode(TOKEN.encode()).decode()
#: Examples hypothesis sends (each one request on its own connection); OMEAPI_FUZZ_EXAMPLES
#: sets another count (a longer local hunt).
EXAMPLES = int(os.environ.get("OMEAPI_FUZZ_EXAMPLES", "6000"))
#: Allowed growth of the server's resident memory over the run.
RSS_BOUND = 40 * 1024 * 1024
#: The server's --body-timeout: a body of a great many tiny chunks (a second or more of
#: granian's time) is cut off after it, well within ANSWER_WITHIN.
BODY_TIMEOUT = 2.0
#: Each request is answered, or its connection closed, within this long.
ANSWER_WITHIN = 5.0
BODY_LIMIT = 1024 * 1024
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]
    ),
}
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line")


def server_xml(port: int) -> str:
    return f"""<?xml version="1.0"?>
<Server version="8">
  <Name>robust</Name><Type>origin</Type><IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>{port}</Port><WorkerCount>2</WorkerCount></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>localhost</Name></Names></Host>
    <API><AccessToken>{TOKEN}</AccessToken>
      <CrossDomains><Url>*.example</Url></CrossDomains>
    </API>
  </Managers>
  <VirtualHosts><VirtualHost><Name>default</Name>
    <Applications><Application><Name>app</Name><Type>live</Type></Application></Applications>
  </VirtualHost></VirtualHosts>
</Server>
"""


#: Documented paths whose answer is a stream without end by design (Server-Sent Events):
#: "an answer within a few seconds" does not apply; tests/test_extensions_served.py and
#: tests/test_event_limits.py bound them (subscribers, slow readers, heartbeats).
STREAMING = {"/x-omeapi/v1/events"}


def documented_paths() -> list[str]:
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    return sorted(path for path in document["paths"] if path not in STREAMING)


PATHS = documented_paths()


def rss_of_tree(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (granian's workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for member in tree:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) * 1024 if found else 0
    return total


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.sent = self.server_errors = self.closed = 0
        self.statuses: dict[int, int] = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("robust")
    port = free_port()
    config = directory / "Server.xml"
    config.write_text(server_xml(port))
    log = directory / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omeapi.cli",
                "serve",
                str(config),
                "--server",
                "granian",
                "--body-timeout",
                str(BODY_TIMEOUT),
            ],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        wait_for(port, proc)
        yield Served(proc, port, log)
    finally:
        stop(proc)
    text = log.read_bytes()
    assert not TRACEBACK.search(text), text.decode(errors="replace")[-4000:]


# ------------------------------------------------------------------------- strategies

_segment_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))


#: Built once: a strategy built inside a composite is built (and validated) again at every
#: draw, which cost more than drawing from it.
_PATH_VALUES = st.one_of(
    st.sampled_from(["default", "app", "stream", "x", ""]),
    st.text(_segment_chars, max_size=40).map(
        lambda s: "".join(c if c.isalnum() else f"%{ord(c) & 0xFF:02X}" for c in s)
    ),
    st.sampled_from(["%", "%2", "%zz", "%00", "%FF%FE", "%C0%AF", "..", "%2e%2e", "%2F", "a%2Fb"]),
    st.text(st.sampled_from("a%/:;.?#"), max_size=20),
    st.just("x" * 5000),
)


@st.composite
def path_values(draw: st.DrawFn) -> str:
    """A path parameter: a known name, junk, or odd percent-encodings."""
    return draw(_PATH_VALUES)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


JSON_BODIES = st.one_of(
    st.builds(nested, st.integers(1, 100_000)),
    st.builds(lambda d: b'{"a":' * d + b"1" + b"}" * d, st.integers(1, 50_000)),
    st.sampled_from(
        [
            b"1" * 20_000,
            b"[1e999999999]",
            b"[-1e-999999999]",
            b'{"name":"a","name":"b"}',
            b'[{"name":"v","name":1,"name":null}]',
            b'[{"name":"\x00"}]',
            b'[{"name":"\\u0000"}]',
            b'[{"name":"\\ud800"}]',
            b"\xff\xfe\xfd",
            b'[{"name":"\xc3\x28"}]',
            b"\x00" * 100,
            b"",
            b"null",
            b"[]",
            b"{}",
            b'{"outputStreamName":"' + b"a" * 100_000 + b'"}',
            b"[" + b"1," * 100_000 + b"1]",
            b'{"publishers":{"appWorkerCount":18446744073709551616}}',
            b'[{"name":"v","applications":{"application":[{"name":"a","type":"live"}]}}]',
        ]
    ),
    st.binary(max_size=2000),
)

AUTHS = st.sampled_from(
    [
        None,
        "Basic ",
        "Basic ===",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"\xff\xfe").decode(),
        "Basic " + base64.b64encode(TOKEN.encode()).decode().rstrip("="),
        "Basic " + "A" * 10_000,
        "basic " + base64.b64encode(TOKEN.encode()).decode(),
        "Bearer " + TOKEN,
        AUTH + "\x00",
    ]
)


def odd_case(method: str, flips: list[bool]) -> str:
    return "".join(c.lower() if flip else c for c, flip in zip(method, flips, strict=False))


#: The strategies :func:`requests` draws from, built once (see :data:`_PATH_VALUES`).
_PATH_VALUE = path_values()
_TEMPLATES = st.sampled_from(PATHS)
_BOOLEANS = st.booleans()
_QUERIES = st.sampled_from(["", "a=%", "%%%", "x=" + "%FF" * 200, "a&a&a"])
_METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
_ONE_IN_FIVE = st.integers(0, 4)
_FLIPS = st.lists(st.booleans(), min_size=7, max_size=7)
_HOSTS = st.sampled_from(["localhost", "localhost", "localhost", "localhost:1", "LOCALHOST", "x"])
_ORIGINS = st.sampled_from(["http://a.example", "null", "\x01"])
_ONE_IN_FOUR = st.integers(0, 3)
_REPEATED_NAMES = st.sampled_from(["Authorization", "Host", "Content-Type", "Origin", "X-A"])
_REPEATED_VALUES = st.sampled_from(["a", AUTH, "localhost", ""])
_REPEATS = st.integers(2, 50)
_ONE_IN_SIX = st.integers(0, 5)
_CONTENT_TYPES = st.sampled_from(["text/plain", "\xff", ""])
_FRAMINGS = st.sampled_from(["length", "length", "chunked", "badchunks", "none", "huge", "hugeraw"])
_CHUNK_SIZES = st.sampled_from([1, 7, 4096])
_CHUNKED_NAMES = st.sampled_from(["chunked", "Chunked"])


def chunked(body: bytes, size: int) -> bytes:
    """``body`` as chunks of ``size`` bytes (the last one shorter), then the last chunk."""
    if size == 1:  # every byte its own chunk: b"1\r\n" + byte + b"\r\n", built in one go
        framed = bytearray(b"1\r\n?\r\n" * len(body))
        framed[3::6] = body
        return bytes(framed) + b"0\r\n\r\n"
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    """(head, body, bad credentials) of one raw request."""
    template = draw(_TEMPLATES)
    path = re.sub(r"\{[^}]+\}", lambda _: draw(_PATH_VALUE), template)
    if draw(_BOOLEANS):
        path += "?" + draw(_QUERIES)
    method = draw(_METHODS)
    if draw(_ONE_IN_FIVE) == 0:
        method = odd_case(method, draw(_FLIPS))
    bad_auth = draw(_ONE_IN_FIVE) == 0
    auth = draw(AUTHS) if bad_auth else AUTH
    headers = [("Host", draw(_HOSTS))]
    if auth is not None:
        headers.append(("Authorization", auth))
    if draw(_BOOLEANS):
        headers.append(("Origin", draw(_ORIGINS)))
    if draw(_ONE_IN_FOUR) == 0:  # repeated headers
        name = draw(_REPEATED_NAMES)
        headers += [(name, draw(_REPEATED_VALUES))] * draw(_REPEATS)
        bad_auth = bad_auth or name == "Authorization"
    if draw(_ONE_IN_SIX) == 0:
        headers.append(("Content-Type", draw(_CONTENT_TYPES)))
    body = draw(JSON_BODIES)
    framing = draw(_FRAMINGS)
    if framing == "huge":  # announced and sent, past the body limit
        body = b"[" * (BODY_LIMIT + 4096)
    if framing in ("length", "huge"):
        headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = chunked(body, draw(_CHUNK_SIZES))
    elif framing == "badchunks":  # complete, but not as RFC 9112 section 7.1 frames chunks
        headers.append(("Transfer-Encoding", draw(_CHUNKED_NAMES)))
        size = b"%x" % len(body)
        body = draw(
            st.sampled_from(
                [
                    b"zz\r\n" + body + b"\r\n0\r\n\r\n",  # not hex
                    b"-" + size + b"\r\n" + body + b"\r\n0\r\n\r\n",
                    b"f" * 20 + b"\r\n" + body + b"\r\n0\r\n\r\n",  # past 64 bits
                    size + b"\n" + body + b"\n0\n\n",  # bare LF
                    size + b";a=b;c\r\n" + body + b"\r\n0\r\n\r\n",  # extensions
                    size + b"\r\n" + body + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
                    size + b"\r\n" + body + b"0\r\n\r\n",  # no CRLF after the data
                ]
            )
        )
    elif framing == "hugeraw":  # no length at all: the bytes are junk after the request
        body = b"x" * (BODY_LIMIT + 4096)
    headers.append(("Connection", "close"))
    raw_headers = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = f"{method} {path} HTTP/1.1\r\n{raw_headers}\r\n".encode("utf-8", "surrogateescape")
    return head, body, bad_auth


# ------------------------------------------------------------------------------ sending


def exchange(port: int, head: bytes, body: bytes, source: str) -> bytes | None:
    """Send one request; the response bytes, or None when the server closed without one."""
    deadline = time.monotonic() + ANSWER_WITHIN
    with socket.socket() as sock:
        sock.settimeout(ANSWER_WITHIN)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        # OSError: refused and closed before the body was all sent.
        with contextlib.suppress(OSError):
            sock.sendall(head + body)
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no answer within {ANSWER_WITHIN} s: {head[:200]!r}"
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                raise AssertionError(f"hung: {head[:200]!r}") from None
            if not chunk:
                break
            data += chunk
    return data or None


def loopback(counter: int) -> str:
    return f"127.{(counter >> 16) & 0xFF}.{(counter >> 8) & 0xFF}.{counter & 0xFF or 1}"


def test_hostile_requests_on_every_route_through_granian(served: Served) -> None:
    before = rss_of_tree(served.proc.pid)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests())
    def one(request: tuple[bytes, bytes, bool]) -> None:
        head, body, bad_auth = request
        served.sent += 1
        source = loopback(served.sent + 256) if bad_auth else "127.0.0.1"
        answer = exchange(served.port, head, body, source)
        if answer is None:
            served.closed += 1
            return
        found = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        assert found, answer[:300]
        status = int(found.group(1))
        served.statuses[status] = served.statuses.get(status, 0) + 1
        if status >= 500:
            served.server_errors += 1
        assert status < 500, (head[:300], answer[:500])
        assert not TRACEBACK.search(answer), answer[:2000]

    try:
        one()
    finally:
        after = rss_of_tree(served.proc.pid)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(served.statuses.items()))
        record(
            "granian hostile fuzz",
            f"{served.sent} requests, {served.server_errors} 5xx, {served.closed} closed "
            f"without an answer, RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB "
            f"(statuses {statuses})",
        )
    assert served.proc.poll() is None, "the server died"
    assert after - before < RSS_BOUND, (before, after)
    assert len(served.statuses) > 3, served.statuses  # the run reached the handler
