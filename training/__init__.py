"""Training pipeline: UCI data to versioned, tracked model artifacts.

The input contract, artifact names and scorer live with the deployed function in ``functions/``
(one definition each); this package reads them from there.
"""

import sys
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))
