"""Outcome back-testing on the UCI test split: the promoted version scores it through the function (decisions
recorded), the real labels come back as outcomes, and the back-test judges the book."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from default_risk.contract.artifacts import MANIFEST_FILE, MODEL_FILE, MODELS_PREFIX, PREP_FILE, declared_version
from default_risk.contract.fields import FEATURE_NAMES
from tests.support.http import post_json
from tests.support.local_cloud import RECORDS_FOLDER, ROOT, function_server
from training import backtest
from training.data import load_dataset
from training.split import split_dataset

MODELS = ROOT / MODELS_PREFIX


@pytest.fixture(scope="module")
def book(tmp_path_factory, shared_data) -> dict:
    """The promoted version's test split scored through the function, and its real outcomes."""
    version = declared_version(MODELS)
    manifest = json.loads((MODELS / version / MANIFEST_FILE).read_text())
    features, target = load_dataset(str(shared_data))
    split = split_dataset(features, target, seed=manifest["split"]["seed"], test_size=manifest["split"]["test_size"],
                          val_size=manifest["split"]["val_size_of_train"])  # fmt: skip
    work = tmp_path_factory.mktemp("backtest")
    folder = MODELS / version
    env = {"MODEL_URL": str(folder / MODEL_FILE), "PREP_URL": str(folder / PREP_FILE)}
    records = [
        {name: value for name, value in zip(FEATURE_NAMES, row, strict=True) if value == value}
        for row in split.x_test.tolist()
    ]
    with function_server(env, work) as server:
        answer = post_json(server.url, {"instances": records}, timeout=120)
    assert answer.status == 200, answer.json
    decision_ids = [prediction["decision_id"] for prediction in answer.json["predictions"]]
    outcomes = pd.DataFrame({"decision_id": decision_ids, "defaulted": split.y_test, "observed_at": "2005-11-30"})
    return {"store": str(work / RECORDS_FOLDER), "outcomes": outcomes, "manifest": manifest, "work": work}


def run(book: dict, outcomes: pd.DataFrame, tmp_path: Path) -> tuple[backtest.Report, subprocess.CompletedProcess]:
    path = tmp_path / "outcomes.csv"
    outcomes.to_csv(path, index=False)
    report, _ = backtest.backtest(backtest.decisions_frame(book["store"]), backtest.read_outcomes(path))
    command = [sys.executable, "-m", "training.backtest", f"--decisions={book['store']}", f"--outcomes={path}",
               f"--report-dir={tmp_path / 'report'}"]  # fmt: skip
    return report, subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_test_split_is_green_and_its_roc_auc_is_the_manifests(book, tmp_path) -> None:
    report, done = run(book, book["outcomes"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report.overall["light"] == "green" and not report.red
    assert report.overall["pending"] == 0 and report.overall["matured"] == len(book["outcomes"])
    assert report.overall["roc_auc"] == pytest.approx(book["manifest"]["metrics"]["test"]["roc_auc"], abs=1e-6)
    assert report.overall["brier"] == pytest.approx(book["manifest"]["metrics"]["test"]["brier"], abs=1e-6)
    text = (tmp_path / "report" / "backtest.md").read_text()
    assert "Whole book: green" in text and "### By risk band" in text and "### Protected groups" in text
    assert list((tmp_path / "report").glob("backtest_v*.png"))


def test_a_book_whose_high_bands_default_more_than_predicted_turns_red(book, tmp_path) -> None:
    frame = backtest.decisions_frame(book["store"])
    high = set(frame.loc[frame["band"].isin(["B09", "B10"]), "decision_id"])
    outcomes = book["outcomes"].copy()
    outcomes.loc[outcomes["decision_id"].isin(high), "defaulted"] = 1
    report, done = run(book, outcomes, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    bands = {row["band"]: row for section in report.versions.values() for row in section["bands"]}
    assert bands["B10"]["light"] == "red" and bands["B10"]["p_underestimates"] < 0.001
    assert bands["B01"]["light"] != "red"


def test_pending_decisions_are_counted_and_never_taken_as_non_defaults(book, tmp_path) -> None:
    matured = book["outcomes"].iloc[::2]
    report, done = run(book, matured, tmp_path)
    assert done.returncode in (0, 2)
    alone, _ = backtest.backtest(
        backtest.decisions_frame(book["store"]).merge(matured[["decision_id"]]), backtest.checked_outcomes(matured)
    )
    assert report.overall["pending"] == len(book["outcomes"]) - len(matured)
    for figure in ("matured", "defaults", "roc_auc", "brier", "ece", "hosmer_lemeshow", "p_underestimates"):
        assert report.overall[figure] == alone.overall[figure], figure


def test_the_tests_are_the_textbook_ones() -> None:
    """Jeffreys: the Beta(d + 1/2, n - d + 1/2) posterior; binomial: the exact tails; HL: chi-square, g - 2 df."""
    figures = backtest.binomial_figures(30, 200, 0.10)
    assert figures["p_underestimates"] == pytest.approx(stats.beta(30.5, 170.5).cdf(0.10))
    assert figures["binomial_p_underestimates"] == pytest.approx(1 - stats.binom.cdf(29, 200, 0.10))
    assert figures["jeffreys_low"] < 0.15 < figures["jeffreys_high"]
    assert figures["light"] == "yellow" and backtest.light(0.2) == "green" and backtest.light(1e-4) == "red"
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.5, 5000)
    p.sort()
    statistic, p_value = backtest.hosmer_lemeshow(rng.random(5000) < p, p)
    assert statistic < 20 and p_value > 0.01  # calibrated by construction


@pytest.mark.parametrize(
    ("csv", "problem"),
    [
        ("decision_id,defaulted,observed_at\nx,2,2026-01-01\n", "defaulted must be 0 or 1"),
        ("decision_id,defaulted,observed_at\nx,1,soon\n", "observed_at must be a date"),
        ("decision_id,defaulted\nx,1\n", "lacks observed_at"),
        ("decision_id,defaulted,observed_at\nx,1,2026-01-01\nx,0,2026-01-02\n", "two outcomes for one decision_id"),
    ],
)
def test_unusable_outcomes_are_refused_in_one_line(book, tmp_path, csv, problem) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(csv)
    command = [sys.executable, "-m", "training.backtest", f"--decisions={book['store']}", f"--outcomes={path}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and problem in done.stderr and "Traceback" not in done.stderr
