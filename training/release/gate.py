"""The quality gate: the test-set figures a model version must reach to be promoted and deployed.

Defined once here; training reports it, promotion and the publish CLI (``--require-quality-gate``) enforce
it before the CI deploy. Two parts: the test metrics (``QUALITY_GATE``), and the four-fifths rule on the
manifest's fairness report (``training.fairness``): no group of a protected attribute with at least
``MIN_GROUP_ROWS`` test rows may have an adverse-impact ratio below ``AIR_LIMIT``.
"""

from __future__ import annotations

import operator

QUALITY_GATE: dict[str, tuple[str, float]] = {
    "roc_auc": (">=", 0.775),
    "brier": ("<=", 0.137),
    "ece": ("<=", 0.02),
}
"""Metric name in ``manifest["metrics"]["test"]`` -> (comparison, threshold)."""

MIN_GROUP_ROWS = 100
AIR_LIMIT = 0.8

_COMPARE = {">=": operator.ge, "<=": operator.le}


def gate_refusal(manifest: dict) -> str | None:
    """Why ``manifest``'s version may not be promoted, published or deployed (one line), or None when it passes."""
    failures = check_quality_gate(manifest)
    return f"version {manifest.get('version')} misses the quality gate: " + "; ".join(failures) if failures else None


def check_quality_gate(manifest: dict) -> list[str]:
    """One readable line per failed or missing metric of ``manifest["metrics"]["test"]`` and per protected group
    below the four-fifths rule; empty when the version passes."""
    test_metrics = manifest.get("metrics", {}).get("test", {})
    failures = []
    for name, (comparison, threshold) in QUALITY_GATE.items():
        value = test_metrics.get(name)
        if not isinstance(value, (int, float)):
            failures.append(f"test {name} is missing from the manifest (gate: {comparison} {threshold})")
        elif not _COMPARE[comparison](value, threshold):
            failures.append(f"test {name} = {value:.4f}, gate requires {comparison} {threshold}")
    return failures + fairness_failures(manifest.get("fairness"))


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
