"""Audit retention: a store keeps N days and/or N rows of its audit log, applied as it writes,
and ``omeapi audit --prune-days / --prune-rows`` prunes on demand (docs/deployment.md).

Each case runs on the in-memory store, SQLite and PostgreSQL (``$OMEAPI_TEST_POSTGRES``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import fresh_location

from omeapi._stores.base import DAY, AuditEntry, AuditPruning, AuditRetention, Change, Store
from omeapi._stores.open import open_store
from omeapi.cli import main

KINDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=KINDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
        return
    yield from fresh_location(request.param, tmp_path)


def entry(when: float, path: str = "/v1/vhosts") -> AuditEntry:
    return AuditEntry(when, "192.0.2.7", "POST", path, {})


def write(store: Store, count: int, *, when: float, start: int = 0) -> None:
    """``count`` changes (a vhost created and deleted in turn), each with an audit record."""
    for i in range(start, start + count):
        kind = Change.CREATE_VHOST if i % 2 == 0 else Change.DELETE_VHOST
        store.apply(Change(kind, "v", config={"name": "v"}, audit=entry(when, f"/{i}")))


def paths(store: Store) -> list[str]:
    return [r.path for r in store.audit_log()]


def test_without_retention_nothing_is_pruned(location: str) -> None:
    store = open_store(location)
    try:
        write(store, 30, when=time.time() - 400 * DAY)
        assert len(store.audit_log()) == 30
    finally:
        store.close()


def test_rows_are_kept_to_the_limit_on_write(location: str) -> None:
    store = open_store(location, audit_retention=AuditRetention(rows=5, every=10))
    try:
        now = time.time()
        write(store, 1, when=now)
        assert paths(store) == ["/0"]
        write(store, 10, when=now, start=1)  # the 11th write prunes: the newest 5 stay
        assert paths(store) == [f"/{i}" for i in range(6, 11)]
        write(store, 9, when=now, start=11)  # not yet due: the log grows by at most `every`
        assert len(store.audit_log()) == 14
        write(store, 1, when=now, start=20)
        assert paths(store) == [f"/{i}" for i in range(16, 21)]
    finally:
        store.close()


def test_old_records_go_on_write(location: str) -> None:
    store = open_store(location, audit_retention=AuditRetention(days=7, every=1))
    try:
        now = time.time()
        write(store, 4, when=now - 8 * DAY)
        write(store, 2, when=now - 6 * DAY, start=4)
        # Every write prunes (every=1): only the last old record (written just now) is left.
        assert paths(store) == ["/4", "/5"]
        write(store, 1, when=now, start=6)
        assert paths(store) == ["/4", "/5", "/6"]
    finally:
        store.close()


def test_retention_applies_to_what_earlier_processes_wrote(location: str) -> None:
    if location == "memory":
        pytest.skip("the in-memory store ends with its process")
    first = open_store(location)
    try:
        write(first, 12, when=time.time() - 30 * DAY)
    finally:
        first.close()
    second = open_store(location, audit_retention=AuditRetention(days=10, rows=3))
    try:
        write(second, 2, when=time.time(), start=12)  # its first write prunes
        assert paths(second) == ["/12", "/13"]
    finally:
        second.close()


@pytest.mark.parametrize(
    ("retention", "kept"),
    [
        (AuditRetention(rows=3), ["/7", "/8", "/9"]),
        (AuditRetention(days=2), ["/5", "/6", "/7", "/8", "/9"]),
        (AuditRetention(days=2, rows=2), ["/8", "/9"]),
        (AuditRetention(days=100, rows=100), [f"/{i}" for i in range(10)]),
        (AuditRetention(), [f"/{i}" for i in range(10)]),
    ],
)
def test_prune_audit(location: str, retention: AuditRetention, kept: list[str]) -> None:
    store = open_store(location)
    try:
        now = time.time()
        write(store, 5, when=now - 3 * DAY)
        write(store, 5, when=now - 1 * DAY, start=5)
        assert isinstance(store, AuditPruning)
        assert store.prune_audit(retention, now) == 10 - len(kept)
        assert paths(store) == kept
        assert store.prune_audit(retention, now) == 0  # idempotent
    finally:
        store.close()


@pytest.mark.parametrize(
    "arguments",
    [{"days": 0}, {"days": -1.0}, {"rows": 0}, {"rows": -3}, {"rows": 1, "every": 0}],
)
def test_retention_arguments(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AuditRetention(**arguments)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 20), every=st.integers(1, 20), writes=st.integers(0, 60))
def test_the_memory_log_never_exceeds_rows_plus_every(rows: int, every: int, writes: int) -> None:
    store = open_store("memory", audit_retention=AuditRetention(rows=rows, every=every))
    write(store, writes, when=time.time())
    log = paths(store)
    assert len(log) <= rows + every - 1 or len(log) <= rows
    assert log == [f"/{i}" for i in range(writes - len(log), writes)]  # the newest ones


def test_omeapi_audit_prunes(
    location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if location == "memory":
        assert main(["audit", "--store", "memory", "--prune-rows", "1"]) == 1
        return
    store = open_store(location)
    try:
        now = time.time()
        write(store, 6, when=now - 40 * DAY)
        write(store, 4, when=now, start=6)
    finally:
        store.close()
    capsys.readouterr()
    assert main(["audit", "--store", location, "--prune-days", "30"]) == 0
    assert "pruned 6 records" in capsys.readouterr().out
    assert main(["audit", "--store", location, "--prune-rows", "1"]) == 0
    assert "pruned 3 records" in capsys.readouterr().out
    assert main(["audit", "--store", location, "--json"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["--prune-days", "0"],
        ["--prune-days", "soon"],
        ["--prune-days", "nan"],
        ["--prune-rows", "0"],
        ["--prune-rows", "2.5"],
    ],
)
def test_omeapi_audit_rejects_bad_prune_values(
    tmp_path: Path, arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--store", str(tmp_path), *arguments])
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_omeapi_audit_prune_and_since_do_not_mix(tmp_path: Path) -> None:
    assert main(["audit", "--store", str(tmp_path), "--since", "1h", "--prune-rows", "3"]) == 2
