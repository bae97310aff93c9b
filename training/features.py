"""The preprocessors the model selection chooses among, built from scikit-learn's own classes only.

Each takes a float matrix with the columns of ``FEATURE_NAMES`` and is saved as ``prep.joblib``.
The function applies it without scikit-learn, so each is made only of the components
``functions/default_risk/preprocessing.py`` knows (``COMPONENTS``; ``np.arcsinh`` is a numpy ufunc, which
pickles by reference); the export proves the function's result equal to scikit-learn's.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from default_risk.contract import CODE_FEATURES, FEATURE_NAMES, FEATURES_BY_NAME, NUMERIC_FEATURES
from training.config import PREPROCESSINGS

AMOUNT_FEATURES: tuple[str, ...] = tuple(name for name in NUMERIC_FEATURES if FEATURES_BY_NAME[name].kind == "amount")


def _columns(names: tuple[str, ...]) -> list[int]:
    return [FEATURE_NAMES.index(name) for name in names]


def _one_hot() -> OneHotEncoder:
    # Categories are the contract's codes, so every accepted code has its column even if training never saw it.
    categories = [np.array(FEATURES_BY_NAME[name].codes, dtype=np.float64) for name in CODE_FEATURES]
    return OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False, dtype=np.float64)


def build_preprocessor(kind: str) -> ColumnTransformer:
    """An unfitted preprocessor of ``kind`` (one of ``PREPROCESSINGS``)."""
    if kind == "standard":
        return ColumnTransformer([("all", StandardScaler(), _columns(FEATURE_NAMES))], sparse_threshold=0)
    if kind == "standard-onehot-arcsinh":
        arcsinh = Pipeline(
            [("arcsinh", FunctionTransformer(np.arcsinh, feature_names_out="one-to-one")), ("scale", StandardScaler())]
        )
        return ColumnTransformer(
            [
                ("all", StandardScaler(), _columns(FEATURE_NAMES)),
                ("codes", _one_hot(), _columns(CODE_FEATURES)),
                ("amounts", arcsinh, _columns(AMOUNT_FEATURES)),
            ],
            sparse_threshold=0,
        )
    raise ValueError(f"unknown preprocessing {kind!r}; choose one of {', '.join(PREPROCESSINGS)}")
