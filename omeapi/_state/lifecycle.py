"""An app's lifecycle as data: its states, what to do to reach a desired config, and
where each engine outcome leads.

Pure: no locks, no engine, no registry.  The restart coordinator keeps one
:class:`AppState` per app, asks :func:`plan` how to go from it to the config the registry
shows, performs the plan's step on the engine and feeds the outcome to :func:`after`,
which says the next state (and, for a failed step, the step to try next).

States (:class:`Phase`): ``ABSENT`` (the engine runs nothing for the app), ``RUNNING``
(the engine runs ``config``) and ``FAILED`` (``config`` could not be started; the engine
runs nothing for it, and it is not tried again unless a request asks).
"""

from __future__ import annotations

import enum
from collections.abc import Set

import attrs

from omeapi._config import ApplicationConfig

__all__ = [
    "ABSENT",
    "AppState",
    "Outcome",
    "Phase",
    "Plan",
    "Step",
    "Target",
    "after",
    "changed_fields",
    "failed",
    "plan",
    "running",
]


class Phase(enum.Enum):
    ABSENT = "absent"
    RUNNING = "running"
    FAILED = "failed"


@attrs.frozen
class AppState:
    """Where one app is: ``config`` is what runs (``RUNNING``) or what could not be
    started (``FAILED``); None when ``ABSENT``."""

    phase: Phase
    config: ApplicationConfig | None = None


ABSENT = AppState(Phase.ABSENT)


def running(config: ApplicationConfig) -> AppState:
    return AppState(Phase.RUNNING, config)


def failed(config: ApplicationConfig) -> AppState:
    return AppState(Phase.FAILED, config)


class Step(enum.Enum):
    """One engine action (``NOTHING``: none)."""

    NOTHING = "nothing"
    #: ``create_application(new)``
    CREATE = "create"
    #: ``apply_live(previous, new)``: every changed field is one the engine changes live
    HOT_APPLY = "hot_apply"
    #: ``restart_application(previous, new)``
    RESTART = "restart"
    #: ``create_application(previous)`` after a failed restart (which left it stopped)
    ROLLBACK = "rollback"
    #: ``delete_application``
    DELETE = "delete"
    #: ``delete_application`` of an app that should not run (failed or unknown here):
    #: "not exists" from the engine is success
    FORGET = "forget"


class Outcome(enum.Enum):
    """What the engine answered to a step."""

    OK = "ok"
    FAILED = "failed"
    #: the engine does not have the app (``EngineResult.NOT_EXISTS``)
    MISSING = "missing"
    #: the engine already has the app (``EngineResult.EXISTS``)
    PRESENT = "present"


class Target(enum.Enum):
    """Where an outcome leads, relative to the plan."""

    #: RUNNING(new)
    RUNNING_NEW = "running_new"
    #: RUNNING(previous)
    RUNNING_PREVIOUS = "running_previous"
    #: FAILED(kept): nothing runs, the kept config is not tried again
    FAILED_KEPT = "failed_kept"
    ABSENT = "absent"
    #: the state before the step (the step changed nothing)
    UNCHANGED = "unchanged"


@attrs.frozen
class Plan:
    """How to reach the desired config: ``step`` first; ``new`` is what should run (None
    to run nothing), ``previous`` what runs now, ``kept`` the config to mark failed when
    nothing can be started."""

    step: Step
    new: ApplicationConfig | None = None
    previous: ApplicationConfig | None = None
    kept: ApplicationConfig | None = None


#: (step, outcome) -> (next state, next step or None).  A step absent with an outcome
#: cannot produce it (NOTHING never runs).  The single source of truth for every failure
#: path: hot apply falls back to a restart, a restart to a rollback, a failed rollback
#: marks the app failed.  ``PRESENT`` is a failure like ``FAILED`` except for a rollback:
#: an engine whose failed restart kept the previous app running answers the rollback's
#: create with "exists", and the app runs its previous config.
TRANSITIONS: dict[tuple[Step, Outcome], tuple[Target, Step | None]] = {
    (Step.CREATE, Outcome.OK): (Target.RUNNING_NEW, None),
    (Step.CREATE, Outcome.FAILED): (Target.FAILED_KEPT, None),
    (Step.CREATE, Outcome.MISSING): (Target.FAILED_KEPT, None),
    (Step.CREATE, Outcome.PRESENT): (Target.FAILED_KEPT, None),
    (Step.HOT_APPLY, Outcome.OK): (Target.RUNNING_NEW, None),
    (Step.HOT_APPLY, Outcome.FAILED): (Target.UNCHANGED, Step.RESTART),
    (Step.HOT_APPLY, Outcome.MISSING): (Target.UNCHANGED, Step.RESTART),
    (Step.HOT_APPLY, Outcome.PRESENT): (Target.UNCHANGED, Step.RESTART),
    (Step.RESTART, Outcome.OK): (Target.RUNNING_NEW, None),
    # A failed restart should leave the app stopped: start the previous config again.
    (Step.RESTART, Outcome.FAILED): (Target.ABSENT, Step.ROLLBACK),
    (Step.RESTART, Outcome.MISSING): (Target.ABSENT, Step.ROLLBACK),
    (Step.RESTART, Outcome.PRESENT): (Target.ABSENT, Step.ROLLBACK),
    (Step.ROLLBACK, Outcome.OK): (Target.RUNNING_PREVIOUS, None),
    (Step.ROLLBACK, Outcome.FAILED): (Target.FAILED_KEPT, None),
    (Step.ROLLBACK, Outcome.MISSING): (Target.FAILED_KEPT, None),
    # The engine kept the previous app running through the failed restart.
    (Step.ROLLBACK, Outcome.PRESENT): (Target.RUNNING_PREVIOUS, None),
    (Step.DELETE, Outcome.OK): (Target.ABSENT, None),
    (Step.DELETE, Outcome.MISSING): (Target.ABSENT, None),
    (Step.DELETE, Outcome.FAILED): (Target.UNCHANGED, None),
    (Step.DELETE, Outcome.PRESENT): (Target.UNCHANGED, None),
    (Step.FORGET, Outcome.OK): (Target.ABSENT, None),
    (Step.FORGET, Outcome.MISSING): (Target.ABSENT, None),
    (Step.FORGET, Outcome.FAILED): (Target.UNCHANGED, None),
    (Step.FORGET, Outcome.PRESENT): (Target.UNCHANGED, None),
}


def same(a: ApplicationConfig | None, b: ApplicationConfig | None) -> bool:
    """Whether two configs are equal: their trees, raw and converted values alike (a
    changed config shares its unchanged subtrees with the old one, which compare by
    identity, so this costs the changed part only)."""
    if a is b:
        return True
    return a is not None and b is not None and a.node == b.node


def changed_fields(old: ApplicationConfig, new: ApplicationConfig) -> frozenset[str]:
    """The top-level app JSON keys whose values differ."""
    before, after = old.json_value, new.json_value
    return frozenset(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def plan(
    current: AppState,
    desired: ApplicationConfig | None,
    live_fields: Set[str] = frozenset(),
    *,
    retry: bool = False,
    kept: ApplicationConfig | None = None,
) -> Plan:
    """The first step from ``current`` to running ``desired`` (None: running nothing).

    ``live_fields`` are the fields the engine changes without a restart; ``retry`` asks
    to start a failed config again (a request does, following the store does not);
    ``kept`` is the config to mark failed if nothing starts (default ``desired``).
    """
    kept = desired if kept is None else kept
    config = current.config
    if desired is None:
        if current.phase is Phase.RUNNING:
            return Plan(Step.DELETE, previous=config)
        if current.phase is Phase.FAILED:
            return Plan(Step.FORGET)
        return Plan(Step.NOTHING)
    if current.phase is Phase.RUNNING:
        assert config is not None
        if same(config, desired):
            return Plan(Step.NOTHING)
        live = bool(live_fields) and changed_fields(config, desired) <= live_fields
        step = Step.HOT_APPLY if live else Step.RESTART
        return Plan(step, desired, config, kept)
    if current.phase is Phase.FAILED and same(config, desired) and not retry:
        return Plan(Step.NOTHING)  # it did not start: not tried again by itself
    return Plan(Step.CREATE, desired, None, kept)


def after(
    current: AppState, done: Plan, step: Step, outcome: Outcome
) -> tuple[AppState, Step | None]:
    """The state after ``step`` of ``done`` ended with ``outcome``, and the step to take
    next (None: the plan is over)."""
    target, following = TRANSITIONS[(step, outcome)]
    if target is Target.RUNNING_NEW:
        assert done.new is not None
        return running(done.new), following
    if target is Target.RUNNING_PREVIOUS:
        assert done.previous is not None
        return running(done.previous), following
    if target is Target.FAILED_KEPT:
        assert done.kept is not None
        return failed(done.kept), following
    if target is Target.ABSENT:
        return ABSENT, following
    return current, following
