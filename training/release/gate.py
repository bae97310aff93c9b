"""The quality gate: what a model version must show to be promoted and deployed.

Training reports it; promotion and the publish CLI (``--require-quality-gate``) enforce it before the CI deploy.
Its figures are set in ``training.config``. Four parts:

- the test metrics (``QUALITY_GATE``);
- validation against the baseline: the served model's validation ROC-AUC at most ``BASELINE_MARGIN`` below
  ``BASELINE``'s on the same model inputs;
- the four-fifths rule on the manifest's fairness report (``training.fairness``): no group of a protected attribute
  with at least ``MIN_GROUP_ROWS`` test rows may have an adverse-impact ratio below ``AIR_LIMIT``;
- lineage: the version names the commit that trained it, from a tree with no change that commit does not hold
  (``training.lineage``), so that ``make reproduce`` can rebuild it.
"""

from __future__ import annotations

import operator

from training.config import AIR_LIMIT, BASELINE, BASELINE_MARGIN, MIN_GROUP_ROWS, QUALITY_GATE

_COMPARE = {">=": operator.ge, "<=": operator.le}


def gate_refusal(manifest: dict) -> str | None:
    """Why ``manifest``'s version may not be promoted, published or deployed (one line), or None when it passes."""
    failures = check_quality_gate(manifest)
    return f"version {manifest.get('version')} misses the quality gate: " + "; ".join(failures) if failures else None


def check_quality_gate(manifest: dict) -> list[str]:
    """One readable line per failed or missing part of the gate; empty when the version passes."""
    test_metrics = manifest.get("metrics", {}).get("test", {})
    failures = []
    for name, (comparison, threshold) in QUALITY_GATE.items():
        value = test_metrics.get(name)
        if not isinstance(value, (int, float)):
            failures.append(f"test {name} is missing from the manifest (gate: {comparison} {threshold})")
        elif not _COMPARE[comparison](value, threshold):
            failures.append(f"test {name} = {value:.4f}, gate requires {comparison} {threshold}")
    return [
        *failures,
        *baseline_failures(manifest.get("metrics", {})),
        *fairness_failures(manifest.get("fairness")),
        *lineage_failures(manifest.get("lineage")),
    ]


def baseline_failures(metrics: dict) -> list[str]:
    """A line when the served model's validation ROC-AUC is more than ``BASELINE_MARGIN`` below the baseline's."""
    served = metrics.get("validation", {}).get("roc_auc")
    baseline = metrics.get("baselines_validation", {}).get(BASELINE, {}).get("roc_auc")
    if not isinstance(served, (int, float)) or not isinstance(baseline, (int, float)):
        return [f"validation ROC-AUC of the model and of {BASELINE} are missing from the manifest"]
    if served < baseline - BASELINE_MARGIN:
        return [
            f"validation ROC-AUC {served:.4f} is more than {BASELINE_MARGIN} below {BASELINE}'s {baseline:.4f} "
            "on the same inputs"
        ]
    return []


def fairness_failures(report: dict | None) -> list[str]:
    """One line per gated group of at least ``MIN_GROUP_ROWS`` test rows whose ratio is below ``AIR_LIMIT``."""
    if not report:
        return [f"the manifest has no fairness report (gate: adverse-impact ratio >= {AIR_LIMIT} for protected groups)"]
    return [
        f"{entry['attribute']} group {figures['group']!r} ({figures['rows']} test rows) has an adverse-impact "
        f"ratio of {figures['air']:.3f}, below {AIR_LIMIT} (four-fifths rule)"
        for entry in report["attributes"]
        if entry["gated"]
        for figures in entry["groups"]
        if figures["rows"] >= MIN_GROUP_ROWS and figures["air"] is not None and figures["air"] < AIR_LIMIT
    ]


def lineage_failures(lineage: dict | None) -> list[str]:
    """A line unless the version names the commit that trained it and was trained from that commit's code alone."""
    code = (lineage or {}).get("code") or {}
    if not code.get("commit"):
        return ["the manifest names no commit of the code that trained it: nobody can rebuild it (train again)"]
    if not code.get("clean"):
        changed = ", ".join(code.get("changed_files", [])[:5])
        return [f"trained from changes that commit {code['commit'][:12]} does not hold ({changed}): commit, then train"]
    return []
