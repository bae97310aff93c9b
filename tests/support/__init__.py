"""Helpers shared by tests, the demo and the benchmarks; importable outside pytest too (`python -m tests...`)."""
