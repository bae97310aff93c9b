"""Request validation against the feature contract: every problem of a request at once.

Two shapes of input, one contract: records (JSON objects keyed by feature name, ``validate_instances``)
and rows (argument lists in ``FEATURE_NAMES`` order, as BigQuery sends them, ``validate_rows``).
Valid input (the common case) takes a vectorised fast path: the values are gathered into one flat
list (one ``itemgetter`` per record, or the rows chained), and ``_checked_matrix`` checks types,
finiteness, whole numbers, codes and ranges on whole columns with numpy, for both shapes. Only when that finds
something wrong does each value go through ``Feature.problem``, which words the messages; so every
path applies the one contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from operator import methodcaller

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES, FEATURES, FEATURES_BY_NAME

ID_FIELD = "id"
"""Optional string per record, echoed back with its prediction."""
MAX_ID_LENGTH = 256
MAX_PROBLEMS = 100
"""Problems listed in one answer at most (the first ones, in order)."""
MAX_SHOWN_NAME = 64
"""Characters of an unknown field's name that an error repeats."""


def _field_values(record: dict) -> tuple:
    """A record's values in ``FEATURE_NAMES`` order, None for a field it does not hold."""
    return tuple(map(record.get, FEATURE_NAMES))


_GET_ID = methodcaller("get", ID_FIELD)
_NUMBER_TYPES = frozenset((int, float))
_LOWEST = np.array([min(f.codes) if f.codes else f.minimum for f in FEATURES], dtype=np.float64)
_HIGHEST = np.array([max(f.codes) if f.codes else f.maximum for f in FEATURES], dtype=np.float64)
_FRACTIONS_ALLOWED = np.array([f.kind == "amount" for f in FEATURES])
"""Codes and AGE are whole numbers (54 or 54.0, never 54.5); amounts are any number."""
_MAY_BE_ABSENT = np.array([f.optional for f in FEATURES])
_GAPPY_CODES = [
    (i, f.codes) for i, f in enumerate(FEATURES) if f.codes and len(f.codes) != max(f.codes) - min(f.codes) + 1
]
"""Code columns whose allowed codes are not every whole number between the lowest and the highest."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request. ``instance`` is None for the request as a whole."""

    instance: int | None
    field: str
    problem: str


@dataclass(frozen=True)
class ValidationResult:
    """``features`` has one float64 row per record, columns in ``FEATURE_NAMES`` order; empty when
    there are ``problems``. ``ids`` holds each record's ``id`` or None."""

    features: np.ndarray
    ids: list[str | None]
    problems: list[Problem]


def validate_instances(instances: list) -> ValidationResult:
    """Check every record of ``instances`` against the contract; report all problems at once."""
    if type(instances) is not list or set(map(type, instances)) - {dict}:
        return _reported(_problems(instances))
    ids = list(map(_GET_ID, instances))
    with_id = len(ids) - ids.count(None)
    if with_id and (
        set(map(type, ids)) - {str, type(None)} or max(map(len, filter(None, ids)), default=0) > MAX_ID_LENGTH
    ):
        return _reported(_problems(instances))
    values = list(chain.from_iterable(map(_field_values, instances)))  # an absent field: None
    given = len(values) - values.count(None)
    # Equal totals mean no record holds anything else than its given fields and its id (no unknown field,
    # no null, no null id).
    if sum(map(len, instances)) != given + with_id:
        return _reported(_problems(instances))
    matrix = _checked_matrix(values, len(instances))
    if matrix is None:
        return _reported(_problems(instances))
    return ValidationResult(matrix, ids, [])


def validate_rows(rows: list) -> ValidationResult:
    """Check rows of values in ``FEATURE_NAMES`` order (BigQuery's argument lists) against the same contract;
    a NULL (None) protected field is absent.

    Problems name the row's index as ``instance`` and the feature as ``field``; ``ids`` are all None.
    """
    width = len(FEATURE_NAMES)
    if type(rows) is list and set(map(type, rows)) <= {list} and set(map(len, rows)) <= {width}:
        matrix = _checked_matrix(list(chain.from_iterable(rows)), len(rows))
        if matrix is not None:
            return ValidationResult(matrix, [None] * len(rows), [])
    return _reported(_row_problems(rows))


def _checked_matrix(values: list, rows: int) -> np.ndarray | None:
    """The ``rows`` × features float64 matrix of ``values`` (row-major, ``FEATURE_NAMES`` order, None where a
    field is absent) when every value is within the contract; None when any is not (``Feature.problem`` then
    says why)."""
    types = set(map(type, values))
    if not types <= _NUMBER_TYPES | {type(None)}:
        return None
    try:
        matrix = np.array(values, dtype=np.float64).reshape(rows, len(FEATURE_NAMES))  # None becomes NaN
    except OverflowError:  # an integer beyond float range: out of range anyway
        return None
    if np.count_nonzero(np.isnan(matrix)) != values.count(None):  # a NaN given as a number, not an absence
        return None
    return matrix if in_contract(matrix) else None


def in_contract(matrix: np.ndarray) -> bool:
    """Whether every value of a rows x ``FEATURE_NAMES`` matrix is in the contract, with a few whole-matrix
    operations: inside its range (which NaN and infinities never are), whole where the field wants it,
    among the allowed codes; NaN only where an optional field is absent."""
    with np.errstate(invalid="ignore"):
        valid = (matrix >= _LOWEST) & (matrix <= _HIGHEST) & ((matrix == np.floor(matrix)) | _FRACTIONS_ALLOWED)
    if _MAY_BE_ABSENT.any():
        valid |= np.isnan(matrix) & _MAY_BE_ABSENT
    if not valid.all():
        return False
    return all(np.isin(matrix[:, i][~np.isnan(matrix[:, i])], codes).all() for i, codes in _GAPPY_CODES)


_ROW_BOUNDS = tuple(
    zip(_LOWEST.tolist(), _HIGHEST.tolist(), _FRACTIONS_ALLOWED.tolist(), _MAY_BE_ABSENT.tolist(), strict=True)
)
_GAPPY_CODE_SETS = tuple((i, frozenset(map(float, codes))) for i, codes in _GAPPY_CODES)


def row_in_contract(row: tuple[float, ...]) -> bool:
    """``in_contract`` of one record's values (``FEATURE_NAMES`` order, NaN where absent), in Python floats: a
    single record's check without the dozen numpy calls of the matrix's (a property test holds them equal)."""
    for value, (lowest, highest, fractions_allowed, may_be_absent) in zip(row, _ROW_BOUNDS, strict=True):
        if not lowest <= value <= highest:  # NaN and infinities are never inside
            if not (may_be_absent and value != value):
                return False
        elif not fractions_allowed and value != math.floor(value):
            return False
    return all(row[i] in codes or row[i] != row[i] for i, codes in _GAPPY_CODE_SETS)


def _id_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}"
    return None


def shown_name(name: str) -> str:
    """A field name as an error shows it: input is never echoed beyond ``MAX_SHOWN_NAME`` characters."""
    return name if len(name) <= MAX_SHOWN_NAME else f"{name[:MAX_SHOWN_NAME]}…"


def _reported(found: Iterator[Problem]) -> ValidationResult:
    """The first ``MAX_PROBLEMS`` problems found value by value (so that a request's cost and its
    answer's size stay bounded), for input the fast path refused."""
    problems = list(islice(found, MAX_PROBLEMS))
    if not problems:  # the fast path and the contract disagree: a bug, never a silent score
        raise AssertionError("fast validation rejected a request the contract accepts")
    return ValidationResult(np.empty((0, len(FEATURE_NAMES))), [], problems)


def _problems(instances: list) -> Iterator[Problem]:
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            yield Problem(index, "", "must be a JSON object")
            continue
        for name in FEATURE_NAMES:
            if name not in instance:
                if not FEATURES_BY_NAME[name].optional:
                    yield Problem(index, name, "is required")
            elif (problem := FEATURES_BY_NAME[name].problem(instance[name])) is not None:
                yield Problem(index, name, problem)
        for name in instance:
            if name == ID_FIELD:
                if (problem := _id_problem(instance[name])) is not None:
                    yield Problem(index, name, problem)
            elif name not in FEATURES_BY_NAME:
                yield Problem(index, shown_name(name), "is not a known field")


def _row_problems(rows: list) -> Iterator[Problem]:
    for index, row in enumerate(rows):
        if type(row) is not list or len(row) != len(FEATURES):
            yield Problem(index, "", f"must be a list of {len(FEATURES)} values, in the order of the features")
            continue
        for feature, value in zip(FEATURES, row, strict=True):
            if not (value is None and feature.optional) and (problem := feature.problem(value)) is not None:
                yield Problem(index, feature.name, problem)
