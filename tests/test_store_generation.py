"""The cheap freshness check: a shared store's generation, read on every request instead of
the database (docs/deployment.md, "Workers").

Two store objects on one SQLite file (or PostgreSQL database) stand for two processes (the
generation file is mapped shared, so they see each other's bumps as processes do); a spy
counts the database reads.
Several real worker processes are tested in test_serve_workers.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_support import fresh_location

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


def following(store: Any) -> Registry:
    """A registry over ``store`` that has read it once, as a worker's at start-up."""
    registry = Registry(store=store)
    registry.refresh()
    return registry


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
    registry = following(reader)
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
    registry = following(reader)
    reader.apply(vhost("own"))
    reads = reader.reads
    assert registry.refresh() is True
    assert registry.refresh() is False
    assert reader.reads - reads <= 3


def test_the_followers_check_finds_a_change_whose_bump_was_lost(
    pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = pair
    registry = following(reader)
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


@pytest.fixture
def postgres_pair(tmp_path: Path) -> Any:
    """Two PostgreSQL store objects on one database, as two workers of one machine; the
    reader listens to notifications, as a served worker's follower does."""
    postgres = pytest.importorskip("omeapi._stores.postgres")
    location = fresh_location("postgres", tmp_path)
    dsn = next(location)

    class CountingPostgres(postgres.PostgresStore):  # type: ignore[misc, name-defined]
        reads = 0

        def version(self) -> int:
            self.reads += 1
            return int(super().version())

    writer, reader = postgres.PostgresStore(dsn), CountingPostgres(dsn)
    stop, notified = threading.Event(), threading.Event()
    assert reader.generation() is None  # not listening yet: nothing to trust
    listener = threading.Thread(target=reader.watch, args=(notified.set, stop), daemon=True)
    listener.start()
    assert wait_for(lambda: reader.generation() is not None)
    yield writer, reader, notified
    stop.set()
    listener.join(5)
    writer.close()
    reader.close()
    assert reader.generation() is None
    with contextlib.suppress(StopIteration):
        next(location)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_postgres_workers_of_one_machine_see_a_change_at_their_next_request(
    postgres_pair: Any,
) -> None:
    writer, reader, _ = postgres_pair
    registry = following(reader)
    reads = reader.reads
    for _ in range(100):
        assert registry.refresh() is False
    assert reader.reads == reads  # one memory read a request, no round trip

    writer.apply(vhost("seen"))  # bumped before it is answered: no notification awaited
    assert registry.refresh() is True
    assert registry.vhost("seen") is not None


def test_postgres_changes_of_another_machine_arrive_by_notification(
    postgres_pair: Any,
) -> None:
    writer, reader, notified = postgres_pair
    registry = following(reader)
    writer._generation = None  # another machine: its bump does not reach this one
    notified.clear()
    writer.apply(vhost("far"))
    assert notified.wait(10)
    assert registry.refresh() is True  # the listener bumped this machine's generation
    assert registry.vhost("far") is not None


def test_a_change_starts_from_the_database_not_from_the_generation(
    postgres_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader, _ = postgres_pair
    registry = following(reader)
    # A change whose notification has not arrived yet: the generation did not move.
    monkeypatch.setattr(writer, "_bump", lambda: None)
    monkeypatch.setattr(reader, "_bump", lambda: None)
    writer.apply(vhost("racing"))
    assert registry.refresh() is False  # a read may answer from before it, for now ...
    assert registry.refresh(check=True) is True  # ... the base of a change may not
    assert registry.vhost("racing") is not None
