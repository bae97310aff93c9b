"""Training pipeline: UCI data to versioned, tracked model artifacts (``python -m training.train``).

The input contract, artifact names and scorer live in the serving package ``default_risk`` (one
definition each); this package imports them from there. The release tools (publish, promote, gate,
smoke test) are the subpackage ``training.release``, which runs with the serving dependencies only.
"""
