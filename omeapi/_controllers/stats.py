"""Server-wide runtime routes: statistics, certificate reloads, and OME's half-routes.

Statistics: ``/v1/stats/current[/vhosts/{vhost}[/apps/{app}[/streams/{stream}]]]`` and
``/v1/stats/current/internals[/queues]``.  Certificates: ``/v1/vhosts:reloadAllCertificates``
(also under ``/v1/vhosts/{vhost}:``, an accidental alias OME has), ``/v1/vhosts/{vhost}:
reloadCertificate`` and ``/v1/managers/api:reloadCertificate``.
"""

from __future__ import annotations

from omeapi import _messages as msg
from omeapi._controllers.call import Call
from omeapi._controllers.lookups import input_stream, stream_not_found
from omeapi._engine.values import Metrics
from omeapi._errors import CertificateError
from omeapi._wire.envelope import Reply, ok, plain

__all__ = [
    "INTERNALS",
    "reload_all_certificates",
    "reload_api_certificate",
    "reload_certificate",
    "reload_certificate_without_vhost",
    "stats_app",
    "stats_internals",
    "stats_queues",
    "stats_server",
    "stats_vhost",
    "stream_stats",
    "vhosts_colon",
]

#: What ``/v1/stats/current/internals`` lists.
INTERNALS = ["/v1/stats/current/internals/queues"]

#: Statistics of a scope the engine does not run (an app that failed to restart): zeros.
_IDLE = Metrics(created=0.0)


def stats_server(call: Call) -> Reply:
    return ok((call.services.engine.metrics() or _IDLE).to_json())


def stats_vhost(call: Call) -> Reply:
    vhost = call.vhost()
    return ok((call.services.engine.metrics(vhost.name) or _IDLE).to_json())


def stats_app(call: Call) -> Reply:
    vhost, app = call.app()
    return ok((call.services.engine.metrics(vhost.name, app.name) or _IDLE).to_json())


def stream_stats(call: Call) -> Reply:
    """An input stream's statistics (output streams are not found, as in OME)."""
    vhost, app, name = input_stream(call)
    metrics = call.services.engine.metrics(vhost.name, app.name, name)
    if metrics is None:
        raise stream_not_found(vhost.name, app.name, name)
    return ok(metrics.to_json())


def stats_internals(call: Call) -> Reply:
    return ok(INTERNALS)


def stats_queues(call: Call) -> Reply:
    fields = call.services.wire.fields
    return ok([q.to_json(fields) for q in call.services.engine.queue_metrics()])


# -- certificates ---------------------------------------------------------------------------


def reload_all_certificates(call: Call) -> Reply:
    """Reload every vhost's certificate (the body is parsed and ignored; under
    ``/v1/vhosts/{vhost}:`` the vhost is not even looked up, as in OME)."""
    vhosts = [entry.config for entry in call.snapshot.vhosts.values()]
    if call.services.certificates.reload_vhosts(vhosts):
        raise msg.CERT_RELOAD_FAILED.error()
    return plain(200)


def reload_certificate(call: Call) -> Reply:
    """Reload one vhost's certificate; on failure the previous one stays.

    OME logs the failure and still reports success; omeapi says it failed (OME's message).
    """
    vhost = call.vhost()
    try:
        call.services.certificates.reload_vhost(vhost.config)
    except CertificateError:
        raise msg.CERT_RELOAD_FAILED.error() from None
    return plain(200)


def reload_api_certificate(call: Call) -> Reply:
    """Reload the API server's own certificate and hand it to the TLS listener."""
    call.services.certificates.reload_api()
    return plain(200)


def vhosts_colon(call: Call) -> Reply:
    """``GET /v1/vhosts:``: OME's 500 (no vhost in the path) as a 400."""
    raise msg.VHOST_NAME_REQUIRED.error()


def reload_certificate_without_vhost(call: Call) -> Reply:
    """``POST /v1/vhosts:reloadCertificate``: OME's 500 as a 400 naming the right routes."""
    raise msg.RELOAD_NEEDS_VHOST.error()
