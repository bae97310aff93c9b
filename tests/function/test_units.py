"""In-process checks of the pieces the server is made of: validation, OpenAPI."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from default_risk.contract import telemetry
from default_risk.contract.fields import FEATURE_NAMES, FEATURES
from default_risk.protocols.answers import ERROR_STATUSES, ApiError
from default_risk.protocols.http import ROUTE_METHODS
from default_risk.protocols.openapi import EXAMPLE_ROWS, document
from default_risk.protocols.validation import validate_instances
from tests.support.records import record
from tests.support.tiny_model import DEFAULT_DATA, load_rows
from training.data import DATA_ENV


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return load_rows(2000, seed=3)[0]


def test_valid_rows_take_the_fast_path_and_keep_their_values(rows):
    instances = [record(row) | ({"id": f"r{i}"} if i % 2 else {}) for i, row in enumerate(rows)]
    result = validate_instances(instances)
    assert result.problems == []
    np.testing.assert_array_equal(result.features, rows)
    assert result.ids == [f"r{i}" if i % 2 else None for i in range(len(rows))]


JSON_VALUES = st.one_of(
    st.integers(-(10**8), 10**8),
    st.sampled_from([10**400, -(10**400)]),  # beyond float range
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(FEATURES) - 1), value=JSON_VALUES)
def test_validation_agrees_with_the_contract_value_by_value(index, value):
    feature = FEATURES[index]
    instance = record(np.array(EXAMPLE_ROWS["uci-3"], dtype=np.float64)) | {feature.name: value}
    result = validate_instances([instance])
    expected = feature.problem(value)
    if expected is None:
        assert result.problems == [] and result.features[0, index] == value
    else:
        assert [(p.instance, p.field, p.problem) for p in result.problems] == [(0, feature.name, expected)]


def test_openapi_document_is_valid_and_its_examples_are_real_rows():
    validate(document(ROUTE_METHODS))
    with open(os.environ.get(DATA_ENV) or DEFAULT_DATA, newline="") as handle:
        data = {row["ID"]: tuple(int(row[name]) for name in FEATURE_NAMES) for row in csv.DictReader(handle)}
    for record_id, values in EXAMPLE_ROWS.items():
        assert data[record_id.removeprefix("uci-")] == values


def test_openapi_request_examples_match_its_schema_but_the_invalid_one():
    spec = document(ROUTE_METHODS)
    content = spec["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]
    schema = Draft202012Validator({"components": spec["components"], **content["schema"]})
    assert {"single", "batch", "invalid", "bigquery"} <= content["examples"].keys()
    for name, example in content["examples"].items():
        assert schema.is_valid(example["value"]) == (name != "invalid"), name


def test_every_error_code_logs_an_outcome_the_metrics_know() -> None:
    outcomes = {code: ApiError(code, "m").outcome for code in ERROR_STATUSES}
    assert set(outcomes.values()) <= set(telemetry.OUTCOMES)
    assert outcomes["internal_error"] == "internal_error"  # a bug is told apart from a model that is not ready
    assert outcomes["model_unavailable"] == "model_unavailable"


def test_codes_and_age_take_whole_numbers_written_either_way():
    as_integers = record(np.array(EXAMPLE_ROWS["uci-3"], dtype=np.float64))
    whole_floats = {name: float(value) for name, value in as_integers.items()}  # what pandas writes: 24.0
    both = validate_instances([as_integers, whole_floats])
    assert both.problems == []
    np.testing.assert_array_equal(both.features[0], both.features[1])
    fractional = validate_instances([as_integers | {"AGE": 24.5, "PAY_0": 1.5}])
    assert [(p.field, p.problem) for p in fractional.problems] == [
        ("AGE", "must be a whole number, got 24.5"),
        ("PAY_0", "must be a whole number, got 1.5"),
    ]
