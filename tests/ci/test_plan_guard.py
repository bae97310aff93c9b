"""The deploy's plan guard: CI applies what its deployer is granted, and stops with a list on anything else.

Plans are written in Terraform's JSON plan format (`terraform show -json`: ``resource_changes`` with ``address``,
``type`` and ``change.actions``), the guard runs as the workflow runs it (stdin, exit code).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.ci.workflows import DEPLOY_WORKFLOW, ROOT, load
from tests.infra.terraform import all_resource_addresses
from training.release.plan_guard import CI_MAY_CHANGE, PERSON_ONLY, PUBLIC_APPROVAL, UPDATE_IN_PLACE_ONLY


def change(address: str, *actions: str) -> dict:
    return {"address": address, "type": address.split(".")[0], "change": {"actions": list(actions)}}


def run_guard(plan: object, approved_for: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != PUBLIC_APPROVAL}
    if approved_for is not None:
        environment[PUBLIC_APPROVAL] = approved_for
    return subprocess.run(
        [sys.executable, "-m", "training.release.plan_guard"],
        input=plan if isinstance(plan, str) else json.dumps(plan),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


def test_every_resource_type_of_the_configuration_is_classified_once() -> None:
    declared = {address.split(".")[0] for address in all_resource_addresses()}
    classes = [PERSON_ONLY, UPDATE_IN_PLACE_ONLY, CI_MAY_CHANGE]
    for kind in declared:
        assert sum(kind in c for c in classes) == 1, f"{kind} is not classified exactly once in plan_guard"


def test_a_plan_of_monitoring_and_bigquery_changes_is_ci_s_to_apply() -> None:
    plan = {
        "resource_changes": [
            change("google_monitoring_dashboard.latency", "update"),
            change("google_logging_metric.latency", "create"),
            change('google_bigquery_routine.remote["default_risk"]', "delete", "create"),
            change("google_storage_bucket.models", "update"),
            change("google_service_account.runtime", "no-op"),
            change('google_project_iam_member.runtime["roles/logging.logWriter"]', "no-op"),
        ]
    }
    result = run_guard(plan)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "may apply all 6 planned resource changes" in result.stdout


@pytest.mark.parametrize(
    ("planned", "reason"),
    [
        (change("google_project_iam_member.deployer_releases", "create"), "identities and permissions"),
        (change("google_project_iam_custom_role.release", "update"), "identities and permissions"),
        (change("google_iam_workload_identity_pool_provider.github", "update"), "identities and permissions"),
        (change("google_storage_bucket_iam_member.runtime_reads_models", "delete"), "identities and permissions"),
        (change('google_project_service.enabled["run.googleapis.com"]', "create"), "identities and permissions"),
        (change("google_storage_bucket.models", "delete", "create"), "CI may only update it in place"),
        (change("google_bigquery_dataset.scoring", "create"), "CI may only update it in place"),
        (
            change("google_compute_instance.miner", "create"),
            "google_compute_instance is not a resource type the deployer is granted",
        ),
    ],
)
def test_a_change_the_deployer_may_not_make_stops_the_apply_naming_it(planned: dict, reason: str) -> None:
    plan = {"resource_changes": [change("google_monitoring_dashboard.latency", "update"), planned]}
    result = run_guard(plan)
    assert result.returncode == 1
    assert "1 planned change(s) need a person's `terraform apply`" in result.stdout
    assert f"  {planned['address']}: {'/'.join(planned['change']['actions'])} ({reason}" in result.stdout
    assert "google_monitoring_dashboard" not in result.stdout


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"resource_changes": [{"address": "x"}]}'])
def test_input_that_is_not_a_plan_gets_one_line_and_exit_2(text: str) -> None:
    result = run_guard(text)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("plan guard: stdin is not `terraform show -json` output of a plan")


def public_plan(allow_unauthenticated: bool) -> dict:
    return {
        "variables": {"project_id": {"value": "bank-risk"}, "allow_unauthenticated": {"value": allow_unauthenticated}},
        "resource_changes": [change("google_monitoring_dashboard.latency", "update")],
    }


@pytest.mark.parametrize("approved_for", [None, "", "other-project"])
def test_a_plan_that_opens_the_function_stops_without_the_approval_naming_its_project(approved_for: str | None) -> None:
    result = run_guard(public_plan(True), approved_for)
    assert result.returncode == 1, result.stdout
    assert "  var.allow_unauthenticated: true (opens the function to anyone;" in result.stdout
    assert f"{PUBLIC_APPROVAL}=bank-risk" in result.stdout


def test_the_approval_naming_the_project_lets_a_public_function_through_and_a_private_one_needs_none() -> None:
    assert run_guard(public_plan(True), "bank-risk").returncode == 0
    private = run_guard(public_plan(False))
    assert private.returncode == 0 and "may apply all 1 planned resource changes" in private.stdout


def test_the_deploy_runs_the_guard_between_plan_and_apply() -> None:
    names = [s.get("name", "") for s in load(DEPLOY_WORKFLOW)["jobs"]["deploy"]["steps"]]
    guard = next(i for i, name in enumerate(names) if name.startswith("Plan guard"))
    assert names.index("terraform plan") < guard < names.index("terraform apply")
    guard_step = load(DEPLOY_WORKFLOW)["jobs"]["deploy"]["steps"][guard]
    assert guard_step["run"] == "terraform -chdir=infra show -json tfplan | python -m training.release.plan_guard"
    assert guard_step["env"] == {PUBLIC_APPROVAL: "${{ vars.PUBLIC_FUNCTION_APPROVED_FOR }}"}
