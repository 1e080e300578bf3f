"""What the controllers are handed: the services of one API, and who is asking.

:class:`Services` is built once by the composition root (:mod:`omeapi._build`) and frozen;
the handler passes it to every controller instead of itself, so controllers see the
registry, the coordinator, the engine and the certificates, and nothing of HTTP dispatch.
The state types are named for type checkers only: this module, like the handler and the
controllers, imports nothing that runs threads or opens files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

# Who is asking has its own home below this module and the state layer; named here too
# for the handler, which sets it around each controller.
from omeapi._audit_source import AuditSource, current_source
from omeapi._config.ome_wire import OmeWire, wire_for

if TYPE_CHECKING:
    from omeapi._config import ServerConfig
    from omeapi._engine.protocol import MediaEngine
    from omeapi._state.certificates import Certificates
    from omeapi._state.events import EventFeed
    from omeapi._state.follow import StoreFollower
    from omeapi._state.registry import Registry
    from omeapi._state.restart import RestartCoordinator
    from omeapi._stores.base import Store

__all__ = ["AuditSource", "Services", "current_source"]


@attrs.frozen
class Services:
    """The parts of one API, wired together by :func:`omeapi.open_api`.

    ``follower`` is set when the store is shared with other processes; it is not running
    until whoever serves the API starts it (:meth:`omeapi.Api.start`).
    """

    config: ServerConfig
    engine: MediaEngine
    store: Store
    registry: Registry
    coordinator: RestartCoordinator
    certificates: Certificates
    follower: StoreFollower | None = None
    #: whether closing the API closes the store (False for a store the caller passed in)
    owns_store: bool = True
    #: the OME version whose wire the API speaks (names, routes, answer fields)
    wire: OmeWire = attrs.field(factory=wire_for)
    #: the event feed of this process (omeapi extension; None: no feed)
    events: EventFeed | None = None
