"""Choosing a store: from a location (``--store``, ``<Managers><API><Storage>``) to an
open :class:`~omeapi.Store`.

The SQL stores are imported only when one is opened: a process on the in-memory store never
loads ``sqlite3`` or ``psycopg``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from omeapi._stores.base import AuditRetention, Store
from omeapi._stores.memory import MemoryStore

if TYPE_CHECKING:
    from omeapi._config import ServerConfig

__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_STORAGE_PATH",
    "is_postgres",
    "open_store",
    "shown_location",
    "sqlite_file",
    "store_for_config",
    "store_location",
]

#: OME's default ``<Storage><Path>`` (resolved against the config directory like a written one).
DEFAULT_STORAGE_PATH = "conf/api_data"
#: The SQLite file created inside a ``<Path>`` directory.
DB_FILE_NAME = "omeapi.sqlite3"
#: File name endings that make a ``<Path>`` the SQLite file itself rather than its directory.
_DB_SUFFIXES = (".sqlite3", ".sqlite", ".db")

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    """Whether ``location`` is a PostgreSQL URL."""
    return location.startswith(_POSTGRES_SCHEMES)


def shown_location(location: str | None) -> str:
    """``location`` as messages and logs may show it: a PostgreSQL URL without its
    password, ``memory`` for the in-memory store."""
    if location is None or location == "memory":
        return "memory"
    if is_postgres(location):
        from omeapi._stores.postgres import safe_location

        return safe_location(location)
    return location


def sqlite_file(path: str) -> str:
    """The SQLite file for a ``<Storage><Path>``: the path itself when it names a file
    (an existing one, or one ending in ``.sqlite3``/``.sqlite``/``.db``), else
    ``omeapi.sqlite3`` inside it (a directory, OME's meaning of ``<Path>``)."""
    if os.path.isfile(path) or path.endswith(_DB_SUFFIXES):
        return path
    return os.path.join(path, DB_FILE_NAME)


def store_location(config: ServerConfig, override: str | None = None) -> str | None:
    """Where ``config``'s store is (a PostgreSQL URL or a SQLite file), or None for the
    in-memory store.

    ``override`` (``--store``) wins: ``memory`` forces the in-memory store.  Otherwise
    ``<Managers><API><Storage>`` decides: absent or ``<Enabled>false`` is in-memory; an
    empty ``<Path>`` is OME's default ``conf/api_data``, resolved against the config
    directory as a written one is.
    """
    if override is not None:
        if override == "memory":
            return None
        return override if is_postgres(override) else sqlite_file(os.path.abspath(override))
    manager = config.api_manager
    storage = manager.storage if manager is not None else None
    if storage is None or not storage.enabled:
        return None
    path = storage.path
    # ResolvePath put the config directory in front of a URL too ("<dir>/postgresql://…").
    for scheme in _POSTGRES_SCHEMES:
        start = path.find(scheme)
        if start >= 0:
            return path[start:]
    if not path:
        path = f"{(config.config_dir or os.getcwd()).rstrip('/')}/{DEFAULT_STORAGE_PATH}"
    return sqlite_file(path)


def open_store(location: str | None, *, audit_retention: AuditRetention | None = None) -> Store:
    """The store at ``location`` (from :func:`store_location`): PostgreSQL for a
    ``postgresql://`` URL, SQLite for a file path, in-memory for None or ``memory``.

    ``audit_retention`` limits the audit log (by age and/or rows), applied as changes are
    written; None keeps every record (the in-memory store still keeps at most 10,000).
    """
    if location is None or location == "memory":
        return MemoryStore(audit_retention=audit_retention)
    if is_postgres(location):
        from omeapi._stores.postgres import PostgresStore

        return PostgresStore(location, audit_retention=audit_retention)
    from omeapi._stores.sqlite import SqliteStore

    return SqliteStore(sqlite_file(location), audit_retention=audit_retention)


def store_for_config(config: ServerConfig, override: str | None = None) -> Store:
    """The store ``config`` asks for (see :func:`store_location`), opened."""
    return open_store(store_location(config, override))
