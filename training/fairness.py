"""The fairness report of a version on its test set, and the four-fifths rule that gates promotion.

Groups: by ``SEX``, ``MARRIAGE``, ``EDUCATION`` and age band (under 25, 25-34, 35-44, 45-54, 55-61, 62+).
For each: rows, observed default rate, mean probability, ROC-AUC, ECE, the share flagged at the version's
threshold, true- and false-positive rates, and the adverse-impact ratio: the group's not-flagged share over
that of the attribute's most favoured group (the group with at least ``MIN_GROUP_ROWS`` rows whose members
are least often flagged). ``SEX``, ``MARRIAGE`` and the age bands are protected attributes: a group of at
least ``MIN_GROUP_ROWS`` test rows with a ratio below ``AIR_LIMIT`` stops promotion. ``EDUCATION`` is
reported, not gated: it is not a protected class, and its small groups with very low default rates would
trip the rule.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from default_risk.contract.fields import ELDERLY_AGE, FEATURE_NAMES
from training.config import AIR_LIMIT, MIN_GROUP_ROWS
from training.metrics import expected_calibration_error

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("under 25", 0, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    (f"55-{ELDERLY_AGE - 1}", 55, ELDERLY_AGE - 1),
    (f"{ELDERLY_AGE}+", ELDERLY_AGE, 200),
)
LABELS: dict[str, dict[int, str]] = {
    "SEX": {1: "male", 2: "female"},
    "MARRIAGE": {0: "0 (undocumented)", 1: "married", 2: "single", 3: "others"},
    "EDUCATION": {
        0: "0 (undocumented)",
        1: "graduate school",
        2: "university",
        3: "high school",
        4: "others",
        5: "5 (undocumented)",
        6: "6 (undocumented)",
    },
}
AGE_BAND = "age band"
ATTRIBUTES: tuple[str, ...] = ("SEX", "MARRIAGE", "EDUCATION", AGE_BAND)
GATED: frozenset[str] = frozenset({"SEX", "MARRIAGE", AGE_BAND})
COLUMNS = ("rows", "default_rate", "mean_probability", "roc_auc", "ece", "flagged_share", "tpr", "fpr", "air")


def group_masks(x: np.ndarray, attribute: str) -> dict[str, np.ndarray]:
    """Group label -> which rows of ``x`` (columns in ``FEATURE_NAMES`` order) belong to it."""
    if attribute == AGE_BAND:
        age = x[:, FEATURE_NAMES.index("AGE")]
        return {label: (age >= low) & (age <= high) for label, low, high in AGE_BANDS}
    values = x[:, FEATURE_NAMES.index(attribute)]
    return {label: values == code for code, label in LABELS[attribute].items()}


def _group_figures(y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> dict:
    positives, negatives = y == 1, y == 0
    return {
        "rows": len(y),
        "default_rate": float(y.mean()),
        "mean_probability": float(p.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if positives.any() and negatives.any() else None,
        "ece": expected_calibration_error(y, p),
        "flagged_share": float(flagged.mean()),
        "tpr": float(flagged[positives].mean()) if positives.any() else None,
        "fpr": float(flagged[negatives].mean()) if negatives.any() else None,
    }


def fairness_report(x: np.ndarray, y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """The report for test rows ``x`` (all 23 fields), outcomes ``y`` and probabilities ``p``."""
    flagged = p >= threshold
    attributes = []
    for attribute in ATTRIBUTES:
        groups = [
            {"group": label} | _group_figures(y[mask], p[mask], flagged[mask])
            for label, mask in group_masks(x, attribute).items()
            if mask.any()
        ]
        large = [g for g in groups if g["rows"] >= MIN_GROUP_ROWS] or groups
        favoured = max(1 - g["flagged_share"] for g in large)
        for figures in groups:
            figures["air"] = (1 - figures["flagged_share"]) / favoured if favoured > 0 else None
        attributes.append({"attribute": attribute, "gated": attribute in GATED, "groups": groups})
    return {
        "threshold": threshold,
        "min_group_rows": MIN_GROUP_ROWS,
        "air_limit": AIR_LIMIT,
        "rule": "adverse-impact ratio: not-flagged share over the most favoured group's (four-fifths rule)",
        "attributes": attributes,
        "lowest_gated_air": lowest_gated_air({"attributes": attributes}),
    }


def lowest_gated_air(report: dict) -> dict | None:
    """The gated group of at least ``MIN_GROUP_ROWS`` rows with the lowest adverse-impact ratio."""
    candidates = [
        {"attribute": entry["attribute"], "group": figures["group"], "air": figures["air"], "rows": figures["rows"]}
        for entry in report["attributes"]
        if entry["gated"]
        for figures in entry["groups"]
        if figures["rows"] >= MIN_GROUP_ROWS and figures["air"] is not None
    ]
    return min(candidates, key=lambda c: c["air"]) if candidates else None


def fairness_table(report: dict) -> str:
    """The report as a text table (printed by training, logged to MLflow, quoted in the model card)."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        return f"{value:d}" if isinstance(value, int) else f"{value:.3f}"

    lines = [f"{'group':<30}" + "".join(f"{name:>17}" for name in COLUMNS)]  # 17: the widest header
    for entry in report["attributes"]:
        lines.append(f"{entry['attribute']}{' (gated)' if entry['gated'] else ' (reported)'}")
        for figures in entry["groups"]:
            lines.append(f"  {figures['group']:<28}" + "".join(f"{cell(figures[name]):>17}" for name in COLUMNS))
    lowest = report["lowest_gated_air"]
    if lowest:
        lines.append(
            f"lowest adverse-impact ratio of a protected group of {MIN_GROUP_ROWS}+ rows: {lowest['air']:.3f} "
            f"({lowest['attribute']} {lowest['group']}); limit {AIR_LIMIT}"
        )
    return "\n".join(lines)
