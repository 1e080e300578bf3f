"""The test-suite's Hypothesis strategies: omeapi's public ones, re-exported.

They live in :mod:`omeapi.testing.strategies`, so that omeapi's tests and the host projects
that embed omeapi draw from one source; add new strategies there.  Tests keep importing them
as ``from strategies import ...``.
"""

from __future__ import annotations

from omeapi.testing.strategies import *  # noqa: F403
from omeapi.testing.strategies import __all__ as __all__
