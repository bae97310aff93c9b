"""Hypothesis: ``validate_rows`` (BigQuery's argument lists, numpy fast path) agrees with the per-value contract.

The per-value path is ``Feature.problem`` applied to each value; the records path is ``validate_instances``
on the same rows as JSON objects. On generated valid and invalid rows all three must accept the same rows,
report the same problems, and (when accepted) give the same matrix.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from default_risk.contract.fields import FEATURE_NAMES, FEATURES
from default_risk.protocols.validation import MAX_PROBLEMS, Problem, validate_instances, validate_rows
from tests.reliability.records import invalid_value, valid_value

VALID_ROW = st.tuples(*(valid_value(feature) for feature in FEATURES)).map(list)


@st.composite
def rows(draw: st.DrawFn) -> list[list]:
    """A batch of valid rows in ``FEATURE_NAMES`` order, then none, one or several values made invalid."""
    batch = draw(st.lists(VALID_ROW, max_size=6))
    if batch:
        cells = st.tuples(st.integers(0, len(batch) - 1), st.integers(0, len(FEATURES) - 1))
        for row, column in draw(st.lists(cells, max_size=draw(st.sampled_from((0, 1, 4))))):
            batch[row][column] = draw(invalid_value(FEATURES[column]))
    return batch


def per_value_problems(batch: list[list]) -> list[Problem]:
    """The contract value by value, without any fast path."""
    found = [
        Problem(index, feature.name, problem)
        for index, row in enumerate(batch)
        for feature, value in zip(FEATURES, row, strict=True)
        if not (value is None and feature.optional) and (problem := feature.problem(value)) is not None
    ]
    return found[:MAX_PROBLEMS]


@settings(max_examples=150, deadline=None)
@given(rows())
def test_rows_path_agrees_with_the_per_value_contract(batch: list[list]) -> None:
    result = validate_rows(batch)
    expected = per_value_problems(batch)
    assert result.problems == expected
    if expected:
        assert result.features.shape == (0, len(FEATURE_NAMES))
        return
    assert result.features.dtype == np.float64
    assert result.features.shape == (len(batch), len(FEATURE_NAMES))
    expected_matrix = np.array([[np.nan if value is None else float(value) for value in row] for row in batch])
    np.testing.assert_array_equal(result.features.reshape(expected_matrix.shape), expected_matrix)
    assert result.ids == [None] * len(batch)


@settings(max_examples=150, deadline=None)
@given(rows())
def test_rows_and_records_paths_agree(batch: list[list]) -> None:
    by_rows = validate_rows(batch)
    # A NULL argument is an absent field; in a record, an absent field is left out (null is refused).
    by_records = validate_instances(
        [
            {f.name: value for f, value in zip(FEATURES, row, strict=True) if not (value is None and f.optional)}
            for row in batch
        ]
    )
    assert by_rows.problems == by_records.problems
    assert np.array_equal(by_rows.features, by_records.features, equal_nan=True)  # NaN: an absent optional field


VALID = [feature.codes[-1] if feature.codes else int(feature.maximum) for feature in FEATURES]


def test_every_json_type_confusion_in_every_argument_is_named() -> None:
    """JSON values numpy would silently turn into numbers (true, "1") or NaN (null) never pass as numbers."""
    for column, feature in enumerate(FEATURES):
        for value in (True, False, None, "1", "1.5", [1], {"x": 1}, float("nan"), float("inf")):
            if value is None and feature.optional:
                continue  # a NULL protected argument is an absent field (test below)
            row = [*VALID[:column], value, *VALID[column + 1 :]]
            problem = feature.problem(value)
            assert problem is not None
            assert validate_rows([VALID, row]).problems == [Problem(1, feature.name, problem)], (feature.name, value)


def test_a_row_of_the_wrong_length_is_a_problem_of_that_row() -> None:
    result = validate_rows([VALID, VALID[:-1], [*VALID, 1]])
    assert [(p.instance, p.field) for p in result.problems] == [(1, ""), (2, "")]
    assert "23 values" in result.problems[0].problem


def test_a_null_protected_argument_is_absent_and_a_null_model_field_is_not() -> None:
    protected = [i for i, feature in enumerate(FEATURES) if feature.optional]
    row = [None if i in protected else value for i, value in enumerate(VALID)]
    result = validate_rows([VALID, row])
    assert result.problems == []
    assert (
        np.isnan(result.features[1, protected]).all() and not np.isnan(np.delete(result.features[1], protected)).any()
    )
    model_field = next(i for i, feature in enumerate(FEATURES) if not feature.optional)
    row[model_field] = None
    assert [(p.instance, p.field) for p in validate_rows([row]).problems] == [(0, FEATURES[model_field].name)]
