"""The back-test in SQL gives training.backtest's numbers: the statements of ``infra/sql/backtest.sql`` and
``backtest_groups.sql`` (transpiled from BigQuery's dialect by sqlglot) run on DuckDB over a book of recorded
decisions and their outcomes, the beta functions given by scipy; and the JavaScript UDF the scheduled script gives
BigQuery for them runs under Node.js and matches scipy. All within 1e-9."""

from __future__ import annotations

import json
import re
import subprocess

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from scipy import stats

from default_risk.contract.bands import BAND_LABELS
from tests.infra.terraform import INFRA
from training import backtest
from training.release.backtest_sql import GROUP_RESULT_COLUMNS, RESULT_COLUMNS, groups_sql, scheduled_sql

TOLERANCE = 1e-9
FIGURES = [name for name, _ in RESULT_COLUMNS[3:]]


def book(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decisions of two versions over three months, with ties in the PDs, and outcomes for most of them: the
    high bands of one version default far more than predicted (red)."""
    rng = np.random.default_rng(seed)
    rows = []
    for version, worse in (("v-a", 1.0), ("v-b", 2.5)):
        p = np.round(rng.beta(2, 7, 3000), 3)  # rounding makes ties, as LiteRT's float32 outputs do
        band = np.minimum((p * 10).astype(int), 9)
        y = rng.random(3000) < np.minimum(p * np.where(band >= 6, worse, 1.0), 1)
        month = rng.integers(10, 13, 3000)
        sex, marriage, age = rng.integers(1, 3, 3000), rng.integers(0, 4, 3000), rng.integers(21, 75, 3000)
        for i in range(3000):
            protected = (float(sex[i]), float(marriage[i]), float(age[i])) if i % 5 else (None,) * 3  # a fifth: none
            rows.append((f"{version}-{i:05d}", version, f"2026-{month[i]:02d}-15 10:00:00", BAND_LABELS[band[i]],
                         float(p[i]), int(y[i]), i % 7 != 0, *protected))  # fmt: skip
    columns = ["decision_id", "model_version", "recorded_at", "risk_band", "p", "y", "known", "SEX", "MARRIAGE", "AGE"]
    frame = pd.DataFrame(rows, columns=columns)
    outcomes = frame[frame["known"]][["decision_id", "y"]].rename(columns={"y": "defaulted"})
    outcomes["observed_at"] = "2027-01-31"
    return frame, outcomes


def _connected(frame: pd.DataFrame, outcomes: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """DuckDB with the book as the decisions table (protected inputs in an ``inputs`` struct, as the records' table
    has them) and the outcomes table, and the beta functions."""
    duck = duckdb.connect()

    def beta_cdf(x: float, a: float, b: float) -> float:
        return float(stats.beta.cdf(x, a, b))

    def beta_quantile(q: float, a: float, b: float) -> float:
        return float(stats.beta.ppf(q, a, b))

    for function in (beta_cdf, beta_quantile):
        duck.create_function(function.__name__, function, ["DOUBLE"] * 3, "DOUBLE")
    book = frame.rename(columns={"p": "probability_of_default"})
    book["recorded_at"] = pd.to_datetime(book["recorded_at"], utc=True)
    duck.register("book", book)
    duck.execute(
        "CREATE TABLE decisions AS SELECT decision_id, model_version, recorded_at, risk_band, probability_of_default,"
        " {'SEX': SEX, 'MARRIAGE': MARRIAGE, 'AGE': AGE} AS inputs FROM book"
    )
    duck.register("outcomes", outcomes)
    return duck


def _run(duck: duckdb.DuckDBPyConnection, text: str) -> pd.DataFrame:
    text = text.replace("${decisions}", "decisions").replace("${outcomes}", "outcomes")
    (statement,) = sqlglot.transpile(text, read="bigquery", write="duckdb")
    return duck.execute(statement).df()


def sql_figures(frame: pd.DataFrame, outcomes: pd.DataFrame) -> dict[tuple[str, str, str], dict]:
    found = _run(_connected(frame, outcomes), (INFRA / "sql" / "backtest.sql").read_text())
    return {
        (row["model_version"], row["scope"], row["part"]): {name: _plain(row[name]) for name in FIGURES}
        for row in found.to_dict("records")
    }


def _plain(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def python_figures(frame: pd.DataFrame, outcomes: pd.DataFrame) -> dict[tuple[str, str, str], dict]:
    decisions = frame.rename(columns={"p": "probability", "risk_band": "band"}).assign(id=None)
    decisions["recorded_at"] = pd.to_datetime(decisions["recorded_at"], utc=True)
    decisions["vintage"] = decisions["recorded_at"].dt.strftime("%Y-%m")
    report, _ = backtest.backtest(decisions, backtest.checked_outcomes(outcomes))
    found = {("all", "book", ""): report.overall}
    for version, section in report.versions.items():
        found[(version, "book", "")] = section["book"]
        found |= {(version, "vintage", month): figures for month, figures in section["vintages"].items()}
        found |= {(version, "band", row["band"]): row for row in section["bands"] if row["matured"]}
    return found


def test_the_sql_gives_the_python_back_tests_figures_within_1e9() -> None:
    frame, outcomes = book()
    expected, computed = python_figures(frame, outcomes), sql_figures(frame, outcomes)
    assert set(expected) <= set(computed)
    compared = 0
    for key, figures in expected.items():
        for name in FIGURES:
            if name not in figures:
                continue
            want, got = figures[name], computed[key][name]
            if want is None or isinstance(want, str):
                assert got == want, (key, name, got, want)
            else:
                assert got == pytest.approx(want, abs=TOLERANCE, rel=0), (key, name, got, want)
            compared += 1
    lights = {key: figures["light"] for key, figures in computed.items()}
    assert "red" in lights.values() and lights[("v-a", "book", "")] != "red"
    print(f"{compared} figures of {len(expected)} rows equal within {TOLERANCE}")


def test_the_sql_gives_the_python_default_rates_and_adverse_impact_ratios_by_protected_group() -> None:
    """One version with a threshold in the manifests, one without (its shares not flagged unknown, as in Python)."""
    frame, outcomes = book()
    manifests = {"v-a": {"threshold": {"value": 0.21}}}
    found = _run(_connected(frame, outcomes), groups_sql(manifests))
    assert list(found.columns) == [name for name, _ in GROUP_RESULT_COLUMNS]
    computed = {(row.pop("model_version"), row.pop("attribute"), row.pop("protected_group")): row
                for row in found.to_dict("records")}  # fmt: skip
    decisions = frame.rename(columns={"p": "probability", "risk_band": "band"})
    _, joined = backtest.backtest(decisions.assign(vintage="2026-12"), backtest.checked_outcomes(outcomes))
    expected = {}
    for version in ("v-a", "v-b"):
        threshold = manifests.get(version, {}).get("threshold", {}).get("value")
        for group in backtest.protected_groups(joined[joined["model_version"] == version], threshold):
            expected[(version, group.pop("attribute"), group.pop("group"))] = group
    assert set(computed) == set(expected) and len(expected) == 2 * (2 + 4 + 6)
    for key, figures in expected.items():
        for name, want in figures.items():
            got = _plain(computed[key][name])
            if want is None:
                assert got is None, (key, name, got)
            else:
                assert got == pytest.approx(want, abs=TOLERANCE, rel=0), (key, name, got, want)
    assert all(figures["air"] is None for (version, *_), figures in expected.items() if version == "v-b")
    assert min(figures["air"] for (version, *_), figures in expected.items() if version == "v-a") < 1


def test_the_javascript_beta_functions_bigquery_runs_match_scipy() -> None:
    """The UDF exactly as the scheduled script gives it to BigQuery, under Node.js."""
    rng = np.random.default_rng(1)
    cases = [(float(x), float(a), float(b)) for x, a, b in zip(rng.random(300), rng.uniform(0.5, 50, 300),
                                                             rng.uniform(0.5, 5000, 300), strict=True)]  # fmt: skip
    cases += [(0.22, 130.5, 470.5), (0.05, 0.5, 600.5), (0.9, 600.5, 0.5), (0.3, 1.0, 1.0), (0.5, 3000.5, 3000.5)]
    definition = r'FUNCTION beta_js\((.*?)\) RETURNS FLOAT64 LANGUAGE js AS r"""(.*?)"""'
    udf = re.search(definition, scheduled_sql({}), re.DOTALL)
    assert udf, "the scheduled script defines beta_js"
    parameters = ", ".join(parameter.split()[0] for parameter in udf[1].split(","))
    script = f"""function beta_js({parameters}) {{{udf[2]}}}
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(([x, a, b]) => [beta_js(false, x, a, b), beta_js(true, x, a, b)])));
"""
    done = subprocess.run(["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for (x, a, b), (cdf, quantile) in zip(cases, json.loads(done.stdout), strict=True):
        assert cdf == pytest.approx(stats.beta.cdf(x, a, b), abs=TOLERANCE, rel=0), (x, a, b)
        assert quantile == pytest.approx(stats.beta.ppf(x, a, b), abs=TOLERANCE, rel=0), (x, a, b)
