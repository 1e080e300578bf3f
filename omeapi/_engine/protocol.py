"""The media engine interface: what a host media server implements for omeapi.

omeapi owns the configuration (the registry) and the order of changes (the restart
coordinator); the engine owns runtime state: running applications, streams and sessions.
The API reaches the media server only through this protocol.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol, runtime_checkable

import attrs

from omeapi._config import ApplicationConfig, VirtualHostConfig
from omeapi._engine.runtime import RuntimeEngine
from omeapi._errors import EngineError, EngineResult

__all__ = [
    "EngineError",
    "EngineResult",
    "MediaEngine",
    "RestartOutcome",
    "RuntimeEngine",
]


@attrs.frozen
class RestartOutcome:
    """What a restart did: how many sessions (viewers and publishers) it dropped."""

    sessions_dropped: int = 0


@runtime_checkable
class MediaEngine(RuntimeEngine, Protocol):
    """What omeapi needs from the media server: the app lifecycle below, and the runtime
    operations of :class:`~omeapi.RuntimeEngine`.

    Every method either succeeds or raises :class:`EngineError`.  Calls for one application
    are never concurrent (the restart coordinator serialises them); calls for different
    applications may be.
    """

    def create_virtual_host(self, vhost: VirtualHostConfig) -> None:
        """Start serving a virtual host (its applications are created separately)."""

    def delete_virtual_host(self, name: str) -> None:
        """Stop a virtual host; its applications have already been deleted."""

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        """Start an application."""

    def delete_application(self, vhost: str, app: str) -> int:
        """Stop an application; returns the number of sessions dropped."""

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        """Stop ``old`` and start ``new`` in its place (the app's sessions are dropped).

        If ``new`` cannot start, raise :class:`EngineError` and leave the app stopped: the
        coordinator then calls :meth:`create_application` with ``old`` to bring it back.
        """

    def live_fields(self) -> Set[str]:
        """Top-level app JSON keys the engine can change without a restart (may be empty)."""

    def apply_live(self, vhost: str, old: ApplicationConfig, new: ApplicationConfig) -> None:
        """Change a running app in place; only called when every changed key is live."""
