"""What the model sees: the model fields of a record, and the features credit-risk practice derives from them.

Applied with numpy, identically at training and at serving, to a matrix in ``FEATURE_NAMES`` order (one row
per record; absent protected fields are NaN and never read). A model version names its feature set in its
manifest; the function refuses a version whose set this code does not compute the same way.

The derived features (``fields+derived``):

- credit utilisation: the bill over the credit limit, for the latest month, averaged over six months, at its
  highest, and its trend (least-squares slope per month, positive when it rises towards the latest month);
- repayment ratios: each month's payment over the bill it pays (the previous month's; 1 when nothing was owed),
  and the same over the five months together;
- delays: how many of the six months were late, the worst delay, how many months ago the latest one was
  (6: none), and how many months were revolving (0), paid in full (-1) or without consumption (-2).

Protected fields (``contract.PROTECTED_FIELDS``) are in no feature set.
"""

from __future__ import annotations

import numpy as np

from default_risk.contract import FEATURE_NAMES, MODEL_FIELDS

_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}
_MODEL_COLUMNS = [_COLUMN[name] for name in MODEL_FIELDS]
_LIMIT = _COLUMN["LIMIT_BAL"]
_STATUS = [_COLUMN[name] for name in ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")]
"""Repayment status, latest month (September) first."""
_BILLS = [_COLUMN[f"BILL_AMT{month}"] for month in range(1, 7)]
_PAYMENTS = [_COLUMN[f"PAY_AMT{month}"] for month in range(1, 7)]
_MONTHS_BACK = np.arange(6.0)
_TREND_WEIGHTS = (_MONTHS_BACK.mean() - _MONTHS_BACK) / ((_MONTHS_BACK - _MONTHS_BACK.mean()) ** 2).sum()
"""Least-squares slope per month over the six months, oldest to latest."""
UTILISATION_RANGE = (-1.0, 5.0)
REPAYMENT_RATIO_RANGE = (0.0, 2.0)

DERIVED_FEATURES: tuple[str, ...] = (
    "utilisation_latest",
    "utilisation_mean",
    "utilisation_max",
    "utilisation_trend",
    *(f"repayment_ratio_{month}" for month in range(1, 6)),
    "repayment_ratio_total",
    "months_delayed",
    "worst_delay",
    "months_since_delay",
    "months_revolving",
    "months_paid_in_full",
    "months_no_consumption",
)

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "fields": MODEL_FIELDS,
    "fields+derived": (*MODEL_FIELDS, *DERIVED_FEATURES),
}
"""Feature set name -> the model's input columns, in order."""


def model_inputs(matrix: np.ndarray, feature_set: str) -> np.ndarray:
    """The model's input columns (``FEATURE_SETS[feature_set]``) of validated records."""
    fields = matrix[:, _MODEL_COLUMNS]
    if feature_set == "fields":
        return fields
    if feature_set != "fields+derived":
        raise ValueError(f"unknown feature set {feature_set!r}; this code computes {', '.join(FEATURE_SETS)}")
    return np.hstack([fields, _derived(matrix)])


def _derived(matrix: np.ndarray) -> np.ndarray:
    limit = np.maximum(matrix[:, _LIMIT], 1.0)[:, None]
    bills, payments, status = matrix[:, _BILLS], matrix[:, _PAYMENTS], matrix[:, _STATUS]
    utilisation = np.clip(bills / limit, *UTILISATION_RANGE)
    owed = bills[:, 1:]  # the payment of month m pays the bill of month m + 1 (one month older)
    ratios = np.where(owed > 0, payments[:, :5] / np.maximum(owed, 1.0), 1.0)
    positive_owed = np.clip(owed, 0.0, None).sum(axis=1)
    total = np.where(positive_owed > 0, payments[:, :5].sum(axis=1) / np.maximum(positive_owed, 1.0), 1.0)
    delayed = status >= 1
    latest_delay = np.where(delayed.any(axis=1), delayed.argmax(axis=1), 6)
    return np.column_stack(
        [
            utilisation[:, 0],
            utilisation.mean(axis=1),
            utilisation.max(axis=1),
            utilisation @ _TREND_WEIGHTS,
            np.clip(ratios, *REPAYMENT_RATIO_RANGE),
            np.clip(total, *REPAYMENT_RATIO_RANGE),
            delayed.sum(axis=1),
            status.max(axis=1),
            latest_delay,
            (status == 0).sum(axis=1),
            (status == -1).sum(axis=1),
            (status == -2).sum(axis=1),
        ]
    )
