"""What an application's config enables at runtime: publishers, providers, output profiles.

These are facts of the config (the registry owns it), read the same way by the controllers
(to answer "not enabled") and by the simulated engine (to build outputs).
"""

from __future__ import annotations

import os

from omeapi._config import ApplicationConfig
from omeapi._config.nodes import Item

__all__ = [
    "channel_dir",
    "has_llhls_default_playlist",
    "provider",
    "publisher",
]


def _section(app: ApplicationConfig, section: str, name: str) -> Item | None:
    parent = app.node.item(section)
    return None if parent is None else parent.item(name)


def publisher(app: ApplicationConfig, name: str) -> Item | None:
    """``<Publishers><name>`` of the app (XML name: ``Push``, ``FILE``, ``LLHLS`` ...)."""
    return _section(app, "Publishers", name)


def provider(app: ApplicationConfig, name: str) -> Item | None:
    """``<Providers><name>`` of the app (``Schedule``, ``Multiplex`` ...)."""
    return _section(app, "Providers", name)


def has_llhls_default_playlist(app: ApplicationConfig) -> bool:
    """LL-HLS is published and adds its default playlist (``CreateDefaultPlaylist``)."""
    llhls = publisher(app, "LLHLS")
    return llhls is not None and bool(llhls.value("CreateDefaultPlaylist", True))


#: provider XML name → the element naming its files directory
_CHANNEL_DIRS = {"Schedule": "ScheduleFilesDir", "Multiplex": "MuxFilesDir"}


def channel_dir(app: ApplicationConfig, kind: str, config_dir: str) -> str | None:
    """Where the app keeps its ``Schedule`` (``.sch``) or ``Multiplex`` (``.mux``) files.

    None when the provider is not configured.  A relative directory is resolved against the
    Server.xml's directory; an empty one means that directory itself.
    """
    section = provider(app, kind)
    if section is None:
        return None
    configured = str(section.value(_CHANNEL_DIRS[kind], "") or "")
    return os.path.normpath(os.path.join(config_dir or os.curdir, configured))
