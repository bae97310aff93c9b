"""The routine in infra/bigquery.tf declares exactly the arguments the function reads, in its order.

BigQuery passes each row's arguments positionally, so a routine whose order differs from
``features.FEATURE_NAMES`` would score every row with its columns swapped, silently. The HCL is
parsed with python-hcl2 (``tests/infra/terraform.py``), not searched as text.
"""

from __future__ import annotations

import re

import pytest

from default_risk import bigquery
from default_risk.api import MAX_INSTANCES
from default_risk.contract import FEATURE_NAMES
from tests.infra.terraform import literal, locals_, named_blocks, resources


@pytest.fixture(scope="module")
def routine() -> dict:
    return resources("google_bigquery_routine")["default_risk"]


def test_declared_arguments_are_the_feature_contract_in_order() -> None:
    declared = [literal(name) for name in locals_()["default_risk_arguments"]]
    assert declared == [name.lower() for name in FEATURE_NAMES]
    assert tuple(declared) == bigquery.ARGUMENT_NAMES


def test_routine_takes_its_arguments_from_that_one_list(routine: dict) -> None:
    (dynamic,) = routine["dynamic"]
    arguments = dynamic['"arguments"']
    assert arguments["for_each"] == "${local.default_risk_arguments}"
    (content,) = arguments["content"]
    assert content["name"] == "${arguments.value}"
    assert "arguments" not in routine, "arguments declared outside the one list"


def test_routine_is_a_remote_scalar_function_returning_float64(routine: dict) -> None:
    assert literal(routine["routine_id"]) == "default_risk"
    assert literal(routine["routine_type"]) == "SCALAR_FUNCTION"
    assert "FLOAT64" in routine["return_type"]
    (options,) = routine["remote_function_options"]
    assert options["connection"] == "${google_bigquery_connection.function.name}"
    assert options["endpoint"] == "${local.function_url}"
    assert options["max_batching_rows"] == "${tostring(var.bigquery_max_batching_rows)}"


def test_max_batching_rows_cannot_exceed_what_the_function_accepts() -> None:
    variable = named_blocks("variable")["bigquery_max_batching_rows"]
    (validation,) = variable["validation"]
    (upper,) = re.findall(r"var\.bigquery_max_batching_rows <= (\d+)", validation["condition"])
    assert int(upper) == MAX_INSTANCES
    assert 1 <= variable["default"] <= MAX_INSTANCES


def test_connection_is_a_cloud_resource_connection_whose_account_may_invoke() -> None:
    (connection,) = resources("google_bigquery_connection").values()
    assert connection["cloud_resource"], "BigQuery remote functions need a CLOUD_RESOURCE connection"
    grant = resources("google_project_iam_member")["bigquery_invokes_function"]
    assert literal(grant["role"]) == "roles/run.invoker"
    assert "google_bigquery_connection.function.cloud_resource[0].service_account_id" in grant["member"]
