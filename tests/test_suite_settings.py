"""The suite's own settings (tests/conftest.py): what a CI run of the property tests means."""

from __future__ import annotations

import os

from hypothesis import settings


def test_the_ci_profile_is_deterministic_and_needs_no_database() -> None:
    profile = settings.get_profile("ci")
    assert profile.derandomize
    assert profile.database is None
    assert profile.deadline is None  # a loaded CI machine must not turn into a failure


def test_ci_selects_the_ci_profile() -> None:
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen is None and os.environ.get("CI"):
        assert settings().derandomize
        assert settings().database is None
