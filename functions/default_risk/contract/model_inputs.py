"""What the model sees: the model fields of a record, and the features credit-risk practice derives from them.

Applied with numpy, identically at training and at serving, to a matrix in ``FEATURE_NAMES`` order (one row
per record; absent protected fields are NaN and never read). A model version names its feature set in its
manifest; the function refuses a version whose set this code does not compute the same way.

A version records the column sums of its model inputs on rows spanning the contract (``probe_sums``); the
function refuses a version this code does not reproduce them for. The derived features (``fields+derived``):

- credit utilisation: the bill over the credit limit, for the latest month, averaged over six months, at its
  highest, and its trend (least-squares slope per month, positive when it rises towards the latest month);
- repayment ratios: each month's payment over the bill it pays (the previous month's; 1 when nothing was owed),
  and the same over the five months together;
- delays: how many of the six months were late, the worst delay, how many months ago the latest one was
  (6: none), and how many months were revolving (0), paid in full (-1) or without consumption (-2).

Protected fields (``contract.PROTECTED_FIELDS``) are in no feature set.

One record has its own path (``model_inputs_of_row``): the same computation on Python floats, without the
thirty-odd numpy calls that cost a single row four times what they cost it in a batch. It gives exactly the
batch's values (a property test holds the two to every bit): every step is an IEEE operation that Python and numpy
round alike, the sums add in numpy's order, and the trend goes through BLAS as a batch's rows do.
"""

from __future__ import annotations

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES, MODEL_FIELDS, probe_rows

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
_STATUS_KINDS = np.array([0.0, -1.0, -2.0])
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
FEATURE_REVISIONS: dict[str, tuple[int, ...]] = {"fields": (1,), "fields+derived": (1,)}
"""The revisions of each set's computation this code keeps: a version names the one it was trained on
(``feature_revision`` in its manifest), and a change to a computation is a new revision beside the old ones, so
that no retained version is orphaned. ``FEATURE_REVISION`` is the one new versions are trained on."""
FEATURE_REVISION = 1


PROBE_TOLERANCE = 1e-9
"""Relative tolerance between a version's recorded probe sums and this code's (numpy's float order may differ)."""


def probe_sums(feature_set: str) -> list[float]:
    """Column sums of the model inputs of ``contract.probe_rows()``: a version records them, and the function
    refuses a version whose sums this code does not reproduce (its features would be computed differently)."""
    return model_inputs(probe_rows(), feature_set).sum(axis=0).tolist()


def computes_as_recorded(feature_set: str, recorded: list[float]) -> bool:
    computed = probe_sums(feature_set)
    return len(computed) == len(recorded) and np.allclose(computed, recorded, rtol=PROBE_TOLERANCE, atol=0.0)


def model_inputs(matrix: np.ndarray, feature_set: str) -> np.ndarray:
    """The model's input columns (``FEATURE_SETS[feature_set]``) of validated records."""
    fields = matrix[:, _MODEL_COLUMNS]
    if feature_set == "fields":
        return fields
    if feature_set != "fields+derived":
        raise ValueError(f"unknown feature set {feature_set!r}; this code computes {', '.join(FEATURE_SETS)}")
    return np.hstack([fields, _derived(matrix)])  # column-major, as the preprocessor reads it


def model_inputs_of_row(row: list[float], feature_set: str) -> list[float]:
    """``model_inputs`` of one validated record (its ``FEATURE_NAMES`` values), as Python floats: the same bits."""
    fields = [row[column] for column in _MODEL_COLUMNS]
    if feature_set == "fields":
        return fields
    if feature_set != "fields+derived":
        raise ValueError(f"unknown feature set {feature_set!r}; this code computes {', '.join(FEATURE_SETS)}")
    return [*fields, *_derived_of_row(row)]


_BLAS_BLOCK_ROWS = 4
"""The trend is a matrix-vector product, which BLAS rounds in an order of its own: a batch's rows (column-major, as
``_derived`` makes them) go through its kernel four at a time, and a row alone through another. One record's trend
is computed as a block of four copies of its row, so that it has the bits a batch gives the row."""


def _maximum(a: float, b: float) -> float:
    """numpy's ``maximum`` of two numbers: of two equal ones (0.0 and -0.0) the second, as numpy gives it."""
    return a if a > b else b


def _clipped(value: float, bounds: tuple[float, float]) -> float:
    """numpy's ``clip``: a value equal to a bound (0.0 and -0.0) is kept as it is."""
    low, high = bounds
    return low if value < low else high if value > high else value


def _numpy_sum(values: list[float]) -> float:
    """The sum of a row's few values as numpy's reduction adds a batch's columns: from 0.0, left to right (a plain
    loop: ``sum`` compensates its rounding since Python 3.12)."""
    total = 0.0
    for value in values:
        total += value
    return total


def _numpy_max(values: list[float]) -> float:
    """The largest of a row's few values as numpy's reduction finds it (the last of equal ones)."""
    largest = values[0]
    for value in values[1:]:
        largest = _maximum(largest, value)
    return largest


def _derived_of_row(row: list[float]) -> list[float]:
    """``_derived`` of one record."""
    limit = _maximum(row[_LIMIT], 1.0)
    bills, payments, status = ([row[c] for c in columns] for columns in (_BILLS, _PAYMENTS, _STATUS))
    utilisation = [_clipped(bill / limit, UTILISATION_RANGE) for bill in bills]
    owed, paid = bills[1:], payments[:5]
    ratios = [p / _maximum(o, 1.0) if o > 0 else 1.0 for p, o in zip(paid, owed, strict=True)]
    owed_total, paid_total = _numpy_sum([_maximum(o, 0.0) for o in owed]), _numpy_sum(paid)
    total = paid_total / _maximum(owed_total, 1.0) if owed_total > 0 else 1.0
    delayed = [s >= 1 for s in status]
    trend = np.array([utilisation] * _BLAS_BLOCK_ROWS, order="F") @ _TREND_WEIGHTS
    return [
        utilisation[0],
        _numpy_sum(utilisation) / 6,
        _numpy_max(utilisation),
        float(trend[0]),
        *(_clipped(ratio, REPAYMENT_RATIO_RANGE) for ratio in ratios),
        _clipped(total, REPAYMENT_RATIO_RANGE),
        float(sum(delayed)),
        _numpy_max(status),
        float(delayed.index(True) if True in delayed else 6),
        *(float(status.count(kind)) for kind in _STATUS_KINDS.tolist()),
    ]


def _derived(matrix: np.ndarray) -> np.ndarray:
    limit = np.maximum(matrix[:, _LIMIT], 1.0)[:, None]
    bills, payments, status = matrix[:, _BILLS], matrix[:, _PAYMENTS], matrix[:, _STATUS]
    utilisation = np.clip(bills / limit, *UTILISATION_RANGE)
    owed = bills[:, 1:]  # the payment of month m pays the bill of month m + 1 (one month older)
    positive_owed = np.maximum(owed, 0.0)
    paid = payments[:, :5]
    ratios = np.where(owed > 0, paid / np.maximum(owed, 1.0), 1.0)
    owed_total, paid_total = positive_owed.sum(axis=1), paid.sum(axis=1)
    total = np.where(owed_total > 0, paid_total / np.maximum(owed_total, 1.0), 1.0)
    delayed = status >= 1
    latest_delay = np.where(delayed.any(axis=1), delayed.argmax(axis=1), 6)
    kinds = (status[:, :, None] == _STATUS_KINDS).sum(axis=1)  # months revolving, paid in full, no consumption
    out = np.empty((len(matrix), len(DERIVED_FEATURES)), order="F")
    out[:, 0], out[:, 1], out[:, 2] = utilisation[:, 0], utilisation.sum(axis=1) / 6, utilisation.max(axis=1)
    out[:, 3] = utilisation @ _TREND_WEIGHTS
    out[:, 4:9] = np.clip(ratios, *REPAYMENT_RATIO_RANGE)
    out[:, 9] = np.clip(total, *REPAYMENT_RATIO_RANGE)
    out[:, 10], out[:, 11], out[:, 12] = delayed.sum(axis=1), status.max(axis=1), latest_delay
    out[:, 13:16] = kinds
    return out
