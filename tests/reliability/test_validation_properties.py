"""Hypothesis properties of ``validation.validate_instances``, called directly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.protocols.validation import validate_instances
from tests.reliability.records import invalid_records, valid_records


@settings(max_examples=150, deadline=None)
@given(st.lists(valid_records(), min_size=1, max_size=8))
def test_valid_records_give_a_finite_matrix_in_order(records: list[dict]) -> None:
    result = validate_instances(records)
    assert result.problems == []
    assert result.features.shape == (len(records), len(FEATURE_NAMES))
    expected = np.array([[float(r.get(name, np.nan)) for name in FEATURE_NAMES] for r in records])
    np.testing.assert_array_equal(result.features, expected)  # NaN exactly where a protected field is absent
    assert result.ids == [r.get("id") for r in records]


@settings(max_examples=250, deadline=None)
@given(st.lists(valid_records(with_id=False), max_size=5), invalid_records(), st.data())
def test_any_invalid_field_is_named_with_its_instance(valid: list[dict], bad: tuple[dict, str], data) -> None:
    record, name = bad
    position = data.draw(st.integers(0, len(valid)))
    records = [*valid[:position], record, *valid[position:]]
    result = validate_instances(records)
    assert result.features.shape[0] == 0, "a request with a problem produced features"
    assert [(p.instance, p.field) for p in result.problems] == [(position, name)], result.problems
