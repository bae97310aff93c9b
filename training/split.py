"""The split: a stratified test set held out once, and a validation set carved from the rest.

The validation set makes every choice (early stopping, model selection, calibration, the
decision threshold); the test set is scored once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    """Feature matrices (float64, columns in ``FEATURE_NAMES`` order) and 0/1 targets."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_index: np.ndarray
    """Row positions of the test set in the loaded data (to prove determinism and for reports)."""

    def describe(self, seed: int, test_size: float, val_size: float) -> dict:
        """The split as recorded in the manifest and in MLflow."""
        return {
            "method": "stratified",
            "seed": seed,
            "test_size": test_size,
            "val_size_of_train": val_size,
            "rows": {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)},
            "positives": {
                "train": int(self.y_train.sum()),
                "validation": int(self.y_val.sum()),
                "test": int(self.y_test.sum()),
            },
        }


def split_dataset(
    features: pd.DataFrame, target: pd.Series, *, seed: int = 42, test_size: float = 0.2, val_size: float = 0.2
) -> Split:
    """Stratified ``test_size`` test split, then a stratified ``val_size`` share of the rest for validation."""
    x = features.to_numpy(dtype=np.float64)
    y = target.to_numpy(dtype=np.int64)
    positions = np.arange(len(y))
    rest, test = train_test_split(positions, test_size=test_size, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=y[rest], random_state=seed)
    return Split(x[train], y[train], x[val], y[val], x[test], y[test], test)
