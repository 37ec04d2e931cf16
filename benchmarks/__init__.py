"""Benchmarks: run with ``make bench``; figures, not tests."""
