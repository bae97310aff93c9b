"""The routine in infra/bigquery.tf declares exactly the arguments the function reads, in its order.

BigQuery passes each row's arguments positionally, so a routine whose order differs from
``features.FEATURE_NAMES`` would score every row with its columns swapped, silently. This parses
the HCL (python-hcl2) instead of searching its text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import hcl2
import pytest

import bigquery
from api import MAX_INSTANCES
from features import FEATURE_NAMES

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _unquote(value: str) -> str:
    """python-hcl2 keeps string literals quoted (``'"limit_bal"'``)."""
    return json.loads(value) if value.startswith('"') else value


def _blocks(path: Path, kind: str) -> dict[str, dict]:
    """The labelled blocks of one kind in a file, keyed by their unquoted labels."""
    parsed = hcl2.load(path.open())
    found: dict[str, dict] = {}
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            if kind == "resource":
                for name, resource in body.items():
                    found[f"{_unquote(label)}.{_unquote(name)}"] = resource
            else:
                found[_unquote(label)] = body
    return found


@pytest.fixture(scope="module")
def routine() -> dict:
    return _blocks(INFRA / "bigquery.tf", "resource")["google_bigquery_routine.default_risk"]


@pytest.fixture(scope="module")
def declared_arguments() -> list[str]:
    parsed = hcl2.load((INFRA / "bigquery.tf").open())
    (arguments,) = [local["default_risk_arguments"] for local in parsed["locals"] if "default_risk_arguments" in local]
    return [_unquote(name) for name in arguments]


def test_declared_arguments_are_the_feature_contract_in_order(declared_arguments: list[str]) -> None:
    assert declared_arguments == [name.lower() for name in FEATURE_NAMES]
    assert tuple(declared_arguments) == bigquery.ARGUMENT_NAMES


def test_routine_takes_its_arguments_from_that_one_list(routine: dict) -> None:
    (dynamic,) = routine["dynamic"]
    arguments = dynamic['"arguments"']
    assert arguments["for_each"] == "${local.default_risk_arguments}"
    (content,) = arguments["content"]
    assert content["name"] == "${arguments.value}"
    assert "arguments" not in routine, "arguments declared outside the one list"


def test_routine_is_a_remote_scalar_function_returning_float64(routine: dict) -> None:
    assert _unquote(routine["routine_id"]) == "default_risk"
    assert _unquote(routine["routine_type"]) == "SCALAR_FUNCTION"
    assert "FLOAT64" in routine["return_type"]
    (options,) = routine["remote_function_options"]
    assert options["connection"] == "${google_bigquery_connection.function.name}"
    assert options["max_batching_rows"] == "${tostring(var.bigquery_max_batching_rows)}"


def test_max_batching_rows_cannot_exceed_what_the_function_accepts() -> None:
    variable = _blocks(INFRA / "variables.tf", "variable")["bigquery_max_batching_rows"]
    (validation,) = variable["validation"]
    (upper,) = re.findall(r"var\.bigquery_max_batching_rows <= (\d+)", validation["condition"])
    assert int(upper) == MAX_INSTANCES
    assert 1 <= variable["default"] <= MAX_INSTANCES


def test_connection_is_a_cloud_resource_connection() -> None:
    connection = _blocks(INFRA / "bigquery.tf", "resource")["google_bigquery_connection.function"]
    assert connection["cloud_resource"], "BigQuery remote functions need a CLOUD_RESOURCE connection"
