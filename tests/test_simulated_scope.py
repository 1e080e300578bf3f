"""The simulated engine advances only what a call asks about (plus whatever changed or has
a job due): its answers must be those of an engine that advances everything at every call.

Two runtimes get the same operations on the same clock times; in the reference one every
tick advances the whole server (as the engine did before it was scoped), the other runs as
it is.  At the end every level of both must read the same, and
each level's rates and connections must be the sums of the ones below.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_runtime_support import Runtime

STATS = "/v1/stats/current"
APPS = (("default", "app"), ("default", "bare"), ("second", "a"), ("second", "b"))
STREAMS = ("s1", "s2")
#: every level a run ends by reading, server first
LEVELS = (
    STATS,
    f"{STATS}/vhosts/default",
    f"{STATS}/vhosts/second",
    *(f"{STATS}/vhosts/{v}/apps/{a}" for v, a in APPS),
)

_app = st.sampled_from(APPS)
_stream = st.sampled_from(STREAMS)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), _app, _stream, st.integers(0, 3)),
        st.tuples(st.just("viewers"), _app, _stream, st.integers(1, 3)),
        st.tuples(st.just("delete"), _app, _stream),
        st.tuples(st.just("push"), _app, _stream),
        st.tuples(st.just("stop push"), _app),
        st.tuples(st.just("record"), _app, _stream),
        st.tuples(st.just("stop record"), _app),
        st.tuples(st.just("restart"), _app),
        st.tuples(st.just("advance"), st.sampled_from([0.25, 0.5, 1.0, 1.5, 7.0, 61.0])),
        st.tuples(st.just("look"), st.sampled_from(LEVELS)),
    ),
    max_size=30,
)


def _runtime(directory: str) -> Runtime:
    rt = Runtime(Path(directory))
    rt.ok("POST", "/v1/vhosts", [{"name": "second"}])
    rt.ok("POST", "/v1/vhosts/second/apps", [{"name": "a", "type": "live"}])
    rt.ok("POST", "/v1/vhosts/second/apps", [{"name": "b", "type": "live"}])
    return rt


def _everything(rt: Runtime) -> Runtime:
    """``rt`` with every tick advancing the whole server, whatever the call asks about."""
    engine = rt.engine
    for part in (engine._streams_part, engine._jobs_part, engine._channels_part):
        part._tick = functools.partial(lambda tick, *scope: tick(), part._tick)
    engine._stats_part._tick = functools.partial(
        lambda tick, *scope: tick(), engine._stats_part._tick
    )
    return rt


def _apply(rt: Runtime, op: tuple[Any, ...]) -> object:
    """Run ``op``; what it answered (None for the engine's test controls)."""
    kind = op[0]
    if kind == "advance":
        rt.clock.advance(op[1])
        return None
    if kind == "look":
        return rt.call("GET", op[1])
    vhost, app = op[1]
    path = f"/v1/vhosts/{vhost}/apps/{app}"
    engine = rt.engine
    if kind == "publish":
        if op[2] not in engine.streams(vhost, app):
            engine.publish(vhost, app, op[2], viewers=op[3])
    elif kind == "viewers":
        if op[2] in engine.streams(vhost, app):
            engine.add_viewers(vhost, app, op[2], op[3])
    elif kind == "delete":
        return rt.call("DELETE", f"{path}/streams/{op[2]}")
    elif kind == "push":
        body = {"id": "p", "stream": {"name": op[2]}, "protocol": "srt", "url": "srt://d:9"}
        return rt.call("POST", f"{path}:startPush", body)
    elif kind == "stop push":
        return rt.call("POST", f"{path}:stopPush", {"id": "p"})
    elif kind == "record":
        return rt.call("POST", f"{path}:startRecord", {"id": "r", "stream": {"name": op[2]}})
    elif kind == "stop record":
        return rt.call("POST", f"{path}:stopRecord", {"id": "r"})
    elif kind == "restart":
        config = engine.application(vhost, app)
        if config is not None:
            engine.restart_application(vhost, config, config)
    return None


def _read(rt: Runtime) -> dict[str, Any]:
    out = {path: rt.call("GET", path) for path in LEVELS}
    for vhost, app in APPS:
        for stream in STREAMS:
            path = f"{STATS}/vhosts/{vhost}/apps/{app}/streams/{stream}"
            out[path] = rt.call("GET", path)
        for jobs in ("pushes", "records"):
            out[f"{vhost}/{app}:{jobs}"] = rt.call("POST", f"/v1/vhosts/{vhost}/apps/{app}:{jobs}")
    return out


def _additive(metrics: dict[str, Any]) -> tuple[int, ...]:
    # Byte totals are not: a restarted app counts from zero, its vhost keeps what it had.
    return (
        metrics["lastThroughputIn"],
        metrics["lastThroughputOut"],
        *metrics["connections"].values(),
    )


def _sum(rows: list[tuple[int, ...]]) -> tuple[int, ...]:
    return tuple(sum(column) for column in zip(*rows, strict=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
# A push connects a second after it starts, while nothing asks about its app: the levels
# above must see its connection then (the heap of due jobs), not when its app is next read.
@example(
    [
        ("publish", ("default", "app"), "s1", 0),
        ("push", ("default", "app"), "s1"),
        ("look", f"{STATS}/vhosts/default/apps/app"),
        ("advance", 1.5),
        ("look", f"{STATS}/vhosts/second"),
        ("advance", 1.5),
    ]
)
# Viewers added after a tick elsewhere are counted from that tick, not from the app's last.
@example(
    [
        ("publish", ("default", "app"), "s1", 0),
        ("stop push", ("default", "app")),
        ("advance", 0.25),
        ("delete", ("default", "bare"), "s1"),
        ("viewers", ("default", "app"), "s1", 1),
    ]
)
# A restart catches its app up: the levels above must be settled with it (their
# lastRecvTime), as after a tick.
@example(
    [
        ("publish", ("default", "bare"), "s1", 0),
        ("stop push", ("default", "app")),
        ("advance", 0.25),
        ("stop push", ("default", "app")),
        ("restart", ("default", "bare")),
    ]
)
def test_a_scoped_engine_answers_as_one_that_advances_everything(ops: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        scoped, reference = _runtime(a), _everything(_runtime(b))
        for op in ops:
            assert _apply(scoped, op) == _apply(reference, op), op
        got, want = _read(scoped), _read(reference)
        assert {k: v for k, v in got.items() if want[k] != v} == {
            k: v for k, v in want.items() if got[k] != v
        }
        levels = {
            path: body["response"]
            for path, (status, body) in got.items()
            if path.startswith(STATS) and status == 200
        }
        vhosts = [levels[f"{STATS}/vhosts/{v}"] for v in ("default", "second")]
        assert _additive(levels[STATS]) == _sum([_additive(m) for m in vhosts])
        for vhost in ("default", "second"):
            apps = [levels[f"{STATS}/vhosts/{v}/apps/{a}"] for v, a in APPS if v == vhost]
            assert _additive(levels[f"{STATS}/vhosts/{vhost}"]) == _sum(
                [_additive(m) for m in apps]
            )
