"""The reliability proof (issue 6): generated and hostile input, the fault matrix, load, security."""
