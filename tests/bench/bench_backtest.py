"""The back-test's report at scale: ``python -m tests.bench.bench_backtest [DECISIONS]`` (default 1,000,000).

Writes a synthetic book of decision records (as the function writes them, in objects of 10,000) and its outcomes
(every decision but one in ten matured), then runs ``python -m training.backtest`` on them in a child process and
prints its wall time and peak resident memory (targets: 60 s and 2 GB for a million decisions).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.service import records
from default_risk.service.ids import new_ids
from tests.support.local_cloud import ROOT

OBJECT_RECORDS = 10_000


def write_book(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` decision records under ``folder/decisions`` and their outcomes CSV; returns the CSV."""
    rng = np.random.default_rng(seed)
    store = records.LocalStore(folder / "decisions")
    outcome_lines = ["decision_id,defaulted,observed_at"]
    for start in range(0, count, OBJECT_RECORDS):
        rows = min(OBJECT_RECORDS, count - start)
        features = rng.integers(0, 200_000, (rows, len(FEATURE_NAMES))).astype(float)
        features[:, 1] = rng.integers(1, 3, rows)
        p = rng.beta(2, 7, rows)
        ids = new_ids(rows)
        batch = records.Batch(ids, "predict", f"bench-{start}", "v-bench", "0" * 64, features, [None] * rows, None, p,
                              [BAND_LABELS[min(int(x * 10), 9)] for x in p], p * 500)  # fmt: skip
        store.put(f"date=2026-12-03/{start:09d}.jsonl", records.encode(batch))
        defaulted = rng.random(rows) < p
        matured = np.arange(rows) % 10 != 0
        outcome_lines += [f"{i},{int(d)},2027-01-31" for i, d, m in zip(ids, defaulted, matured, strict=True) if m]
    outcomes = folder / "outcomes.csv"
    outcomes.write_text("\n".join(outcome_lines) + "\n")
    return outcomes


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        outcomes = write_book(folder, count)
        size = sum(path.stat().st_size for path in (folder / "decisions").rglob("*.jsonl"))
        print(f"wrote {count:,} records ({size / 2**20:.0f} MB) in {time.perf_counter() - started:.0f} s", flush=True)
        command = [sys.executable, "-m", "training.backtest", f"--decisions={folder / 'decisions'}",
                   f"--outcomes={outcomes}", f"--report-dir={folder / 'report'}"]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # kilobytes on Linux
        print(done.stdout.strip()[-600:])
        print(f"back-test of {count:,} decisions: exit {done.returncode}, {seconds:.1f} s, peak RSS {peak:.2f} GB "
              "(targets: 60 s, 2 GB)")  # fmt: skip
        if done.returncode not in (0, 2):
            print(done.stderr[-2000:])


if __name__ == "__main__":
    main()
