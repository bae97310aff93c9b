"""Benchmark: one BigQuery remote-function call of 10,000 rows, scored in-process.

The whole request in one process, without the network: the JSON body decoded, every row turned
into a record, validated, preprocessed and scored by LiteRT, the replies encoded, the request log
line written. Budget: 100 ms at p50.
Run it alone with ``.venv/bin/python -m tests.bench.bench_bigquery``; ``bench_bigquery_call`` is
what the benchmark table calls.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from artifacts import MODEL_FILE, PREP_FILE
from tests.support.tiny_model import load_rows

BUDGET_MS = 100.0


def _serve_local_version(version_dir: Path | None) -> None:
    """Point the model store at a local version: the given one, MODEL_URL's, ``models/LATEST``, or a tiny one."""
    import model_store

    if version_dir is None and not os.environ.get(model_store.MODEL_URL_ENV):
        try:
            model_store.artifact_urls()  # a trained local version (`make train`)
            return
        except model_store.ConfigurationError:
            from tests.support.tiny_model import train_tiny_version

            version_dir = train_tiny_version(Path(tempfile.mkdtemp(prefix="bench-bigquery-")) / "models")
    if version_dir is not None:
        os.environ[model_store.MODEL_URL_ENV] = str(version_dir / MODEL_FILE)
        os.environ[model_store.PREP_URL_ENV] = str(version_dir / PREP_FILE)


def bench_bigquery_call(rows: int = 10_000, runs: int = 9, version_dir: Path | None = None) -> dict:
    """Time one BigQuery request of ``rows`` real accounts through ``main.predict`` in-process.

    From the raw JSON body to the JSON answer: body read and decoded, rows validated and scored,
    replies encoded, the request log line written. p50 over ``runs`` after a warm-up request.
    """
    _serve_local_version(version_dir)
    import flask

    import main

    features, _ = load_rows(rows, seed=7)
    body = json.dumps(
        {
            "requestId": "bench",
            "caller": "//bigquery.googleapis.com/projects/bench/jobs/bench:EU.bquxjob_bench",
            "sessionUser": "bench@bank.example",
            "userDefinedContext": {},
            "calls": features.astype(np.int64).tolist(),
        }
    ).encode()
    app = flask.Flask(__name__)

    def call() -> flask.Response:
        with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
            return main.predict(flask.request)

    streams = [handler.setStream(io.StringIO()) for handler in main.logger.handlers]  # request logs: not printed
    try:
        warm = call()  # loads the model once, as the first request of an instance does
        assert warm.status_code == 200 and len(warm.get_json()["replies"]) == rows, warm.get_data()[:500]
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            answer = call()
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
    finally:
        for handler, stream in zip(main.logger.handlers, streams, strict=True):
            handler.setStream(stream)
    p50 = statistics.median(timings)
    return {
        "name": f"BigQuery remote-function call, {rows:,} rows, in-process",
        "rows": rows,
        "request_bytes": len(body),
        "runs": runs,
        "p50_ms": round(p50, 1),
        "min_ms": round(min(timings), 1),
        "max_ms": round(max(timings), 1),
        "budget_ms": BUDGET_MS,
        "within_budget": p50 <= BUDGET_MS,
    }


def main() -> None:
    result = bench_bigquery_call()
    verdict = "met" if result["within_budget"] else "MISSED"
    print(
        f"{result['name']} ({result['request_bytes'] / 1e6:.1f} MB body): p50 {result['p50_ms']} ms "
        f"(min {result['min_ms']}, max {result['max_ms']}, {result['runs']} runs; "
        f"budget {result['budget_ms']:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
