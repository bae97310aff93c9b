"""Benchmark: one BigQuery remote-function call of 10,000 rows, scored in-process.

The whole request in one process, without the network: ``main.predict`` on the JSON body BigQuery
sends, through Flask's request object: body decoded, every row turned into a record, validated,
preprocessed and scored by LiteRT, the replies encoded, the request log line written.
Budget: 100 ms at p50. ``bigquery_rows(version)`` gives the row of the benchmark table
(``tests/bench/bench_scoring.py``); alone: ``.venv/bin/python -m tests.bench.bench_bigquery``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from default_risk.artifacts import MODEL_FILE, PREP_FILE
from tests.bench.bench_scoring import Row, machine, min_cpu_ms, percentiles, print_table, version_dir
from tests.support.tiny_model import load_rows

if TYPE_CHECKING:
    import flask

ROWS = 10_000
BUDGET_MS = 100


def bigquery_request(rows: int) -> bytes:
    """The body of a BigQuery remote-function call of ``rows`` real accounts (INT64 arguments)."""
    features, _ = load_rows(rows, seed=7)
    return json.dumps(
        {
            "requestId": "bench",
            "caller": "//bigquery.googleapis.com/projects/bench/jobs/bench:EU.bquxjob_bench",
            "sessionUser": "bench@bank.example",
            "userDefinedContext": {},
            "calls": features.astype(np.int64).tolist(),
        }
    ).encode()


def bigquery_rows(version: Path, runs: int = 20) -> list[Row]:
    """p50 wall and CPU time of ``main.predict`` on one 10,000-row BigQuery call, after a warm-up call."""
    import flask

    import main
    from default_risk import model_store

    os.environ[model_store.MODEL_URL_ENV] = str(version / MODEL_FILE)
    os.environ[model_store.PREP_URL_ENV] = str(version / PREP_FILE)
    app = flask.Flask(__name__)
    body = bigquery_request(ROWS)

    def call() -> None:
        with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
            answer = main.predict(flask.request)
        assert answer.status_code == 200 and len(answer.get_json()["replies"]) == ROWS, answer.get_data()[:300]

    streams = [handler.setStream(io.StringIO()) for handler in main.logger.handlers]  # request logs: not printed
    try:
        call()  # the first call loads the model, as the first request of an instance does
        wall, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    finally:
        for handler, stream in zip(main.logger.handlers, streams, strict=True):
            handler.setStream(stream)
    measure = f"BigQuery call in-process, {ROWS:,} rows ({len(body) / 1e6:.1f} MB), JSON in/out"
    return [
        (f"{measure}, p50 (ms)", f"{percentiles(wall)[0]:.1f}", "", f"≤ {BUDGET_MS} ms"),
        ("  its CPU time p50 (ms; less affected by other load)", f"{percentiles(cpu)[0]:.1f}", "", ""),
        *bigquery_stages(app, body, version),
    ]


def bigquery_stages(app: flask.Flask, body: bytes, version: Path) -> list[Row]:
    """Thread CPU time of each stage of the 10,000-row call (min of 30), and the alternatives beside them:
    JSON decoding without the duplicate-key check, and validation through one dict per row."""
    import flask

    from default_risk import api
    from default_risk.contract import FEATURE_NAMES
    from default_risk.preprocessing import load_preprocessor
    from default_risk.scorer import Scorer
    from default_risk.validation import validate_instances, validate_rows

    def read() -> object:
        with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
            return api.read_json(flask.request)

    calls = read()["calls"]
    matrix = validate_rows(calls).features
    preprocessor = load_preprocessor((version / PREP_FILE).read_bytes())
    scorer = Scorer((version / MODEL_FILE).read_bytes(), preprocessor)
    replies = scorer.probabilities(matrix)
    stages = {
        "read_json (body read, JSON decode, duplicate-key check)": min_cpu_ms(read),
        "  beside it: json.loads without the duplicate-key check": min_cpu_ms(lambda: json.loads(body)),
        "validate_rows (no dict per row)": min_cpu_ms(lambda: validate_rows(calls)),
        "  beside it, before: one dict per row + validate_instances": min_cpu_ms(
            lambda: validate_instances([dict(zip(FEATURE_NAMES, call, strict=True)) for call in calls])
        ),
        "preprocessing": min_cpu_ms(lambda: preprocessor.transform(matrix)),
        "preprocessing + LiteRT": min_cpu_ms(lambda: scorer.probabilities(matrix)),
        "response encoding (json_response)": min_cpu_ms(lambda: api.json_response({"replies": replies.tolist()})),
    }
    return [(f"  stage: {name}, thread CPU min of 30 (ms)", f"{ms:.1f}", "", "") for name, ms in stages.items()]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bigquery-") as scratch:
        version = version_dir(Path(scratch))
        print(f"model {version.name}; machine: {machine()}", flush=True)
        print_table(bigquery_rows(version))


if __name__ == "__main__":
    main()
