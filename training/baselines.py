"""Baselines fitted on the same split and the same model inputs: does the network earn its place?"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from training.features import build_preprocessor


def fit_baselines(inputs_train, y_train, feature_set: str, seed: int) -> dict[str, object]:
    """Logistic regression (on the standard-onehot-arcsinh preprocessing) and HistGradientBoosting (on the model
    inputs as they are), both with scikit-learn's default settings, on the model inputs of ``feature_set``."""
    return {
        "logistic_regression": make_pipeline(
            build_preprocessor("standard-onehot-arcsinh", feature_set), LogisticRegression(C=1.0, max_iter=2000)
        ).fit(inputs_train, y_train),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed).fit(inputs_train, y_train),
    }
