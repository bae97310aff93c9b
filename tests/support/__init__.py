"""Helpers shared by tests, the demo and the benchmarks; importable outside pytest too (`python -m tests...`)."""

import sys
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS_DIR) not in sys.path:  # the function's modules import each other by bare name, as deployed
    sys.path.insert(0, str(FUNCTIONS_DIR))
