"""TLS certificates of the vhosts and of the API server: loading, checking, reloading.

A certificate is loaded by building a server :class:`ssl.SSLContext` from its files, which
reads them again and checks that the private key matches the certificate (a mismatch, an
unreadable or malformed file is an error).  A chain file, when configured, must hold PEM
certificates; it is not put into the context (the standard library only takes a chain as part
of the certificate file, as in a ``fullchain.pem``), so servers that send it use its path.

A failed reload keeps the previous certificate.  The serving layer learns about a new API
certificate through :meth:`Certificates.subscribe`.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable

import attrs

from omeapi import _messages as msg
from omeapi._config import ServerConfig, TlsConfig, VirtualHostConfig
from omeapi._errors import ApiError, CertificateError

__all__ = [
    "API_CERTIFICATE",
    "CertificateError",
    "Certificates",
    "LoadedCertificate",
    "load_certificate",
]

log = logging.getLogger("omeapi")

#: The name OME gives the API server's certificate.
API_CERTIFICATE = "api_server"


@attrs.frozen
class LoadedCertificate:
    """A certificate that loaded: where it came from, and a server context that uses it."""

    name: str
    cert_path: str
    key_path: str
    chain_path: str
    context: ssl.SSLContext = attrs.field(repr=False, eq=False)
    loaded_at: float = 0.0


_PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL
)


def _check_chain(name: str, path: str) -> None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            blocks = "\n".join(m.group(0) for m in _PEM_CERT.finditer(handle.read()))
    except OSError as exc:
        raise CertificateError(
            f"[{name}] Could not create a certificate from file - {exc}"
        ) from None
    # A chain file without certificates is not an error (OME's rule); a broken one is:
    # OpenSSL parses every certificate of it here.
    if blocks:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=blocks)
        except (ssl.SSLError, ValueError) as exc:
            raise CertificateError(
                f"[{name}] Could not create a certificate from file - {path}: {exc}"
            ) from None


def load_certificate(
    name: str, tls: TlsConfig, *, clock: Callable[[], float] = time.time
) -> LoadedCertificate:
    """Read and check the files of ``tls``; :class:`CertificateError` when they do not make
    a usable certificate (missing, unreadable, malformed, or a key that does not match)."""
    for path, element in ((tls.cert_path, "CertPath"), (tls.key_path, "KeyPath")):
        if not path:
            raise CertificateError(
                f"[{name}] Invalid TLS configuration: <{element}> must not be empty"
            )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.cert_path, tls.key_path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise CertificateError(
            f"[{name}] Could not create a certificate from file - {exc}"
        ) from None
    if tls.chain_cert_path:
        _check_chain(name, tls.chain_cert_path)
    return LoadedCertificate(
        name, tls.cert_path, tls.key_path, tls.chain_cert_path, context, clock()
    )


def _vhost_tls(vhost: VirtualHostConfig) -> TlsConfig | None:
    return vhost.host.tls if vhost.host is not None else None


class Certificates:
    """The current certificates of the API server and the vhosts, and their reloads.

    Created by :class:`~omeapi.Api` from the config; the certificates that load are
    loaded at once (failures are logged, as OME does at start).  Thread-safe.
    """

    def __init__(self, config: ServerConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._api: LoadedCertificate | None = None
        self._vhosts: dict[str, LoadedCertificate] = {}
        self._api_subscribers: list[Callable[[LoadedCertificate], None]] = []
        self._vhost_subscribers: list[Callable[[LoadedCertificate], None]] = []
        tls = self.api_tls
        if tls is not None:
            self._api = self._load_logged(API_CERTIFICATE, tls)
        for vhost in config.virtual_hosts:
            vhost_tls = _vhost_tls(vhost)
            if vhost_tls is not None:
                loaded = self._load_logged(vhost.name, vhost_tls)
                if loaded is not None:
                    self._vhosts[vhost.name] = loaded

    def _load_logged(self, name: str, tls: TlsConfig) -> LoadedCertificate | None:
        try:
            return load_certificate(name, tls, clock=self.clock)
        except CertificateError as exc:
            log.warning("Failed to create a certificate for %s: %s", name, exc)
            return None

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[LoadedCertificate], None]) -> None:
        """Call ``callback`` with every API certificate that is reloaded successfully.

        This is how the server serving the API's TLS port learns it must use the new
        certificate (``certificate.context``, or its paths).  If the callback raises, the
        reload answers 500 with the exception's text (OME's answer when a listener refuses
        the certificate); the other callbacks are still called.
        """
        self._api_subscribers.append(callback)

    def subscribe_vhosts(self, callback: Callable[[LoadedCertificate], None]) -> None:
        """Call ``callback`` with every vhost certificate that is reloaded successfully
        (``certificate.name`` is the vhost); for a media server's own TLS listeners."""
        self._vhost_subscribers.append(callback)

    # -- state ----------------------------------------------------------------------------------

    @property
    def api_tls(self) -> TlsConfig | None:
        """The API server's TLS files, when TLS is enabled (a TLSPort and
        ``<Managers><Host><TLS>``)."""
        binding, managers = self.config.api_binding, self.config.managers
        if binding is None or binding.tls_port is None:
            return None
        host = managers.host if managers is not None else None
        return host.tls if host is not None else None

    @property
    def api(self) -> LoadedCertificate | None:
        """The API server's current certificate (None when none ever loaded)."""
        return self._api

    def vhost(self, name: str) -> LoadedCertificate | None:
        """A vhost's current certificate."""
        return self._vhosts.get(name)

    # -- reloads ----------------------------------------------------------------------------------

    def reload_api(self) -> LoadedCertificate:
        """Re-read the API server's certificate and hand it to the subscribers.

        ``ApiError`` with OME's answers: 400 when TLS is not enabled, 500 when the files do
        not make a certificate (the previous one stays), 500 with a subscriber's error.
        """
        tls = self.api_tls
        if tls is None:
            raise msg.API_TLS_NOT_ENABLED.error()
        try:
            loaded = load_certificate(API_CERTIFICATE, tls, clock=self.clock)
        except CertificateError as exc:
            log.warning("Failed to create a certificate for the API Server: %s", exc)
            raise msg.API_CERT_FAILED.error() from None
        with self._lock:
            self._api = loaded
        first_error: Exception | None = None
        for callback in self._api_subscribers:
            try:
                callback(loaded)
            except Exception as exc:
                log.exception("a listener refused the new API certificate")
                first_error = first_error or exc
        if first_error is not None:
            raise ApiError(500, str(first_error) or type(first_error).__name__)
        return loaded

    def check_vhost(self, vhost: VirtualHostConfig) -> None:
        """Load a vhost's certificate files without installing them (nothing to do without
        TLS): :class:`CertificateError` when they do not make a certificate."""
        tls = _vhost_tls(vhost)
        if tls is not None:
            load_certificate(vhost.name, tls, clock=self.clock)

    def reload_vhost(self, vhost: VirtualHostConfig) -> LoadedCertificate | None:
        """Re-read a vhost's certificate (None: the vhost has no TLS); on
        :class:`CertificateError` the previous certificate stays."""
        tls = _vhost_tls(vhost)
        if tls is None:
            return None
        try:
            loaded = load_certificate(vhost.name, tls, clock=self.clock)
        except CertificateError as exc:
            log.warning("Failed to create a certificate for VirtualHost [%s]: %s", vhost.name, exc)
            raise
        with self._lock:
            self._vhosts[vhost.name] = loaded
        for callback in self._vhost_subscribers:
            try:
                callback(loaded)
            except Exception:  # a listener's bug must not undo the reload
                log.exception("a listener refused the new certificate of %s", vhost.name)
        return loaded

    def reload_vhosts(self, vhosts: Iterable[VirtualHostConfig]) -> list[str]:
        """Reload every vhost's certificate; the names of those that failed."""
        failed: list[str] = []
        for vhost in vhosts:
            try:
                self.reload_vhost(vhost)
            except CertificateError:
                failed.append(vhost.name)
        return failed
