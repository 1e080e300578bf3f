"""The cheap freshness check: a shared store's generation, read on every request instead of
the database (docs/deployment.md, "Workers").

Two store objects on one SQLite file stand for two processes (the generation file is mapped
shared, so they see each other's bumps as processes do); a spy counts the database reads.
Several real worker processes are tested in test_serve_workers.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omeapi._state.registry import Registry
from omeapi._stores.base import Change, Generation
from omeapi._stores.memory import MemoryStore
from omeapi._stores.sqlite import GENERATION_SUFFIX, SqliteStore


class CountingStore(SqliteStore):
    """A SQLite store that counts its counter reads."""

    reads = 0

    def version(self) -> int:
        self.reads += 1
        return super().version()


def vhost(name: str) -> Change:
    return Change(Change.CREATE_VHOST, name, config={"name": name})


@pytest.fixture
def pair(tmp_path: Path) -> Any:
    path = str(tmp_path / "store.sqlite3")
    writer, reader = SqliteStore(path), CountingStore(path)
    yield writer, reader
    writer.close()
    reader.close()


def test_the_generation_file_lies_beside_the_database(pair: Any, tmp_path: Path) -> None:
    writer, _ = pair
    assert isinstance(writer, Generation)
    assert (tmp_path / ("store.sqlite3" + GENERATION_SUFFIX)).stat().st_size == 8
    assert not isinstance(MemoryStore(), Generation)


def test_every_committed_change_bumps_the_generation_for_every_opener(pair: Any) -> None:
    writer, reader = pair
    before = reader.generation()
    writer.apply(vhost("a"))
    assert reader.generation() == writer.generation() == before + 1
    with pytest.raises(Exception, match="exists"):
        writer.apply(vhost("a"))  # a refused change commits nothing and bumps nothing
    assert reader.generation() == before + 1


def test_the_database_is_read_only_when_the_generation_moved(pair: Any) -> None:
    writer, reader = pair
    registry = Registry(store=reader)
    registry.refresh()
    reads = reader.reads
    for _ in range(100):
        assert registry.refresh() is False
    assert reader.reads == reads  # nothing moved: no counter read at all

    writer.apply(vhost("seen"))  # "another worker" acknowledges a change
    assert registry.refresh() is True  # the very next request sees it
    assert registry.vhost("seen") is not None
    assert reader.reads > reads
    reads = reader.reads
    assert registry.refresh() is False
    assert reader.reads == reads


def test_a_change_of_this_process_needs_one_counter_read(pair: Any) -> None:
    _, reader = pair
    registry = Registry(store=reader)
    registry.refresh()
    reader.apply(vhost("own"))
    reads = reader.reads
    assert registry.refresh() is True
    assert registry.refresh() is False
    assert reader.reads - reads <= 3


def test_the_followers_check_finds_a_change_whose_bump_was_lost(
    pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = pair
    registry = Registry(store=reader)
    registry.refresh()
    # A writer killed between its commit and its bump.
    monkeypatch.setattr(writer, "_bump", lambda: None)
    writer.apply(vhost("lost"))
    assert registry.refresh() is False  # the generation did not move ...
    assert registry.refresh(check=True) is True  # ... the follower's periodic look finds it
    assert registry.vhost("lost") is not None


def test_a_closed_store_has_no_generation(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    store.close()
    assert store.generation() is None


def test_postgres_has_no_generation_to_trust() -> None:
    # Notifications arrive after the commit: a generation bumped by them would let a node
    # answer from (or write on) a stale snapshot meanwhile, so every request reads the
    # counter (test_store.py checks the visibility against a real server).
    postgres = pytest.importorskip("omeapi._stores.postgres")
    store = object.__new__(postgres.PostgresStore)  # no database needed
    assert not isinstance(store, Generation)
    assert isinstance(SqliteStore.__new__(SqliteStore), Generation)
