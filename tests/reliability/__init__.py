"""The reliability proof (issue 6): generated and hostile input, the fault matrix, load, security."""

import tests.support  # noqa: F401  (puts functions/ on sys.path, as for the tests)
