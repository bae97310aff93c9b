"""The preprocessors model selection chooses among, built from scikit-learn's own classes only.

Each takes the model input columns of a feature set (``default_risk.contract.model_inputs.FEATURE_SETS``) and is
saved as ``prep.joblib``. The function applies it without scikit-learn, so each is made only of the
components ``default_risk.model.preprocessing`` knows (``COMPONENTS``; ``np.arcsinh`` is a numpy ufunc, which
pickles by reference); the export proves the function's result equal to scikit-learn's.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from default_risk.contract.fields import FEATURES_BY_NAME
from default_risk.contract.model_inputs import FEATURE_SETS
from training.config import PREPROCESSINGS


def _of_kind(columns: tuple[str, ...], kind: str) -> list[int]:
    return [i for i, name in enumerate(columns) if name in FEATURES_BY_NAME and FEATURES_BY_NAME[name].kind == kind]


def _one_hot(names: list[str]) -> OneHotEncoder:
    # Categories are the contract's codes, so every accepted code has its column even if training never saw it.
    categories = [np.array(FEATURES_BY_NAME[name].codes, dtype=np.float64) for name in names]
    return OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False, dtype=np.float64)


def build_preprocessor(kind: str, feature_set: str) -> ColumnTransformer:
    """An unfitted preprocessor of ``kind`` (one of ``PREPROCESSINGS``) for the columns of ``feature_set``."""
    columns = FEATURE_SETS[feature_set]
    every = list(range(len(columns)))
    if kind == "standard":
        return ColumnTransformer([("all", StandardScaler(), every)], sparse_threshold=0)
    if kind == "standard-onehot-arcsinh":
        codes, amounts = _of_kind(columns, "code"), _of_kind(columns, "amount")
        arcsinh = Pipeline(
            [("arcsinh", FunctionTransformer(np.arcsinh, feature_names_out="one-to-one")), ("scale", StandardScaler())]
        )
        return ColumnTransformer(
            [
                ("all", StandardScaler(), every),
                ("codes", _one_hot([columns[i] for i in codes]), codes),
                ("amounts", arcsinh, amounts),
            ],
            sparse_threshold=0,
        )
    raise ValueError(f"unknown preprocessing {kind!r}; choose one of {', '.join(PREPROCESSINGS)}")
