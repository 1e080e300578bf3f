"""Figures the robustness tests record, printed in pytest's terminal summary.

A test calls :func:`record`; ``conftest.pytest_terminal_summary`` prints every line under
one heading, so a CI log shows them whether or not output is captured (``-s`` or not).
"""

from __future__ import annotations

#: (test, figures) in the order recorded.
FIGURES: list[tuple[str, str]] = []


def record(test: str, figures: str) -> None:
    """Keep one line of figures for the summary (and print it, for ``-s`` runs)."""
    FIGURES.append((test, figures))
    print(f"{test}: {figures}")
