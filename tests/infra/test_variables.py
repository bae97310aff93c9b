"""variables.tf's validations, run by real Terraform on the variables alone, and the example tfvars."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from tests.infra.terraform import INFRA, named_blocks

EXAMPLE = INFRA / "terraform.tfvars.example"
TERRAFORM = shutil.which("terraform")


def terraform(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    command = [TERRAFORM, f"-chdir={folder}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def variables_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module holding only infra/variables.tf and the contract's facts its validations read (contract.tf.json):
    `terraform plan` there evaluates every validation."""
    if TERRAFORM is None:
        print("NOTICE: terraform is not on PATH; the validations of variables.tf were not exercised")
        pytest.skip("terraform is not on PATH")
    folder = tmp_path_factory.mktemp("variables")
    shutil.copy(INFRA / "variables.tf", folder)
    shutil.copy(INFRA / "contract.tf.json", folder)
    result = terraform(folder, "init", "-backend=false", "-input=false", "-no-color")
    assert result.returncode == 0, result.stderr
    return folder


def plan(folder: Path, *var_args: str) -> tuple[int, str]:
    result = terraform(folder, "plan", "-input=false", "-lock=false", "-no-color", f"-var-file={EXAMPLE}", *var_args)
    return result.returncode, " ".join(result.stderr.replace("│", " ").split())


def test_example_sets_every_required_variable_and_only_declared_ones() -> None:
    with EXAMPLE.open() as file:
        example = set(hcl2.load(file)) - {"__comments__"}
    variables = named_blocks("variable")
    required = {name for name, block in variables.items() if "default" not in block}
    assert example <= set(variables), f"undeclared: {example - set(variables)}"
    assert required <= example, f"required but missing from the example: {required - example}"


def test_example_passes_every_validation(variables_only: Path) -> None:
    returncode, errors = plan(variables_only)
    assert returncode == 0, errors


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("project_id=My Project", "project_id must be a Google Cloud project ID"),
        ("region=europe-west1-b", "region must be a Google Cloud region"),
        ("name_prefix=Default_Risk", "name_prefix must be 3-20 characters"),
        ("function_memory=512MB", "function_memory must be a whole number followed by Mi or Gi"),
        ("function_memory=64Mi", "function_memory must lie between 128Mi and 32Gi"),
        ("function_memory=64Gi", "function_memory must lie between 128Mi and 32Gi"),
        ("function_cpu=3", "function_cpu must be one of"),
        ("function_concurrency=0", "function_concurrency must be a whole number from 1 to 1000"),
        ("function_max_instances=2.5", "function_max_instances must be a whole number"),
        ("function_timeout_seconds=3601", "function_timeout_seconds must be a whole number from 20 to 3600"),
        ("function_timeout_seconds=10", "function_timeout_seconds must be a whole number from 20 to 3600"),
        ("github_repository=default-risk-scoring", 'github_repository must be "owner/name"'),
        ("alert_failed_request_ratio=5", "alert_failed_request_ratio must be a fraction between 0 and 1"),
        ("alert_window_seconds=90", "alert_window_seconds must be a multiple of 60"),
        ('notification_emails=["oncall"]', "notification_emails must hold e-mail addresses only"),
        ("bigquery_dataset_id=risk-scores", "bigquery_dataset_id must be 1-1024 letters, digits and underscores"),
    ],
)
def test_a_wrong_value_is_rejected_with_its_message(variables_only: Path, assignment: str, message: str) -> None:
    returncode, errors = plan(variables_only, f"-var={assignment}")
    assert returncode == 1
    assert message in errors, errors
