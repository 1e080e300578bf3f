"""The app lifecycle table (``omeapi._state.lifecycle``): pure, no threads, no engine.

Every row of :func:`plan` and of ``TRANSITIONS`` is a case here; a property checks that a
plan whose steps all succeed reaches the desired config (planning again then says
nothing to do).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omeapi._config import ApplicationConfig, application_from_json
from omeapi._state.lifecycle import (
    ABSENT,
    TRANSITIONS,
    AppState,
    Outcome,
    Phase,
    Plan,
    Step,
    Target,
    after,
    changed_fields,
    failed,
    plan,
    running,
)


def app(workers: int = 1, app_type: str = "live") -> ApplicationConfig:
    return application_from_json(
        {"name": "a", "type": app_type, "publishers": {"appWorkerCount": workers}}
    )


OLD, NEW = app(1), app(2)
#: equal to OLD but another object: plans compare configs, not identities
OLD_AGAIN = app(1)
TYPE_CHANGED = app(1, "vod")
LIVE = frozenset({"publishers"})

# fmt: off
#: (id, current, desired, live fields, retry, expected step, new, previous)
PLAN_ROWS = [
    ("absent-to-nothing", ABSENT, None, frozenset(), False, Step.NOTHING, None, None),
    ("absent-create", ABSENT, NEW, frozenset(), False, Step.CREATE, NEW, None),
    ("absent-create-retry", ABSENT, NEW, frozenset(), True, Step.CREATE, NEW, None),
    ("running-delete", running(OLD), None, frozenset(), False, Step.DELETE, None, OLD),
    ("running-same", running(OLD), OLD, frozenset(), False, Step.NOTHING, None, None),
    ("running-equal", running(OLD), OLD_AGAIN, LIVE, True, Step.NOTHING, None, None),
    ("running-restart", running(OLD), NEW, frozenset(), False, Step.RESTART, NEW, OLD),
    ("running-hot-apply", running(OLD), NEW, LIVE, False, Step.HOT_APPLY, NEW, OLD),
    ("running-not-all-live", running(OLD), TYPE_CHANGED, LIVE, False, Step.RESTART,
     TYPE_CHANGED, OLD),
    ("failed-forget", failed(OLD), None, frozenset(), False, Step.FORGET, None, None),
    ("failed-same-not-retried", failed(OLD), OLD_AGAIN, frozenset(), False, Step.NOTHING,
     None, None),
    ("failed-same-retried", failed(OLD), OLD, frozenset(), True, Step.CREATE, OLD, None),
    ("failed-other", failed(OLD), NEW, LIVE, False, Step.CREATE, NEW, None),
]
# fmt: on


@pytest.mark.parametrize(
    ("current", "desired", "live", "retry", "step", "new", "previous"),
    [row[1:] for row in PLAN_ROWS],
    ids=[row[0] for row in PLAN_ROWS],
)
def test_plan(
    current: AppState,
    desired: ApplicationConfig | None,
    live: frozenset[str],
    retry: bool,
    step: Step,
    new: ApplicationConfig | None,
    previous: ApplicationConfig | None,
) -> None:
    got = plan(current, desired, live, retry=retry)
    assert (got.step, got.new, got.previous) == (step, new, previous)
    if step in (Step.CREATE, Step.RESTART, Step.HOT_APPLY):
        assert got.kept is desired  # what is marked failed when nothing starts


def test_plan_keeps_the_given_config_on_failure() -> None:
    assert plan(running(OLD), NEW, kept=OLD).kept is OLD


# fmt: off
#: (step, outcome, state after, next step); the plan is RESTART-like: new NEW, previous
#: OLD, kept OLD; the state before the step is running(OLD).
TRANSITION_ROWS = [
    (Step.CREATE, Outcome.OK, running(NEW), None),
    (Step.CREATE, Outcome.FAILED, failed(OLD), None),
    (Step.CREATE, Outcome.MISSING, failed(OLD), None),
    (Step.CREATE, Outcome.PRESENT, failed(OLD), None),
    (Step.HOT_APPLY, Outcome.OK, running(NEW), None),
    (Step.HOT_APPLY, Outcome.FAILED, running(OLD), Step.RESTART),
    (Step.HOT_APPLY, Outcome.MISSING, running(OLD), Step.RESTART),
    (Step.HOT_APPLY, Outcome.PRESENT, running(OLD), Step.RESTART),
    (Step.RESTART, Outcome.OK, running(NEW), None),
    (Step.RESTART, Outcome.FAILED, ABSENT, Step.ROLLBACK),
    (Step.RESTART, Outcome.MISSING, ABSENT, Step.ROLLBACK),
    (Step.RESTART, Outcome.PRESENT, ABSENT, Step.ROLLBACK),
    (Step.ROLLBACK, Outcome.OK, running(OLD), None),
    (Step.ROLLBACK, Outcome.FAILED, failed(OLD), None),
    (Step.ROLLBACK, Outcome.MISSING, failed(OLD), None),
    (Step.ROLLBACK, Outcome.PRESENT, running(OLD), None),
    (Step.DELETE, Outcome.OK, ABSENT, None),
    (Step.DELETE, Outcome.MISSING, ABSENT, None),
    (Step.DELETE, Outcome.FAILED, running(OLD), None),
    (Step.DELETE, Outcome.PRESENT, running(OLD), None),
    (Step.FORGET, Outcome.OK, ABSENT, None),
    (Step.FORGET, Outcome.MISSING, ABSENT, None),
    (Step.FORGET, Outcome.FAILED, running(OLD), None),
    (Step.FORGET, Outcome.PRESENT, running(OLD), None),
]
# fmt: on


@pytest.mark.parametrize(
    ("step", "outcome", "state", "following"),
    TRANSITION_ROWS,
    ids=[f"{step.value}-{outcome.value}" for step, outcome, _, _ in TRANSITION_ROWS],
)
def test_transition(step: Step, outcome: Outcome, state: AppState, following: Step | None) -> None:
    todo = Plan(step, NEW, OLD, OLD)
    assert after(running(OLD), todo, step, outcome) == (state, following)


def test_every_transition_is_tested() -> None:
    assert {(step, outcome) for step, outcome, _, _ in TRANSITION_ROWS} == set(TRANSITIONS)
    # every step but NOTHING can end each way; NOTHING never runs
    assert {step for step, _ in TRANSITIONS} == set(Step) - {Step.NOTHING}
    assert {target for target, _ in TRANSITIONS.values()} == set(Target)


def test_changed_fields() -> None:
    assert changed_fields(OLD, NEW) == {"publishers"}
    assert changed_fields(OLD, OLD_AGAIN) == frozenset()
    assert changed_fields(OLD, TYPE_CHANGED) == {"type"}


CONFIGS = [OLD, NEW, TYPE_CHANGED]
states = st.one_of(
    st.just(ABSENT),
    st.sampled_from(CONFIGS).map(running),
    st.sampled_from(CONFIGS).map(failed),
)


@given(
    current=states,
    desired=st.one_of(st.none(), st.sampled_from(CONFIGS)),
    live=st.sampled_from([frozenset(), LIVE]),
    retry=st.booleans(),
)
def test_a_plan_that_succeeds_reaches_the_desired_config(
    current: AppState,
    desired: ApplicationConfig | None,
    live: frozenset[str],
    retry: bool,
) -> None:
    todo = plan(current, desired, live, retry=retry)
    state = current
    if todo.step is not Step.NOTHING:
        state, following = after(current, todo, todo.step, Outcome.OK)
        assert following is None
    if desired is None:
        assert state.phase is not Phase.RUNNING
        assert state == ABSENT or todo.step is Step.NOTHING
    elif state.phase is Phase.RUNNING:
        assert state.config is not None
        assert state.config.json_bytes == desired.json_bytes
    else:  # only a failed config that is not retried stays as it is
        assert (state, retry, todo.step) == (current, False, Step.NOTHING)
    assert plan(state, desired, live).step is Step.NOTHING


@given(
    current=st.sampled_from(CONFIGS).map(running),
    desired=st.sampled_from(CONFIGS),
    live=st.sampled_from([frozenset(), LIVE]),
    failures=st.lists(st.sampled_from([Outcome.FAILED, Outcome.MISSING]), max_size=3),
)
def test_a_change_that_fails_never_loses_the_app(
    current: AppState, desired: ApplicationConfig, live: frozenset[str], failures: list[Outcome]
) -> None:
    """Whatever fails, a running app ends running (new or previous) or marked failed with
    the kept config: never silently absent."""
    todo = plan(current, desired, live, kept=current.config)
    step: Step | None = todo.step
    state = current
    outcomes = iter(failures)
    while step is not None and step is not Step.NOTHING:
        state, step = after(state, todo, step, next(outcomes, Outcome.OK))
    assert state.phase is not Phase.ABSENT
    assert state.config in (current.config, desired)
