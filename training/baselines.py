"""Baselines fitted on the same split: does the network earn its place?"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from training.features import build_preprocessor


def fit_baselines(x_train, y_train, seed: int) -> dict[str, object]:
    """Logistic regression (on the standard-onehot-arcsinh features) and HistGradientBoosting (on the raw columns)."""
    return {
        "logistic_regression": make_pipeline(
            build_preprocessor("standard-onehot-arcsinh"), LogisticRegression(C=1.0, max_iter=2000)
        ).fit(x_train, y_train),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed).fit(x_train, y_train),
    }
