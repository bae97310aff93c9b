"""Population stability, three ways that must agree: ``python -m training.drift`` (Python,
``default_risk.contract.bands``), the BigQuery SQL of ``infra/sql/`` (parsed by sqlglot, transpiled and run on
DuckDB), and the live view over the request log lines' band counts. Samples of the promoted version's own test split:
a random half is stable, a book that shifted the way real books do is not, on the score and on the shifted fields
only.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import sqlglot

from default_risk.contract.artifacts import MODELS_PREFIX, declared_version
from default_risk.contract.bands import BAND_LABELS, PSI_ACT, PSI_WATCH, band_counts, band_indices
from default_risk.contract.fields import FEATURE_NAMES, MODEL_FIELDS
from default_risk.model.version import ServedVersion, read_local_version
from tests.support.local_cloud import ROOT
from training.data import load_dataset
from training.drift import MIN_ROWS, SCORE, DriftError, drift_report
from training.release.monitoring_sql import PORTFOLIO_COLUMNS, SQL_DIR, committed_manifests, generated
from training.split import split_dataset

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def promoted() -> ServedVersion:
    return read_local_version(ROOT / MODELS_PREFIX / declared_version(ROOT / MODELS_PREFIX))


@pytest.fixture(scope="module")
def test_split(promoted, shared_data) -> np.ndarray:
    split = promoted.manifest["split"]
    features, target = load_dataset(str(shared_data))
    settings = {"seed": split["seed"], "test_size": split["test_size"], "val_size": split["val_size_of_train"]}
    return split_dataset(features, target, **settings).x_test


def samples(rows: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    half = rows[rng.permutation(len(rows))[: len(rows) // 2]]
    late = rows[rows[:, COLUMN["PAY_0"]] >= 1]
    halved = rows.copy()
    halved[:, COLUMN["LIMIT_BAL"]] = np.round(halved[:, COLUMN["LIMIT_BAL"]] / 2)
    squeezed = halved.copy()  # limits cut, and customers paying half of what they paid
    payments = [COLUMN[f"PAY_AMT{month}"] for month in range(1, 7)]
    squeezed[:, payments] = np.round(squeezed[:, payments] / 2)
    return {
        "random half": half,
        "only late payers (PAY_0 >= 1)": late,
        "limits halved": halved,
        "limits and payments halved": squeezed,
    }


def sql(name: str, **tables: str) -> str:
    """``infra/sql/<name>`` with its placeholders filled and transpiled from BigQuery's dialect to DuckDB's."""
    text = (SQL_DIR / name).read_text()
    for placeholder, table in tables.items():
        text = text.replace(f"${{{placeholder}}}", table)
    (statement,) = sqlglot.transpile(text, read="bigquery", write="duckdb")
    return statement


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW stability_reference AS {sql('stability_reference.sql')}")
    return connection


def portfolio_psi(duck, promoted: ServedVersion, rows: np.ndarray) -> dict[str, float]:
    """The table function's PSI per characteristic, for ``rows`` scored by the promoted version."""
    columns = ", ".join(f"{c} DOUBLE" for c in PORTFOLIO_COLUMNS)
    duck.execute("DROP TABLE IF EXISTS portfolio_scores")
    scored = "snapshot_date DATE, model_version VARCHAR, probability_of_default DOUBLE"
    duck.execute(f"CREATE TABLE portfolio_scores ({scored}, {columns})")
    scores = promoted.scorer.probabilities(rows) if len(rows) else np.empty(0)
    fields = rows[:, [COLUMN[name] for name in MODEL_FIELDS]]
    if len(rows):
        duck.executemany(
            f"INSERT INTO portfolio_scores VALUES (?, ?, ?, {', '.join('?' * len(PORTFOLIO_COLUMNS))})",
            [[DAY, promoted.version, float(p), *map(float, f)] for p, f in zip(scores, fields, strict=True)],
        )
    body = (SQL_DIR / "portfolio_stability.sql").read_text()
    body = body.replace("for_day", f"DATE '{DAY}'").replace("for_version", f"'{promoted.version}'")
    (statement,) = sqlglot.transpile(
        body.replace("${portfolio}", "portfolio_scores").replace("${reference}", "stability_reference"),
        read="bigquery",
        write="duckdb",
    )
    return dict((name, psi) for name, _, psi in duck.execute(statement).fetchall())


def test_the_sql_files_are_generated_from_the_committed_versions():
    for name, text in generated(committed_manifests()).items():
        assert (SQL_DIR / name).read_text() == text, f"infra/sql/{name} is stale: run `make monitoring-sql`"


def test_a_random_half_of_the_test_split_is_stable_on_the_score_and_every_field(promoted, test_split):
    report = drift_report(promoted, samples(test_split)["random half"])
    assert report[0].name == SCORE and {c.name for c in report[1:]} == set(MODEL_FIELDS)
    assert all(c.psi < PSI_WATCH for c in report), [(c.name, round(c.psi, 4)) for c in report if c.psi >= PSI_WATCH]


@pytest.mark.parametrize(
    ("sample", "shifted"),
    [
        ("only late payers (PAY_0 >= 1)", {"PAY_0"}),
        ("limits and payments halved", {"LIMIT_BAL", *(f"PAY_AMT{month}" for month in range(1, 7))}),
    ],
)
def test_a_shifted_book_acts_on_the_score_and_the_shifted_fields_only(promoted, test_split, sample, shifted):
    report = {c.name: c.psi for c in drift_report(promoted, samples(test_split)[sample])}
    assert report[SCORE] > PSI_ACT, report[SCORE]
    assert all(report[name] > PSI_ACT for name in shifted if name in ("PAY_0", "LIMIT_BAL", "PAY_AMT1"))
    unrelated = {"EDUCATION", "BILL_AMT6"}
    assert all(report[name] < PSI_WATCH for name in unrelated), {name: report[name] for name in unrelated}


def test_halving_limits_alone_is_an_act_on_the_field_and_moves_the_score(promoted, test_split):
    """Halving the limit doubles every utilisation feature (bill / limit): the score must move out of stable."""
    report = {c.name: c.psi for c in drift_report(promoted, samples(test_split)["limits halved"])}
    assert report["LIMIT_BAL"] > PSI_ACT
    assert report[SCORE] >= PSI_WATCH, report[SCORE]
    assert report["PAY_0"] < 0.01  # the fields left alone stay stable


@pytest.mark.parametrize("sample", ["random half", "only late payers (PAY_0 >= 1)", "limits and payments halved"])
def test_the_portfolio_table_function_gives_the_python_figures(duck, promoted, test_split, sample):
    rows = samples(test_split)[sample]
    python = {c.name: c.psi for c in drift_report(promoted, rows)}
    in_sql = portfolio_psi(duck, promoted, rows)
    assert set(in_sql) == set(python)
    assert max(abs(in_sql[name] - python[name]) for name in python) <= 1e-9


def test_the_live_view_gives_the_score_psi_of_the_requests_band_counts(duck, promoted, test_split):
    rows = samples(test_split)["only late payers (PAY_0 >= 1)"]
    bands = ", ".join(f"{label} DOUBLE" for label in BAND_LABELS)
    duck.execute("DROP TABLE IF EXISTS request_logs")
    duck.execute(
        "CREATE TABLE request_logs (timestamp TIMESTAMP, jsonPayload STRUCT(message VARCHAR, model_version VARCHAR, "
        f"outcome VARCHAR, risk_band_counts STRUCT({bands})))"
    )
    rng = np.random.default_rng(5)
    start = 0
    while start < len(rows):  # requests of 1 to 300 records, as callers send them
        size = int(rng.integers(1, 300))
        counts = band_counts(
            band_indices(promoted.scorer.probabilities(rows[start : start + size]), promoted.score_edges)
        )
        payload = {"message": "prediction_request", "model_version": promoted.version, "outcome": "ok"}
        duck.execute(
            "INSERT INTO request_logs VALUES (?, ?)",
            [
                dt.datetime(2026, 11, 30, 12),
                payload | {"risk_band_counts": dict(zip(BAND_LABELS, counts, strict=True))},
            ],
        )
        start += size
    failed = {"message": "prediction_request", "model_version": promoted.version, "outcome": "invalid_input"}
    duck.execute(
        "INSERT INTO request_logs VALUES (?, ?)", [dt.datetime(2026, 11, 30, 13), failed | {"risk_band_counts": None}]
    )
    view = sql("score_psi_by_day.sql", request_logs="request_logs", reference="stability_reference")
    (row,) = duck.execute(view).fetchall()
    day, version, records, psi = row
    assert (day, version, records) == (DAY, promoted.version, len(rows))
    assert abs(psi - drift_report(promoted, rows)[0].psi) <= 1e-9


def test_no_rows_give_no_figure_not_a_division_by_zero(duck, promoted):
    duck.execute("DROP TABLE IF EXISTS request_logs")
    duck.execute(
        "CREATE TABLE request_logs (timestamp TIMESTAMP, jsonPayload STRUCT(message VARCHAR, model_version VARCHAR, "
        f"outcome VARCHAR, risk_band_counts STRUCT({', '.join(f'{b} DOUBLE' for b in BAND_LABELS)})))"
    )
    assert (
        duck.execute(
            sql("score_psi_by_day.sql", request_logs="request_logs", reference="stability_reference")
        ).fetchall()
        == []
    )
    assert portfolio_psi(duck, promoted, np.empty((0, len(FEATURE_NAMES)))) == {}


@pytest.mark.parametrize("rows", [0, 1, MIN_ROWS - 1])
def test_empty_and_tiny_batches_get_a_clear_message(promoted, test_split, rows):
    with pytest.raises(DriftError, match=rf"{rows} accounts are too few for a stability index \(at least {MIN_ROWS}\)"):
        drift_report(promoted, test_split[:rows])


def _csv(path: Path, rows: np.ndarray) -> Path:
    header = ",".join(MODEL_FIELDS)
    body = "\n".join(",".join(f"{row[COLUMN[name]]:g}" for name in MODEL_FIELDS) for row in rows)
    path.write_text(f"{header}\n{body}\n")
    return path


@pytest.mark.parametrize(("sample", "status"), [("random half", 0), ("only late payers (PAY_0 >= 1)", 2)])
def test_the_cli_prints_the_table_and_exits_with_the_band(tmp_path, test_split, sample, status):
    data = _csv(tmp_path / "book.csv", samples(test_split)[sample])
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "training.drift", "--data", str(data), "--reports-dir", str(tmp_path / "reports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == status, done.stderr
    assert (
        "characteristic" in done.stdout and "bands: below 0.1 stable, 0.1 to 0.25 watch, above 0.25 act" in done.stdout
    )
    assert list((tmp_path / "reports").glob("*/drift.png"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [("LIMIT_BAL,EDUCATION\n1,2\n", "missing column 'PAY_0'"), ("", "is empty"), (None, "too few")],
)
def test_the_cli_refuses_a_file_it_cannot_judge_in_one_line(tmp_path, test_split, content, problem):
    data = tmp_path / "book.csv"
    if content is None:
        _csv(data, test_split[:10])
    else:
        data.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "training.drift", "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3 and problem in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()[-1]) > 10


def test_reference_shares_come_from_the_manifest(duck, promoted):
    stability = promoted.manifest["serving"]["stability"]
    got = duck.execute(
        "SELECT share FROM stability_reference WHERE model_version = ? AND characteristic = 'score' ORDER BY bin",
        [promoted.version],
    ).fetchall()
    assert [share for (share,) in got] == stability["score"]["shares"]
    assert json.loads(json.dumps(stability["inputs"]["PAY_0"]))["codes"]
