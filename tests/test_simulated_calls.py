"""The simulated engine's call log: indexes count every call, memory keeps the last few."""

from __future__ import annotations

import pytest

from omeapi._simulated.state import CallLog


def calls(count: int, keep: int = 5) -> CallLog:
    log = CallLog()
    log._recent = type(log._recent)(maxlen=keep)  # a small bound for the test
    for i in range(count):
        log.append(("op", f"v{i}", ""))
    return log


def test_a_mark_gives_the_calls_since() -> None:
    log = calls(3)
    mark = len(log)
    log.append(("restart_application", "v", "a"))
    assert log[mark:] == [("restart_application", "v", "a")]
    assert log[-1] == ("restart_application", "v", "a")
    assert log == [("op", "v0", ""), ("op", "v1", ""), ("op", "v2", ""), log[-1]]


def test_only_the_last_calls_are_kept_but_all_are_counted() -> None:
    log = calls(1000)
    assert len(log) == 1000
    assert len(log._recent) == 5
    assert log[995:] == [("op", f"v{i}", "") for i in range(995, 1000)]
    assert list(log)[-1] == ("op", "v999", "")
    with pytest.raises(IndexError):
        log[10]
    with pytest.raises(IndexError):
        log[10:]  # forgotten: an error, not a silently shorter list
