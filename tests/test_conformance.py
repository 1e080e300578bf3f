"""The engine conformance suite (:mod:`omeapi.testing.conformance`) has teeth.

The simulated engine passes it, plainly and with hot apply.  Deliberately broken engines
(small subclasses of it, below) are each caught, by the invariant that names their bug.  The
broken runs are derandomized and skip shrinking, so they fail the same way every time and
fast.
"""

from __future__ import annotations

import unittest

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import rule, run_state_machine_as_test

from omeapi._config import ApplicationConfig
from omeapi._engine.protocol import EngineError, RestartOutcome, RuntimeEngine
from omeapi._engine.values import SessionInfo, StreamInfo
from omeapi._simulated.engine import SimulatedEngine
from omeapi.testing import (
    ConformanceError,
    EngineProbe,
    conformance_machine,
    make_conformance_tests,
    run_conformance,
)

# -- the simulated engine conforms ------------------------------------------------------------

TestSimulatedEngineConforms = make_conformance_tests(SimulatedEngine)


def _hot_apply_engine() -> SimulatedEngine:
    return SimulatedEngine(live_fields={"publishers"})


TestSimulatedEngineWithHotApplyConforms = make_conformance_tests(_hot_apply_engine)


def test_the_simulated_engine_is_a_whole_probe() -> None:
    assert isinstance(SimulatedEngine(), EngineProbe)


# -- broken engines -----------------------------------------------------------------------------


class ForgetsToDropSessions(SimulatedEngine):
    """Restarts an app with its new config but keeps its streams and their sessions."""

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        with self._world.lock:
            running = self._world.apps.get((vhost, old.name))
            kept = dict(running.streams) if running is not None else {}
            outcome = super().restart_application(vhost, old, new)
            if running is not None:
                running.streams.update(kept)
            return outcome


class LosesAppOnFailedRestart(SimulatedEngine):
    """When a restart fails, bringing the previous config back "succeeds" without starting
    anything: the app is gone from the engine while the API shows it running."""

    def __init__(self) -> None:
        super().__init__()
        self._lost: set[tuple[str, str]] = set()

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        try:
            return super().restart_application(vhost, old, new)
        except EngineError:
            self._lost.add((vhost, old.name))
            raise

    def create_application(self, vhost: str, app: ApplicationConfig) -> None:
        if (vhost, app.name) in self._lost:
            self._lost.discard((vhost, app.name))
            return
        super().create_application(vhost, app)


class MalformedStreamDetail(SimulatedEngine):
    """Answers stream details whose input track types are lower case (``video``)."""

    def get_stream(self, vhost: str, app: str, stream: str) -> StreamInfo | None:
        info = super().get_stream(vhost, app, stream)
        if info is None:
            return None
        return attrs.evolve(
            info, tracks=tuple(attrs.evolve(t, type=t.type.lower()) for t in info.tracks)
        )


class RestartsTheWholeVhost(SimulatedEngine):
    """Restarting one app drops the sessions of every app of its vhost."""

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        with self._world.lock:
            outcome = super().restart_application(vhost, old, new)
            for (owner, _), running in self._world.apps.items():
                if owner == vhost:
                    running.drop_sessions()
            return outcome


class KeepsTheOldConfig(SimulatedEngine):
    """Reports a restart as done but goes on running the old config."""

    def restart_application(
        self, vhost: str, old: ApplicationConfig, new: ApplicationConfig
    ) -> RestartOutcome:
        return super().restart_application(vhost, old, old)


class DisconnectsNothing(SimulatedEngine):
    """Answers a disconnection as done but keeps the session."""

    def disconnect_session(self, vhost: str, app: str, stream: str, session_id: str) -> None:
        self.list_sessions(vhost, app, stream)


class HidesViewers(SimulatedEngine):
    """Lists only a stream's publisher."""

    def list_sessions(self, vhost: str, app: str, stream: str) -> list[SessionInfo]:
        return super().list_sessions(vhost, app, stream)[:1]


#: Reproducible and quick: a fixed sequence of examples, the first failure reported as is.
BROKEN = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize(
    ("engine", "invariants"),
    [
        (ForgetsToDropSessions, {"restart-drops-sessions"}),
        (
            LosesAppOnFailedRestart,
            {"rollback-keeps-previous-config", "failed-app-kept", "engine-matches-registry"},
        ),
        (MalformedStreamDetail, {"stream-detail-shape"}),
        (RestartsTheWholeVhost, {"only-changed-app-restarts"}),
        (KeepsTheOldConfig, {"engine-matches-registry"}),
        (DisconnectsNothing, {"sessions-agree"}),
        (HidesViewers, {"sessions-agree"}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_broken_engine_is_caught(engine: type[SimulatedEngine], invariants: set[str]) -> None:
    with pytest.raises(ConformanceError) as caught:
        run_conformance(engine, settings=BROKEN)
    assert caught.value.invariant in invariants, caught.value


def test_the_generated_test_case_fails_for_a_broken_engine() -> None:
    case = make_conformance_tests(MalformedStreamDetail, settings=BROKEN)
    assert issubclass(case, unittest.TestCase)
    result = unittest.TestResult()
    case("runTest").run(result)
    problems = result.failures + result.errors
    assert len(problems) == 1
    assert "[stream-detail-shape]" in problems[0][1]


def test_parts_of_the_suite_can_be_left_out() -> None:
    quick = settings(BROKEN, max_examples=10)
    # Without the stream rules, a malformed stream detail goes unnoticed…
    run_conformance(MalformedStreamDetail, settings=quick, skip={"streams"})
    with pytest.raises(ValueError, match="unknown rule groups"):
        run_conformance(SimulatedEngine, skip={"everything"})


def test_an_engine_without_sessions_passes() -> None:
    """The protocol's default ("not supported", 503) is conformant: sessions are optional."""

    class NoSessions(SimulatedEngine):
        def list_sessions(self, vhost: str, app: str, stream: str) -> list[SessionInfo]:
            return RuntimeEngine.list_sessions(self, vhost, app, stream)

        def disconnect_session(self, vhost: str, app: str, stream: str, session_id: str) -> None:
            RuntimeEngine.disconnect_session(self, vhost, app, stream, session_id)

    run_conformance(NoSessions, settings=settings(BROKEN, max_examples=10))


def test_a_companion_probe() -> None:
    """The probe may be another object than the engine: here, a view that offers only what
    the engine runs (no sessions, no failures): the rules that need more are skipped."""

    @attrs.frozen
    class RunningOnly:
        engine: SimulatedEngine

        def applications(self) -> dict[tuple[str, str], ApplicationConfig]:
            return self.engine.applications()

        def virtual_hosts(self) -> list[str]:
            return self.engine.virtual_hosts()

    run_conformance(SimulatedEngine, probe=RunningOnly, settings=settings(BROKEN, max_examples=10))
    with pytest.raises(ConformanceError, match="engine-matches-registry"):
        run_conformance(KeepsTheOldConfig, probe=RunningOnly, settings=BROKEN)


def test_a_host_can_add_rules() -> None:
    """``conformance_machine`` gives the bound state machine, to extend with a host's rules."""
    base = conformance_machine(SimulatedEngine)

    class WithVersion(base):  # type: ignore[misc,valid-type]
        @rule()
        def version(self) -> None:
            self.expect(self.send("GET", "/v1/version"), 200, "OK", "GET /v1/version")

    run_state_machine_as_test(WithVersion, settings=settings(BROKEN, max_examples=5))
