"""Benchmarks (`make bench`): scripts that print tables, not timed tests."""

import tests.support  # noqa: F401  (puts functions/ on sys.path, as for the tests)
