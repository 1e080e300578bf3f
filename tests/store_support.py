"""What the store tests share: a fresh store location per test, for SQLite and PostgreSQL.

PostgreSQL is reached through ``$OMEAPI_TEST_POSTGRES`` (a ``postgresql://`` URL, e.g. the
throwaway server ``.ci/run`` starts).  Without it the PostgreSQL cases are skipped, unless
``$OMEAPI_REQUIRE_POSTGRES`` is set (CI sets it): then they fail, so a CI machine without
PostgreSQL cannot pass by skipping.  Each PostgreSQL case gets its own schema (through the
URL's ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "POSTGRES_ENV",
    "STORE_KINDS",
    "fresh_location",
    "postgres_dsn",
    "server_xml_with_storage",
]

POSTGRES_ENV = "OMEAPI_TEST_POSTGRES"
REQUIRE_ENV = "OMEAPI_REQUIRE_POSTGRES"

#: The parametrisation of every store test.
STORE_KINDS = ["sqlite", "postgres"]


def postgres_dsn() -> str:
    """The test server's URL, or skip (fail when PostgreSQL is required)."""
    dsn = os.environ.get(POSTGRES_ENV, "")
    if not dsn:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"${POSTGRES_ENV} is not set but ${REQUIRE_ENV} asks for PostgreSQL")
        pytest.skip(f"PostgreSQL store tests need ${POSTGRES_ENV} (a postgresql:// URL)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get(REQUIRE_ENV):
            raise
        pytest.skip("PostgreSQL store tests need psycopg (pip install 'omeapi[postgres]')")
    return dsn


def fresh_location(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield a new, empty store location of ``kind``; remove it afterwards."""
    if kind == "sqlite":
        yield str(tmp_path / "api_data")
        return
    import psycopg

    dsn = postgres_dsn()
    schema = "omeapi_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def server_xml_with_storage(template: str, location: str | None, *, enabled: bool = True) -> str:
    """``template`` (conftest's Server.xml) with ``<Storage>`` in ``<Managers><API>``."""
    path = "" if location is None else f"<Path>{location.replace('&', '&amp;')}</Path>"
    storage = f"<Storage><Enabled>{str(enabled).lower()}</Enabled>{path}</Storage>"
    marker = "<AccessToken>"
    assert template.count(marker) == 1
    return template.replace(marker, storage + marker)
