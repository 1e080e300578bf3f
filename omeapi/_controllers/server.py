"""Server-wide routes: ``/v1/version``."""

from __future__ import annotations

from omeapi._controllers.call import Call
from omeapi._wire.envelope import Reply, ok

__all__ = ["version"]


def version(call: Call) -> Reply:
    """The OME API version omeapi speaks (the wire's), and omeapi's own version as
    ``gitVersion``."""
    from omeapi._version import __version__

    return ok({"gitVersion": f"omeapi-{__version__}", "version": call.services.wire.api_version})
