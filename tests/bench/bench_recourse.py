"""What recourse costs and finds: ``python -m tests.bench.bench_recourse [TARGET_BAND]`` (default B05).

On the promoted version's own test split: for every test record above the target band, one record at a time, in
process, the time of its explanation alone and of its explanation with recourse (p50 and p90; target: p50 of an
explained record with recourse ≤ 2 ms), then a whole ``POST /explain?recourse=...`` of one record through the
function's handler (decision recorded to a local folder). Then what the search found: the share of records
with a feasible change, per lever, and the share of suggestions along which the model is monotone.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import MODELS_PREFIX, declared_version
from default_risk.contract.bands import BAND_LABELS, band_indices
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.recourse import DEFAULT_TARGET_BAND
from default_risk.model.version import read_local_version
from tests.support.local_cloud import ROOT
from training.data import load_dataset
from training.split import split_dataset

DATA = Path(os.environ.get("UCI_CREDIT_DATA", ROOT.parent / "shared" / "data" / "default_of_credit_card_clients.csv"))


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1e3 for s in seconds)
    return f"p50 {statistics.median(ms):.3f} ms, p90 {ms[int(len(ms) * 0.9)]:.3f} ms"


def main() -> None:
    target_label = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TARGET_BAND
    target = BAND_LABELS.index(target_label)
    folder = ROOT / MODELS_PREFIX / declared_version(ROOT / MODELS_PREFIX)
    version = read_local_version(folder)
    split = version.manifest["split"]
    features, labels = load_dataset(str(DATA))
    rows = split_dataset(
        features, labels, seed=split["seed"], test_size=split["test_size"], val_size=split["val_size_of_train"]
    ).x_test
    bands = band_indices(version.scorer.probabilities(rows), version.score_edges)
    above = rows[bands > target]
    print(f"model {version.version}; {len(above)} of {len(rows)} test "
          f"records above {target_label}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip

    explain_only, with_recourse, found = [], [], []
    for row in above:
        record = row[None]
        started = time.perf_counter()
        version.explainer.explain(record)
        middle = time.perf_counter()
        band = band_indices(version.scorer.probabilities(record), version.score_edges)
        found.append(version.recourse.suggest(record, band, target)[0])
        explain_only.append(middle - started)
        with_recourse.append(time.perf_counter() - started)
    print(f"explanation of one record:               {percentiles(explain_only)}")
    print(f"explanation with recourse of one record: {percentiles(with_recourse)}  (target: p50 ≤ 2 ms)")
    print(
        f"one request, POST /explain?recourse={target_label}, in process: {whole_request(folder, above, target_label)}"
    )

    feasible = [options for options in found if options]
    singles = Counter(s.changes[0].field for options in feasible for s in options if len(s.changes) == 1)
    pairs = sum(any(len(s.changes) == 2 for s in options) for options in feasible)
    every = [s for options in feasible for s in options]
    print(f"records with a feasible change: {len(feasible)} of {len(found)} ({len(feasible) / len(found):.0%})")
    for field, count in sorted(singles.items()):
        print(f"  by {field} alone: {count} ({count / len(found):.0%})")
    print(f"  by a pair: {pairs} ({pairs / len(found):.0%})")
    monotone = sum(s.monotone for s in every)
    print(f"suggestions along which the probability fell at every grid step: {monotone} of {len(every)} "
          f"({monotone / max(len(every), 1):.0%})")  # fmt: skip


def whole_request(folder: Path, above: np.ndarray, target_label: str) -> str:
    """p50/p90 of one-record ``POST /explain?recourse=`` through ``main.predict``, records to a temporary folder."""
    import flask

    with tempfile.TemporaryDirectory(prefix="bench-recourse-") as scratch:
        os.environ |= {
            "MODEL_URL": str(folder / "model.tflite"),
            "PREP_URL": str(folder / "prep.joblib"),
            "DECISION_RECORDS_URL": scratch,
        }
        from default_risk.protocols.http import handle  # what main.predict calls

        app, seconds = flask.Flask("bench"), []
        kept_stdout = os.dup(1)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the request log lines
        for row in above[:300]:
            body = json.dumps({"instances": [dict(zip(FEATURE_NAMES, row.tolist(), strict=True))]}).encode()
            with app.test_request_context(f"/explain?recourse={target_label}", method="POST", data=body,
                                          content_type="application/json"):  # fmt: skip
                started = time.perf_counter()
                response = handle(flask.request)
                response.get_data()
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 200, response.get_data()[:300]
        os.dup2(kept_stdout, 1)
        return percentiles(seconds[1:])


if __name__ == "__main__":
    main()
