"""Benchmarks (`make bench`): scripts that print tables, not timed tests."""
