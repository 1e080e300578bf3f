"""Benchmarks: scripts that print figures (``python -m benchmarks`` runs the in-process ones)."""
