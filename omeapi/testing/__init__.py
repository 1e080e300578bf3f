"""Testing tools for projects that embed omeapi (``pip install omeapi[testing]``).

* :mod:`omeapi.testing.strategies`: hypothesis strategies for Server.xml configs, REST bodies
  (valid ones and near misses with the answer each must get), CORS cases and Authorization
  headers.  omeapi's own tests use these.
* :mod:`omeapi.testing.conformance`: the engine conformance suite.  Point
  :func:`make_conformance_tests` at your :class:`~omeapi.MediaEngine` factory and it
  gives you a test class that drives the API over your engine with random calls and checks
  the invariants the API relies on.
* :mod:`omeapi.testing.shapes`: the JSON shapes of OME's runtime answers, as data.

This package needs hypothesis; the rest of omeapi does not import it.  See ``docs/testing.md``.
"""

from omeapi.testing.conformance import (
    DEFAULT_SERVER_XML,
    DEFAULT_SETTINGS,
    GROUPS,
    ConformanceError,
    ConformanceMachine,
    EngineProbe,
    FailureProbe,
    RunningProbe,
    SessionProbe,
    conformance_machine,
    make_conformance_tests,
    run_conformance,
)

__all__ = [
    "DEFAULT_SERVER_XML",
    "DEFAULT_SETTINGS",
    "GROUPS",
    "ConformanceError",
    "ConformanceMachine",
    "EngineProbe",
    "FailureProbe",
    "RunningProbe",
    "SessionProbe",
    "conformance_machine",
    "make_conformance_tests",
    "run_conformance",
]
