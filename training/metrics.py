"""Metrics, the decision threshold and the evaluation plots.

Metrics: ROC-AUC, PR-AUC (average precision), Brier score, log loss, KS (the largest gap between
the score distributions of the two classes), and ECE over 10 equal-width probability bins
(the row-weighted mean gap between mean predicted probability and observed default rate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from training.config import ECE_BINS

PLOT_FILES = ("roc.png", "precision_recall.png", "reliability.png", "score_histogram.png")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.sum() * abs(p[in_bin].mean() - y[in_bin].mean())
    return float(total / len(y))


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def quality(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The threshold-free metrics of probabilities ``p`` for 0/1 outcomes ``y``."""
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, clipped)),
        "ks": ks_statistic(y, p),
        "ece": expected_calibration_error(y, p),
    }


def f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold maximising F1 (chosen on validation, applied to test)."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Confusion matrix (flagged = probability >= threshold) and the rates derived from it."""
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, p >= threshold, labels=[0, 1]).ravel())
    return {
        "threshold": threshold,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "flagged_share": (tp + fp) / len(y),
    }


def save_plots(y: np.ndarray, scores: dict[str, np.ndarray], out_dir: Path, threshold: float) -> list[Path]:
    """ROC, precision-recall, reliability and score-histogram PNGs; ``scores`` maps a model name to
    its test probabilities, the first being the served model (the reliability and histogram plots show it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    served_name, served = next(iter(scores.items()))
    paths = [out_dir / name for name in PLOT_FILES]

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test set")
    ax.legend(loc="lower right")
    fig.savefig(paths[0], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, p):.3f})")
    ax.axhline(y.mean(), color="k", ls=":", lw=1, label=f"base rate {y.mean():.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test set")
    ax.legend(loc="upper right")
    fig.savefig(paths[1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    which = np.minimum((served * ECE_BINS).astype(int), ECE_BINS - 1)
    filled = [b for b in range(ECE_BINS) if (which == b).any()]
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    ax.plot(
        [served[which == b].mean() for b in filled],
        [y[which == b].mean() for b in filled],
        "o-",
        label=f"{served_name} (ECE {expected_calibration_error(y, served):.3f})",
    )
    ax.set(xlabel="mean predicted probability", ylabel="observed default rate", title="Reliability, test set")
    ax.legend(loc="upper left")
    fig.savefig(paths[2], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    edges = np.linspace(0, 1, 41)
    ax.hist(served[y == 0], bins=edges, alpha=0.6, density=True, label="no default")
    ax.hist(served[y == 1], bins=edges, alpha=0.6, density=True, label="default")
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set(xlabel="predicted probability of default", ylabel="density", title=f"Scores by class, {served_name}")
    ax.legend()
    fig.savefig(paths[3], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths
