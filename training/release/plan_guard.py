"""Stop CI's `terraform apply` before it tries a change the deployer may not make.

    terraform show -json tfplan | python -m training.release.plan_guard

CI applies this configuration with a deployer that holds no right to change identities or permissions (service
accounts, project IAM, custom roles, Workload Identity, resource IAM bindings, enabled APIs), nor to create or delete
the buckets, datasets, the connection and the repository (infra/iam.tf). Such a change would fail half-way through
the apply with a permission error; this guard reads the plan (Terraform's JSON plan format: ``resource_changes``
with ``type``, ``address`` and ``change.actions``, and ``variables``) and refuses it first, naming each change a
person must apply.

It also refuses a plan whose ``allow_unauthenticated`` is true (``allUsers`` would become an invoker of the function)
unless the environment variable ``PUBLIC_FUNCTION_APPROVED_FOR`` names the plan's ``project_id``: a second,
deliberate input, so that ``TF_VARS_JSON`` alone (or a stray tfvars file) cannot open the function. The deploy sets
it from the variable of that name, to be set in the protected ``production`` environment, whose required reviewers
approve each run that uses it.

Exit 0: CI may apply the plan; 1: a person must apply or approve it (the list is printed); 2: the input is not a plan.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

PERSON_ONLY = frozenset(
    {
        "google_iam_workload_identity_pool",
        "google_iam_workload_identity_pool_provider",
        "google_project_iam_custom_role",
        "google_project_iam_member",
        "google_project_service",
        "google_service_account",
        "google_service_account_iam_member",
        "google_artifact_registry_repository_iam_member",
        "google_bigquery_connection_iam_member",
        "google_bigquery_dataset_iam_member",
        "google_bigquery_table_iam_member",
        "google_cloud_run_v2_service_iam_binding",
        "google_storage_bucket_iam_member",
    }
)
"""Identities and permissions: any change is a person's."""

UPDATE_IN_PLACE_ONLY = frozenset(
    {
        "google_artifact_registry_repository",
        "google_bigquery_connection",
        "google_bigquery_dataset",
        "google_storage_bucket",
    }
)
"""CI may update their settings (custom role terraform_resources, or dataOwner, on each); creating or deleting one
needs project-level rights, which are a person's."""

CI_MAY_CHANGE = frozenset(
    {
        "google_bigquery_data_transfer_config",
        "google_bigquery_routine",
        "google_bigquery_table",
        "google_logging_metric",
        "google_logging_project_sink",
        "google_monitoring_alert_policy",
        "google_monitoring_dashboard",
        "google_monitoring_notification_channel",
    }
)
"""Created, updated and deleted by CI (project-level editor roles, or dataOwner of their dataset)."""

UNCHANGED = frozenset({("no-op",), ("read",)})

PUBLIC_APPROVAL = "PUBLIC_FUNCTION_APPROVED_FOR"


@dataclass(frozen=True)
class Refusal:
    address: str
    actions: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.address}: {'/'.join(self.actions)} ({self.reason})"


def refusals(resource_changes: Iterable[dict]) -> list[Refusal]:
    """The planned changes CI's deployer may not make; empty when the whole plan is CI's to apply."""
    found = []
    for change in resource_changes:
        actions = tuple(change["change"]["actions"])
        if actions in UNCHANGED:
            continue
        kind, address = change["type"], change["address"]
        if kind in PERSON_ONLY:
            found.append(Refusal(address, actions, "identities and permissions are applied by a person"))
        elif kind in UPDATE_IN_PLACE_ONLY and actions != ("update",):
            found.append(
                Refusal(address, actions, "CI may only update it in place; creating or deleting is a person's")
            )
        elif kind not in UPDATE_IN_PLACE_ONLY and kind not in CI_MAY_CHANGE:
            found.append(Refusal(address, actions, f"{kind} is not a resource type the deployer is granted"))
    return found


def public_access_refusals(variables: dict, approved_for: str | None) -> list[Refusal]:
    """A refusal when the plan opens the function to anyone and the protected approval does not name its project."""
    if variables.get("allow_unauthenticated", {}).get("value") is not True:
        return []
    project = variables.get("project_id", {}).get("value")
    if approved_for and approved_for == project:
        return []
    reason = f"opens the function to anyone; needs the production environment's {PUBLIC_APPROVAL}={project}"
    return [Refusal("var.allow_unauthenticated", ("true",), reason)]


def main() -> int:
    try:
        plan = json.load(sys.stdin)
        changes = plan.get("resource_changes", [])
        found = refusals(changes) + public_access_refusals(plan.get("variables", {}), os.environ.get(PUBLIC_APPROVAL))
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as error:
        print(f"plan guard: stdin is not `terraform show -json` output of a plan ({error})", file=sys.stderr)
        return 2
    if not found:
        print(f"plan guard: the deployer may apply all {len(changes)} planned resource changes")
        return 0
    print(f"plan guard: {len(found)} planned change(s) need a person's `terraform apply` or approval (infra/README):")
    for refusal in found:
        print(f"  {refusal}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
