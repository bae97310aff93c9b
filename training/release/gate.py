"""The quality gate: the test-set figures a model version must reach to be trained "good" and deployed.

Defined once here; training reports it, the publish CLI (``--require-quality-gate``) enforces it
before the CI deploy.
"""

from __future__ import annotations

import operator

QUALITY_GATE: dict[str, tuple[str, float]] = {
    "roc_auc": (">=", 0.775),
    "brier": ("<=", 0.137),
    "ece": ("<=", 0.02),
}
"""Metric name in ``manifest["metrics"]["test"]`` -> (comparison, threshold)."""

_COMPARE = {">=": operator.ge, "<=": operator.le}


def gate_refusal(manifest: dict) -> str | None:
    """Why ``manifest``'s version may not be promoted, published or deployed (one line), or None when it passes."""
    failures = check_quality_gate(manifest)
    return f"version {manifest.get('version')} misses the quality gate: " + "; ".join(failures) if failures else None


def check_quality_gate(manifest: dict) -> list[str]:
    """One readable line per failed or missing metric of ``manifest["metrics"]["test"]``; empty when it passes."""
    test_metrics = manifest.get("metrics", {}).get("test", {})
    failures = []
    for name, (comparison, threshold) in QUALITY_GATE.items():
        value = test_metrics.get(name)
        if not isinstance(value, (int, float)):
            failures.append(f"test {name} is missing from the manifest (gate: {comparison} {threshold})")
        elif not _COMPARE[comparison](value, threshold):
            failures.append(f"test {name} = {value:.4f}, gate requires {comparison} {threshold}")
    return failures
