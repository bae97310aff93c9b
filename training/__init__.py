"""Training pipeline: UCI data to versioned, tracked model artifacts (``python -m training.train``).

The input contract, artifact names and scorer live in the serving package ``default_risk`` (one
definition each); this package imports them from there. The release tools (publish, promote, gate,
smoke test) are the subpackage ``training.release``, which runs with the serving dependencies only.

Importing the package sets ``DETERMINISM`` in the process's environment, before any module of it can import
TensorFlow or scikit-learn, so that every training run computes the same bits on the same kind of machine
(``training.lineage`` records them in the manifest).
"""

import os

DETERMINISM: dict[str, str] = {
    "TF_NUM_INTRAOP_THREADS": "2",
    "TF_NUM_INTEROP_THREADS": "2",
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
"""Fixed thread counts for TensorFlow and for scikit-learn's OpenMP pools whatever the machine has (work is split
by thread count, and so are the sums' rounding), one BLAS thread; TensorFlow's start-up chatter off."""

os.environ.update(DETERMINISM)
