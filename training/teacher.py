"""Distillation: a gradient-boosting teacher whose out-of-fold probabilities the network may learn from.

Trees find the sharp interactions of repayment statuses that a small network trained on 0/1 outcomes finds
slowly; a network trained on the outcomes blended with a teacher's probabilities learns them as a smooth
target. The teacher's probabilities for a training row come from a teacher that never saw that row (5-fold
out-of-fold predictions), so the network does not learn the teacher's over-fit. The teacher's settings were
chosen on the validation split (their ROC-AUC there: 0.783 on the ``fields+derived`` inputs); whether a
distilled network is served is decided on the validation split like every other choice.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict

TEACHER_SETTINGS = {"learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0, "max_iter": 100}
FOLDS = 5


def teacher(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(**TEACHER_SETTINGS, early_stopping=False, random_state=seed)


def training_targets(
    kind: str, inputs: np.ndarray, outcomes: np.ndarray, seed: int, teacher_weight: float
) -> np.ndarray:
    """What the network fits: the 0/1 ``outcomes``, or (``distilled``) their blend with the teacher's
    out-of-fold probabilities."""
    if kind == "outcomes":
        return outcomes.astype(np.float32)
    if kind != "distilled":
        raise ValueError(f"unknown target {kind!r}")
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    taught = cross_val_predict(teacher(seed), inputs, outcomes, cv=folds, method="predict_proba")[:, 1]
    return ((1 - teacher_weight) * outcomes + teacher_weight * taught).astype(np.float32)
