"""Outcome back-testing: realized defaults against the predicted PDs, per version, vintage and risk band
(``make backtest DECISIONS=<url> OUTCOMES=<csv>``; ``python -m training.backtest``).

**Outcomes** are what the bank learns later, one row per decision whose performance window has closed: a CSV (or a
BigQuery table) with ``decision_id``, ``defaulted`` (0 or 1) and ``observed_at`` (a date). A bank that keys
outcomes by account may send ``id`` (the caller's id the decision carries) and ``as_of`` instead of
``decision_id``: the outcome then belongs to the latest decision of that id made on or before ``as_of``. A decision
without an outcome is **pending**: counted, never taken as a non-default.

**Figures**, per model version, per vintage (the decision's month) and overall: decisions, matured, defaults,
pending; ROC-AUC, KS, Brier and ECE (as training measures them); the Hosmer-Lemeshow statistic over ten groups of
predicted PD and its p-value (chi-square, 8 degrees of freedom). Per risk band: the mean predicted PD and the
observed default rate, the Jeffreys interval (the Beta(d + 1/2, n - d + 1/2) posterior's 2.5% and 97.5% points),
and one-sided p-values that the PD **underestimates** (the true rate is above it: Jeffreys
``Beta.cdf(PD; d + 1/2, n - d + 1/2)``, binomial ``P(X >= d)``) and that it **overestimates** (the mirror images).

**Traffic lights**, the convention of the ECB's instructions for reporting the validation results of IRB models
(2019, section 2.5.3.1, the Jeffreys test per grade): green when the one-sided Jeffreys p-value that the PD
underestimates is at least 0.05, yellow from 0.001 to 0.05, red below 0.001. A band or a whole book in red means
the model says customers are safer than they turn out to be.

Writes ``<report dir>/backtest.md`` and its plots; exits 2 when any band or book is red, 0 otherwise, 3 on input
it cannot use.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.fields import FEATURE_NAMES, PROTECTED_FIELDS
from default_risk.service.records import read_objects
from training.config import GREEN, GREEN_FROM, HL_GROUPS, RED, RED_BELOW, YELLOW
from training.fairness import GATED, group_masks
from training.metrics import expected_calibration_error, ks_statistic

OUTCOME_COLUMNS = ("decision_id", "defaulted", "observed_at")
BY_ID_COLUMNS = ("id", "defaulted", "as_of")
EXIT_GREEN, EXIT_RED, EXIT_UNUSABLE = 0, 2, 3


class BacktestError(ValueError):
    """The decisions or outcomes cannot be used; the message says why."""


def light(p_underestimates: float) -> str:
    return GREEN if p_underestimates >= GREEN_FROM else YELLOW if p_underestimates >= RED_BELOW else RED


_Protected = msgspec.defstruct("Protected", [(name, float | None, None) for name in PROTECTED_FIELDS])
_Decision = msgspec.defstruct(
    "Decision",
    [
        ("decision_id", str),
        ("model_version", str),
        ("recorded_at", str),
        ("id", str | None),
        ("probability_of_default", float),
        ("risk_band", str),
        ("inputs", _Protected),
    ],
)
"""What the back-test reads of a record (the rest of each line is skipped by the decoder)."""


def decisions_frame(url: str) -> pd.DataFrame:
    """One row per recorded decision: id, version, vintage, PD, band, caller's id and protected inputs."""
    decoder = msgspec.json.Decoder(_Decision)
    decisions = [decoder.decode(line) for _, data in read_objects(url) for line in data.split(b"\n") if line]
    if not decisions:
        raise BacktestError(f"no decision records under {url}")
    frame = pd.DataFrame(
        {
            "decision_id": [d.decision_id for d in decisions],
            "model_version": [d.model_version for d in decisions],
            "recorded_at": [d.recorded_at for d in decisions],
            "id": [d.id for d in decisions],
            "probability": np.array([d.probability_of_default for d in decisions]),
            "band": [d.risk_band for d in decisions],
            **{name: np.array([getattr(d.inputs, name) for d in decisions], dtype=float) for name in PROTECTED_FIELDS},
        }
    )
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601")
    frame["vintage"] = frame["recorded_at"].dt.strftime("%Y-%m")
    return frame


def read_outcomes(path: Path) -> pd.DataFrame:
    """The outcomes CSV, checked (``checked_outcomes``)."""
    try:
        outcomes = pd.read_csv(path, dtype={"decision_id": str, "id": str})
    except (OSError, ValueError) as error:
        raise BacktestError(f"cannot read the outcomes {path}: {error}") from error
    return checked_outcomes(outcomes, str(path))


def checked_outcomes(outcomes: pd.DataFrame, path: str = "the outcomes") -> pd.DataFrame:
    """Outcomes checked: 0/1 defaults, dates, one row per decision (or per id and date)."""
    outcomes = outcomes.copy()
    columns = OUTCOME_COLUMNS if "decision_id" in outcomes else BY_ID_COLUMNS
    missing = [column for column in columns if column not in outcomes]
    if missing:
        raise BacktestError(
            f"{path} lacks {', '.join(missing)}: outcomes need {', '.join(OUTCOME_COLUMNS)} "
            f"(or {', '.join(BY_ID_COLUMNS)})"
        )
    bad = ~outcomes["defaulted"].isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BacktestError(f"{path} row {row + 2}: defaulted must be 0 or 1, got {outcomes['defaulted'].iloc[row]!r}")
    date_column = columns[2]
    outcomes[date_column] = pd.to_datetime(outcomes[date_column], errors="coerce", utc=True)
    if outcomes[date_column].isna().any():
        row = int(np.flatnonzero(outcomes[date_column].isna())[0])
        raise BacktestError(f"{path} row {row + 2}: {date_column} must be a date (YYYY-MM-DD)")
    key = list(columns[:1]) if columns == OUTCOME_COLUMNS else ["id", "as_of"]
    if outcomes.duplicated(key).any():
        raise BacktestError(f"{path} has two outcomes for one {' and '.join(key)}")
    return outcomes


def joined(decisions: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """The decisions with their outcome (``defaulted`` NaN: pending)."""
    if "decision_id" in outcomes:
        return decisions.merge(outcomes[["decision_id", "defaulted"]], on="decision_id", how="left")
    by_id = decisions.dropna(subset=["id"]).sort_values("recorded_at")
    matched = pd.merge_asof(
        outcomes.sort_values("as_of"), by_id[["id", "recorded_at", "decision_id"]], left_on="as_of",
        right_on="recorded_at", by="id", direction="backward",
    )  # fmt: skip
    return decisions.merge(matched[["decision_id", "defaulted"]].dropna(), on="decision_id", how="left")


def hosmer_lemeshow(y: np.ndarray, p: np.ndarray, groups: int = HL_GROUPS) -> tuple[float, float]:
    """The statistic over ``groups`` groups of the records in the order given (sorted by PD; equal counts, the first
    ones one larger when they do not divide) and its chi-square p-value (groups - 2 degrees of freedom)."""
    statistic = 0.0
    for part in np.array_split(np.arange(len(p)), groups):
        n, observed, expected = len(part), y[part].sum(), p[part].sum()
        if n and 0 < expected < n:
            statistic += (observed - expected) ** 2 / (expected * (1 - expected / n))
    return float(statistic), float(stats.chi2.sf(statistic, groups - 2))


def book_figures(frame: pd.DataFrame) -> dict:
    """Counts and discrimination and calibration figures of the matured decisions of ``frame``."""
    matured = frame.dropna(subset=["defaulted"]).sort_values(["probability", "decision_id"])  # the SQL's order
    y, p = matured["defaulted"].to_numpy(int), matured["probability"].to_numpy(float)
    figures = {
        "decisions": len(frame),
        "matured": len(matured),
        "defaults": int(y.sum()),
        "pending": int(frame["defaulted"].isna().sum()),
        "mean_pd": float(p.mean()) if len(p) else None,
        "default_rate": float(y.mean()) if len(y) else None,
    }
    both = len(y) and 0 < y.sum() < len(y)
    figures |= {
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "ks": ks_statistic(y, p) if both else None,
        "brier": float(np.mean((p - y) ** 2)) if len(y) else None,
        "ece": expected_calibration_error(y, p) if len(y) else None,
    }
    hl = hosmer_lemeshow(y, p) if len(y) >= HL_GROUPS else (None, None)
    figures |= {"hosmer_lemeshow": hl[0], "hosmer_lemeshow_p": hl[1]}
    figures |= binomial_figures(int(y.sum()), len(y), float(p.mean()) if len(p) else None)
    return figures


def binomial_figures(defaults: int, n: int, pd_: float | None) -> dict:
    """The Jeffreys interval and the one-sided Jeffreys and binomial p-values of ``defaults`` in ``n`` at PD ``pd_``."""
    if not n or pd_ is None:
        return {"jeffreys_low": None, "jeffreys_high": None, "p_underestimates": None, "p_overestimates": None,
                "binomial_p_underestimates": None, "binomial_p_overestimates": None, "light": None}  # fmt: skip
    posterior = stats.beta(defaults + 0.5, n - defaults + 0.5)
    under = float(posterior.cdf(pd_))
    return {
        "jeffreys_low": float(posterior.ppf(0.025)),
        "jeffreys_high": float(posterior.ppf(0.975)),
        "p_underestimates": under,
        "p_overestimates": 1.0 - under,
        "binomial_p_underestimates": float(stats.binom.sf(defaults - 1, n, pd_)),  # P(X >= d)
        "binomial_p_overestimates": float(stats.binom.cdf(defaults, n, pd_)),  # P(X <= d)
        "light": light(under),
    }


def band_table(frame: pd.DataFrame) -> list[dict]:
    """Per risk band: matured decisions, mean PD, observed default rate, and the tests of ``binomial_figures``."""
    matured = frame.dropna(subset=["defaulted"])
    table = []
    for band in BAND_LABELS:
        members = matured[matured["band"] == band]
        n, defaults = len(members), int(members["defaulted"].sum())
        mean_pd = float(members["probability"].mean()) if n else None
        table.append(
            {"band": band, "matured": n, "defaults": defaults, "mean_pd": mean_pd,
             "default_rate": defaults / n if n else None} | binomial_figures(defaults, n, mean_pd)
        )  # fmt: skip
    return table


def protected_groups(frame: pd.DataFrame, threshold: float | None) -> list[dict]:
    """Per group of each protected attribute the records carry (the fairness report's groups: sex, marital status,
    age band): the default rate and, with the version's flagging threshold, the share not flagged over the most
    favoured group's (the adverse-impact ratio)."""
    matured = frame.dropna(subset=["defaulted"])
    x = np.full((len(matured), len(FEATURE_NAMES)), np.nan)
    for name in PROTECTED_FIELDS:
        x[:, FEATURE_NAMES.index(name)] = matured[name].to_numpy(float)
    y, p = matured["defaulted"].to_numpy(float), matured["probability"].to_numpy(float)
    found = []
    for attribute in sorted(GATED):
        groups = [
            {
                "attribute": attribute,
                "group": label,
                "matured": int(mask.sum()),
                "default_rate": float(y[mask].mean()),
                "not_flagged": float((p[mask] < threshold).mean()) if threshold is not None else None,
            }
            for label, mask in group_masks(x, attribute).items()
            if mask.any()
        ]
        best = max((group["not_flagged"] or 0.0 for group in groups), default=0.0)
        for group in groups:
            group["air"] = group["not_flagged"] / best if group["not_flagged"] is not None and best else None
        found += groups
    return found


@dataclass(frozen=True)
class Report:
    overall: dict
    versions: dict[str, dict]
    """version -> {"book": figures, "vintages": {month: figures}, "bands": [rows]}"""

    @property
    def red(self) -> bool:
        return self.overall["light"] == RED or any(
            section["book"]["light"] == RED or any(row["light"] == RED for row in section["bands"])
            for section in self.versions.values()
        )


def backtest(decisions: pd.DataFrame, outcomes: pd.DataFrame) -> tuple[Report, pd.DataFrame]:
    frame = joined(decisions, outcomes)
    versions = {}
    for version, part in frame.groupby("model_version"):
        versions[version] = {
            "book": book_figures(part),
            "vintages": {vintage: book_figures(rows) for vintage, rows in part.groupby("vintage")},
            "bands": band_table(part),
        }
    return Report(book_figures(frame), versions), frame


# --- the report -----------------------------------------------------------------------------------------------

FIGURES = ("decisions", "matured", "defaults", "pending", "mean_pd", "default_rate", "roc_auc", "ks", "brier", "ece",
           "hosmer_lemeshow", "hosmer_lemeshow_p", "p_underestimates", "light")  # fmt: skip
BAND_COLUMNS = ("band", "matured", "defaults", "mean_pd", "default_rate", "jeffreys_low", "jeffreys_high",
                "p_underestimates", "p_overestimates", "binomial_p_underestimates", "binomial_p_overestimates",
                "light")  # fmt: skip


GROUP_COLUMNS = ("attribute", "group", "matured", "default_rate", "not_flagged", "air")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"
    return str(value)


def _table(columns: tuple[str, ...], rows: list[dict]) -> list[str]:
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows),
    ]


def save_plots(report: Report, frame: pd.DataFrame, folder: Path) -> list[Path]:
    """Observed against predicted by band with Jeffreys intervals, ROC, and calibration by vintage, per version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for version, section in report.versions.items():
        figure, (bands, roc, vintages) = plt.subplots(1, 3, figsize=(16, 4.8))
        rows = [row for row in section["bands"] if row["matured"]]
        x = np.arange(len(rows))
        bands.vlines(x, [row["jeffreys_low"] for row in rows], [row["jeffreys_high"] for row in rows],
                     label="Jeffreys 95% interval")  # fmt: skip
        bands.plot(x, [row["default_rate"] for row in rows], "o", label="observed default rate")
        bands.plot(x, [row["mean_pd"] for row in rows], "s--", label="mean predicted PD")
        bands.set_xticks(x, [row["band"] for row in rows])
        bands.set_title("Default rate by risk band")
        bands.legend()
        matured = frame[(frame["model_version"] == version) & frame["defaulted"].notna()]
        y, p = matured["defaulted"].to_numpy(int), matured["probability"].to_numpy(float)
        if 0 < y.sum() < len(y):
            fpr, tpr, _ = roc_curve(y, p)
            roc.plot(fpr, tpr, label=f"ROC-AUC {section['book']['roc_auc']:.4f}")
        roc.plot([0, 1], [0, 1], ":", color="grey")
        roc.set_title("ROC")
        roc.legend()
        months = sorted(section["vintages"])
        vintages.plot(months, [section["vintages"][m]["mean_pd"] for m in months], "s--", label="mean predicted PD")
        vintages.plot(months, [section["vintages"][m]["default_rate"] for m in months], "o-", label="observed")
        vintages.set_title("Calibration by vintage")
        vintages.legend()
        figure.suptitle(f"Back-test of {version}")
        figure.tight_layout()
        path = folder / f"backtest_{version}.png"
        figure.savefig(path, dpi=96)
        plt.close(figure)
        paths.append(path)
    return paths


def markdown(report: Report, groups: dict[str, list[dict]], plots: list[Path], sources: tuple[str, str]) -> str:
    lines = [
        "# Outcome back-test",
        "",
        f"Decisions: `{sources[0]}`; outcomes: `{sources[1]}`. Pending decisions (no outcome yet) are counted, never "
        f"taken as non-defaults. Traffic lights: the one-sided Jeffreys p-value that the PD underestimates; green "
        f">= {GREEN_FROM}, yellow down to {RED_BELOW}, red below (ECB instructions for reporting the validation "
        "results of IRB models, 2019, section 2.5.3.1).",
        "",
        f"**Whole book: {report.overall['light'] or 'no matured decision'}.**",
        "",
        *_table(FIGURES, [report.overall]),
    ]
    for version, section in report.versions.items():
        vintages = [{"vintage": month, **figures} for month, figures in sorted(section["vintages"].items())]
        lines += ["", f"## {version}", "", *_table(FIGURES, [section["book"]])]
        lines += ["", "### By vintage (decision month)", "", *_table(("vintage", *FIGURES), vintages)]
        lines += ["", "### By risk band", "", *_table(BAND_COLUMNS, section["bands"])]
        if groups.get(version):
            lines += ["", "### Protected groups (records that carry them)", "", *_table(GROUP_COLUMNS, groups[version])]
    lines += ["", *(f"![{plot.stem}]({plot.name})" for plot in plots)]
    return "\n".join(lines) + "\n"


def threshold_of(version: str, models_dir: Path) -> float | None:
    """The version's flagging threshold from its manifest, when the version is in ``models_dir``."""
    path = models_dir / version / "manifest.json"
    return json.loads(path.read_text())["threshold"]["value"] if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", required=True, help="DECISION_RECORDS_URL: a folder or gs://bucket/prefix")
    parser.add_argument("--outcomes", required=True, type=Path, help="CSV: decision_id,defaulted,observed_at")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="for each version's threshold")
    parser.add_argument("--report-dir", type=Path, default=Path("reports/backtest"))
    args = parser.parse_args(argv)
    try:
        report, frame = backtest(decisions_frame(args.decisions), read_outcomes(args.outcomes))
    except BacktestError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    groups = {
        version: protected_groups(part, threshold_of(version, args.models_dir))
        for version, part in frame.groupby("model_version")
    }
    plots = save_plots(report, frame, args.report_dir)
    path = args.report_dir / "backtest.md"
    path.write_text(markdown(report, groups, plots, (args.decisions, str(args.outcomes))))
    for version, section in report.versions.items():
        book = section["book"]
        lights = " ".join(f"{row['band']}:{row['light'] or '-'}" for row in section["bands"])
        print(f"{version}: {book['matured']} matured, {book['pending']} pending, ROC-AUC {_cell(book['roc_auc'])}, "
              f"book {book['light']}; bands {lights}")  # fmt: skip
    print(f"whole book: {report.overall['light']}; report {path}")
    return EXIT_RED if report.red else EXIT_GREEN


if __name__ == "__main__":
    sys.exit(main())
