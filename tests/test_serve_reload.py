"""``POST /v1/managers/api:reloadCertificate`` through a real ``omeapi serve``, with granian and
with gunicorn: after the certificate and key files are replaced by a new certificate, new TLS
connections get the new one, and the listening socket is never dropped (the same socket
stays open, and TLS handshakes made all through the reload succeed).

What happens to vhosts created through the API is checked too: nothing is lost, whatever
the server and the port the reload arrived on (``docs/deployment.md``, "Workers").  Without
``<Storage>``, ``serve`` keeps its state in a private SQLite file that every listener and
worker shares, so a granian worker replaced to re-read the files comes back with everything,
and what was made through the TLS port is seen through the plain one.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from test_serve import AUTH, free_port, start, stop, wait_for, write_config

trustme = pytest.importorskip("trustme")
x509 = pytest.importorskip("cryptography.x509")

RELOAD = "/v1/managers/api:reloadCertificate"
#: Longer than granian's overlap of old and new workers (``respawn_interval``, 3.5 s).
SETTLE = 5.0


def tls_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def served_certificate(port: int, ca: trustme.CA, timeout: float = 10.0) -> bytes:
    """The DER certificate a new TLS connection to ``port`` is given."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw,
        tls_context(ca).wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def serial(der: bytes) -> int:
    number: int = x509.load_der_x509_certificate(der).serial_number
    return number


def listening_inode(port: int) -> str | None:
    """The inode of the socket listening on 127.0.0.1:``port`` (Linux), None elsewhere."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = f"0100007F:{port:04X}"
    inodes = [f[9] for f in map(str.split, lines) if f[1] == wanted and f[3] == "0A"]
    assert len(inodes) == 1, inodes
    return inodes[0]


def request(
    port: int, method: str, path: str, body: object = None, ca: trustme.CA | None = None
) -> tuple[int, object]:
    """One request on a new connection (TLS when ``ca`` is given)."""
    conn: http.client.HTTPConnection
    if ca is not None:
        conn = http.client.HTTPSConnection("localhost", port, context=tls_context(ca), timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Authorization": AUTH})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class HandshakeProbe(threading.Thread):
    """Makes TLS handshakes with the listener, one after the other, until stopped; records the
    certificate each one got, and the failures."""

    def __init__(self, port: int, ca: trustme.CA) -> None:
        super().__init__(daemon=True)
        self.port, self.ca = port, ca
        self.done = threading.Event()
        self.handshakes: list[tuple[float, bytes]] = []  # (when, the certificate)
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            try:
                certificate = served_certificate(self.port, self.ca)
                self.handshakes.append((time.monotonic(), certificate))
            except OSError as exc:  # refused, reset, timed out, TLS failure
                self.failures.append(repr(exc))
            time.sleep(0.01)

    def wait_settled(self, certificate: bytes, settle: float, timeout: float) -> None:
        """Until every handshake of the last ``settle`` seconds (three at least) got
        ``certificate``: granian starts the new worker before it stops the old one, and
        both take connections for a while."""
        deadline = time.monotonic() + timeout
        while True:
            handshakes = list(self.handshakes)
            last_other = max((t for t, c in handshakes if c != certificate), default=0.0)
            since = [t for t, _ in handshakes if t > last_other]
            if len(since) >= 3 and time.monotonic() - max(last_other, since[0]) >= settle:
                return
            assert self.is_alive() and time.monotonic() < deadline, (
                f"{len(since)} handshakes got the certificate, failures: {self.failures}"
            )
            time.sleep(0.05)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)


def replace_certificate(directory: Path, ca: trustme.CA) -> bytes:
    """New certificate and key files (written aside, then renamed over the old ones)."""
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    leaf.private_key_pem.write_to_path(str(directory / "key.pem.new"))
    leaf.cert_chain_pems[0].write_to_path(str(directory / "cert.pem.new"))
    os.replace(directory / "key.pem.new", directory / "key.pem")
    os.replace(directory / "cert.pem.new", directory / "cert.pem")
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


#: (server, port the reload is sent to)
CASES = [("granian", "tls"), ("granian", "plain"), ("gunicorn", "tls"), ("gunicorn", "plain")]


@pytest.mark.parametrize(("server", "via"), CASES)
def test_reload_serves_the_new_certificate_on_the_same_socket(
    tmp_path: Path, ca: trustme.CA, server: str, via: str
) -> None:
    port, tls_port = free_port(), free_port()
    config = write_config(tmp_path, ca, port, tls_port)
    first = ssl.PEM_cert_to_DER_cert((tmp_path / "cert.pem").read_text())
    proc = start(config, "--server", server)
    probe: HandshakeProbe | None = None
    try:
        wait_for(port, proc)
        wait_for(tls_port, proc)
        assert served_certificate(tls_port, ca) == first
        inode = listening_inode(tls_port)
        assert request(tls_port, "POST", "/v1/vhosts", [{"name": "made"}], ca)[0] == 200

        probe = HandshakeProbe(tls_port, ca)
        probe.start()
        probe.wait_settled(first, 0.0, timeout=30)
        second = replace_certificate(tmp_path, ca)
        assert serial(second) != serial(first)
        status, body = request(
            tls_port if via == "tls" else port, "POST", RELOAD, None, ca if via == "tls" else None
        )
        assert (status, body) == (200, {"message": "OK", "statusCode": 200})
        probe.wait_settled(second, SETTLE, timeout=60)
        probe.stop()
        if server == "gunicorn":
            assert probe.failures == []
        else:
            # granian stops the old worker without finishing the TLS handshakes it has begun:
            # those few connections are cut (never refused: the socket stays open).
            assert len(probe.failures) <= 3, probe.failures
            assert all("EOF" in f or "Reset" in f for f in probe.failures), probe.failures
        assert served_certificate(tls_port, ca) == second
        assert listening_inode(tls_port) == inode, "the listening socket was replaced"

        # One logical API: what was made through the TLS port is there on both ports, after
        # the reload as before it.
        assert request(port, "GET", "/v1/vhosts")[1]["response"] == ["default", "made"]  # type: ignore[index]
        names = request(tls_port, "GET", "/v1/vhosts", None, ca)[1]["response"]  # type: ignore[index]
        assert names == ["default", "made"]
    finally:
        if probe is not None:
            probe.stop()
        stop(proc)


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_a_broken_certificate_keeps_the_old_one(
    tmp_path: Path, ca: trustme.CA, server: str
) -> None:
    port, tls_port = free_port(), free_port()
    config = write_config(tmp_path, ca, port, tls_port)
    first = ssl.PEM_cert_to_DER_cert((tmp_path / "cert.pem").read_text())
    # One worker: a second one still booting when the key is broken would load the broken
    # files (granian reads them as each worker starts).
    proc = start(config, "--server", server, "--workers", "1")
    try:
        wait_for(port, proc)
        wait_for(tls_port, proc)
        (tmp_path / "key.pem").write_text("not a key\n")
        status, body = request(tls_port, "POST", RELOAD, None, ca)
        assert (status, body) == (
            500,
            {
                "message": "[HTTP] Failed to create a certificate for the API Server (500)",
                "statusCode": 500,
            },
        )
        time.sleep(0.5)
        assert served_certificate(tls_port, ca) == first
        assert request(tls_port, "GET", "/v1/vhosts", None, ca)[0] == 200
    finally:
        stop(proc)
