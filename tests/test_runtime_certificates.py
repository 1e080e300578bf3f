"""Certificate reloads: files really re-read and checked, failures keep the old certificate,
the API's TLS listener is told; OME's half-routes answer 400."""

from __future__ import annotations

import contextlib
import shutil
import ssl
from pathlib import Path

import pytest
import trustme
from test_runtime_support import Runtime, err, runtime_xml

from omeapi._config import TlsConfig
from omeapi._state.certificates import (
    API_CERTIFICATE,
    CertificateError,
    LoadedCertificate,
    load_certificate,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class Files:
    """Certificate files in a directory, rewritable in place."""

    def __init__(self, directory: Path, ca: trustme.CA) -> None:
        self.ca = ca
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        self.chain = directory / "chain.pem"
        self.issue()

    def issue(self) -> trustme.LeafCert:
        leaf = self.ca.issue_cert("localhost")
        leaf.cert_chain_pems[0].write_to_path(str(self.cert))
        leaf.private_key_pem.write_to_path(str(self.key))
        self.ca.cert_pem.write_to_path(str(self.chain))
        return leaf

    def tls_xml(self) -> str:
        return (
            f"<TLS><CertPath>{self.cert}</CertPath><KeyPath>{self.key}</KeyPath>"
            f"<ChainCertPath>{self.chain}</ChainCertPath></TLS>"
        )


def served_certificate(context: ssl.SSLContext, ca: trustme.CA) -> bytes:
    """The DER certificate ``context`` presents in a TLS handshake (in memory)."""
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(client_in, client_out, server_hostname="localhost")
    server = context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    peer = client.getpeercert(binary_form=True)
    assert peer is not None
    return peer


def der(leaf: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


# -- the API server's certificate ---------------------------------------------------------------


def test_api_reload_needs_tls(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    assert rt.call("POST", "/v1/managers/api:reloadCertificate") == (
        400,
        err(400, "TLS is not enabled for the API Server"),
    )


def test_api_reload_rereads_and_notifies(tmp_path: Path, ca: trustme.CA) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path, runtime_xml(managers_tls=files.tls_xml()))
    initial = rt.api.certificates.api
    assert initial is not None and initial.name == API_CERTIFICATE
    received: list[LoadedCertificate] = []
    rt.api.certificates.subscribe(received.append)
    leaf = files.issue()  # new files, same paths
    rt.plain("POST", "/v1/managers/api:reloadCertificate", {"ignored": True})
    assert len(received) == 1
    new = received[0]
    assert (new.cert_path, new.key_path, new.chain_path) == (
        str(files.cert),
        str(files.key),
        str(files.chain),
    )
    assert rt.api.certificates.api is new
    assert served_certificate(new.context, ca) == der(leaf)
    assert served_certificate(initial.context, ca) != der(leaf)


@pytest.mark.parametrize("breakage", ["mismatched key", "missing key", "garbage cert", "bad chain"])
def test_api_reload_failure_keeps_the_old_certificate(
    tmp_path: Path, ca: trustme.CA, breakage: str
) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path, runtime_xml(managers_tls=files.tls_xml()))
    before = rt.api.certificates.api
    received: list[LoadedCertificate] = []
    rt.api.certificates.subscribe(received.append)
    if breakage == "mismatched key":
        other = ca.issue_cert("localhost")
        other.private_key_pem.write_to_path(str(files.key))
    elif breakage == "missing key":
        files.key.unlink()
    elif breakage == "garbage cert":
        files.cert.write_text("not a certificate")
    else:
        files.chain.write_text("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
    assert rt.call("POST", "/v1/managers/api:reloadCertificate") == (
        500,
        err(500, "Failed to create a certificate for the API Server"),
    )
    assert rt.api.certificates.api is before
    assert received == []


def test_api_reload_reports_the_first_listener_error(tmp_path: Path, ca: trustme.CA) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path, runtime_xml(managers_tls=files.tls_xml()))
    calls: list[str] = []

    def refuse(name: str) -> None:
        calls.append(name)
        raise RuntimeError(f"[HTTPS] listener {name} refused it")

    rt.api.certificates.subscribe(lambda cert: refuse("one"))
    rt.api.certificates.subscribe(lambda cert: refuse("two"))
    assert rt.call("POST", "/v1/managers/api:reloadCertificate") == (
        500,
        err(500, "[HTTPS] listener one refused it"),
    )
    assert calls == ["one", "two"]


# -- vhost certificates ------------------------------------------------------------------------


def test_vhost_reload(tmp_path: Path, ca: trustme.CA) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path, runtime_xml(tls=files.tls_xml()))
    seen: list[str] = []
    rt.api.certificates.subscribe_vhosts(lambda cert: seen.append(cert.name))
    leaf = files.issue()
    rt.plain("POST", "/v1/vhosts/default:reloadCertificate")
    current = rt.api.certificates.vhost("default")
    assert current is not None and served_certificate(current.context, ca) == der(leaf)
    rt.plain("POST", "/v1/vhosts:reloadAllCertificates")
    # OME's accidental alias: the vhost in the path is not even looked up.
    rt.plain("POST", "/v1/vhosts/whatever:reloadAllCertificates")
    assert seen == ["default"] * 3


def test_vhost_reload_failure_keeps_the_old_certificate(tmp_path: Path, ca: trustme.CA) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path, runtime_xml(tls=files.tls_xml()))
    before = rt.api.certificates.vhost("default")
    shutil.copy(files.chain, files.key)  # a certificate where the key should be
    failed = (500, err(500, "Failed to reload certificate. Check server log for more information."))
    assert rt.call("POST", "/v1/vhosts/default:reloadCertificate") == failed
    assert rt.call("POST", "/v1/vhosts:reloadAllCertificates") == failed
    assert rt.api.certificates.vhost("default") is before


def test_vhost_without_tls_and_unknown_vhost(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    rt.plain("POST", "/v1/vhosts/default:reloadCertificate")
    rt.plain("POST", "/v1/vhosts:reloadAllCertificates")
    assert rt.call("POST", "/v1/vhosts/nope:reloadCertificate") == (
        404,
        err(404, "Could not find the virtual host: [nope]"),
    )
    status, body = rt.call("POST", "/v1/vhosts/default:reloadCertificate", raw=b"{,")
    assert status == 400 and body["message"].startswith("[HTTP] [JSON]")


def test_half_routes_are_400_not_500(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    assert rt.call("GET", "/v1/vhosts:") == (
        400,
        err(400, "A virtual host name is required: use /v1/vhosts/<vhost>"),
    )
    assert rt.call("POST", "/v1/vhosts:reloadCertificate") == (
        400,
        err(
            400,
            "reloadCertificate needs a virtual host: use /v1/vhosts/<vhost>:reloadCertificate"
            " or /v1/vhosts:reloadAllCertificates",
        ),
    )


@pytest.mark.parametrize(
    ("tls", "text"),
    [
        (TlsConfig("", "k"), "[v] Invalid TLS configuration: <CertPath> must not be empty"),
        (TlsConfig("c", ""), "[v] Invalid TLS configuration: <KeyPath> must not be empty"),
    ],
)
def test_empty_paths(tls: TlsConfig, text: str) -> None:
    with pytest.raises(CertificateError) as caught:
        load_certificate("v", tls)
    assert str(caught.value) == text


def test_a_chain_file_without_certificates_is_fine(tmp_path: Path, ca: trustme.CA) -> None:
    files = Files(tmp_path, ca)
    files.chain.write_text("")
    loaded = load_certificate("v", TlsConfig(str(files.cert), str(files.key), str(files.chain)))
    assert loaded.chain_path == str(files.chain)


# -- API-created vhosts: TLS files are tried at creation ----------------------------------


def _vhost_with_tls(name: str, files: Files) -> dict[str, object]:
    tls = {"certPath": str(files.cert), "keyPath": str(files.key)}
    return {"name": name, "host": {"names": ["*"], "tls": tls}}


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda files: files.key.unlink(), "No such file or directory"),
        (lambda files: shutil.copy(files.chain, files.key), "Could not create a certificate"),
    ],
    ids=["missing-key", "key-is-a-certificate"],
)
def test_a_vhost_with_broken_tls_files_is_refused_at_creation(
    tmp_path: Path, ca: trustme.CA, spoil: object, reason: str
) -> None:
    files = Files(tmp_path, ca)
    spoil(files)  # type: ignore[operator]
    rt = Runtime(tmp_path)
    status, items = rt.call("POST", "/v1/vhosts", [_vhost_with_tls("tls", files)])
    assert status == 400
    [item] = items
    assert item["statusCode"] == 400
    assert item["message"].startswith("Invalid TLS files for the virtual host: [tls] ([tls] ")
    assert reason in item["message"]
    assert rt.ok("GET", "/v1/vhosts") == ["default"]
    # So no client can make a later reload of every certificate fail.
    rt.plain("POST", "/v1/vhosts:reloadAllCertificates")


def test_a_vhost_with_good_tls_files_is_created_and_its_certificate_loaded(
    tmp_path: Path, ca: trustme.CA
) -> None:
    files = Files(tmp_path, ca)
    rt = Runtime(tmp_path)
    status, items = rt.call("POST", "/v1/vhosts", [_vhost_with_tls("tls", files)])
    assert (status, items[0]["statusCode"]) == (200, 200)
    loaded = rt.api.certificates.vhost("tls")
    assert loaded is not None and loaded.cert_path == str(files.cert)
    rt.plain("POST", "/v1/vhosts/tls:reloadCertificate")
    rt.plain("POST", "/v1/vhosts:reloadAllCertificates")
