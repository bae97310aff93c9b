"""The routine in infra/bigquery.tf declares exactly the arguments the function reads, in its order.

BigQuery passes each row's arguments positionally, so a routine whose order differs from
``features.FEATURE_NAMES`` would score every row with its columns swapped, silently. The HCL is
parsed with python-hcl2 (``tests/infra/terraform.py``), not searched as text.
"""

from __future__ import annotations

import re

import pytest

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.limits import MAX_EXPLAIN_INSTANCES, MAX_INSTANCES
from default_risk.protocols import bigquery
from tests.infra.terraform import literal, locals_, named_blocks, resources

ROUTINES = {"default_risk": bigquery.SCORE_MODE, "default_risk_reasons": bigquery.EXPLAIN_MODE}


@pytest.fixture(scope="module")
def routine() -> dict:
    return resources("google_bigquery_routine")["remote"]


def test_declared_arguments_are_the_feature_contract_in_order() -> None:
    declared = [literal(name) for name in locals_()["default_risk_arguments"]]
    assert declared == [name.lower() for name in FEATURE_NAMES]
    assert tuple(declared) == bigquery.ARGUMENT_NAMES


def test_routines_take_their_arguments_from_that_one_list(routine: dict) -> None:
    (dynamic,) = routine["dynamic"]
    arguments = dynamic['"arguments"']
    assert arguments["for_each"] == "${local.default_risk_arguments}"
    (content,) = arguments["content"]
    assert content["name"] == "${arguments.value}"
    assert "arguments" not in routine, "arguments declared outside the one list"


def test_routines_are_remote_scalar_functions_of_one_function_told_apart_by_their_context(routine: dict) -> None:
    assert routine["for_each"] == "${local.remote_routines}"
    assert literal(routine["routine_type"]) == "SCALAR_FUNCTION"
    (options,) = routine["remote_function_options"]
    assert options["connection"] == "${google_bigquery_connection.function.name}"
    assert options["endpoint"] == "${local.function_url}"
    assert options["user_defined_context"] == {bigquery.MODE_KEY: "${each.value.mode}"}
    declared = locals_()["remote_routines"]
    assert {name: literal(entry["mode"]) for name, entry in declared.items()} == ROUTINES
    assert literal(declared["default_risk"]["returns"]) == "FLOAT64"
    assert literal(declared["default_risk_reasons"]["returns"]) == "JSON"
    assert declared["default_risk"]["max_batching_rows"] == "${var.bigquery_max_batching_rows}"
    assert declared["default_risk_reasons"]["max_batching_rows"] == "${var.bigquery_explain_max_batching_rows}"


@pytest.mark.parametrize(
    ("name", "limit"),
    [("bigquery_max_batching_rows", MAX_INSTANCES), ("bigquery_explain_max_batching_rows", MAX_EXPLAIN_INSTANCES)],
)
def test_max_batching_rows_cannot_exceed_what_the_function_accepts(name: str, limit: int) -> None:
    variable = named_blocks("variable")[name]
    (validation,) = variable["validation"]
    (upper,) = re.findall(rf"var\.{name} <= local\.(\w+)", validation["condition"])  # from contract.tf.json
    assert int(locals_()[upper]) == limit
    assert 1 <= variable["default"] <= limit


def test_connection_is_a_cloud_resource_connection_whose_account_may_invoke_the_one_service() -> None:
    """The connection's account is invoker of the function's service (infra/invokers.tf), not of the project."""
    (connection,) = resources("google_bigquery_connection").values()
    assert connection["cloud_resource"], "BigQuery remote functions need a CLOUD_RESOURCE connection"
    output = named_blocks("output")["bigquery_connection_service_account"]
    assert "google_bigquery_connection.function.cloud_resource[0].service_account_id" in output["value"]
    assert not [g for g in resources("google_project_iam_member").values() if "run.invoker" in g["role"]]
    invokers = resources("google_cloud_run_v2_service_iam_binding")["function_invokers"]
    assert literal(invokers["role"]) == "roles/run.invoker" and invokers["name"] == "${local.function_name}"
    assert "serviceAccount:${google_bigquery_connection.function.cloud_resource[0].service_account_id}" in str(
        invokers["members"]
    )
