"""Least privilege, read from the IAM declarations in infra/*.tf.

Every project-level grant must be on the allow-list below (each one is justified in infra/README.md, "Roles");
anything else granted on the project fails. Custom roles may hold no permission that would let an account widen
its own rights, and the deployer writes model objects without being able to replace or delete one.
"""

from __future__ import annotations

import re

import pytest

from tests.ci.workflows import DEPLOY_WORKFLOW, load
from tests.infra.terraform import blocks, literal, locals_, named_blocks, resources

CUSTOM_ROLE = re.compile(r"google_project_iam_custom_role\.(\w+)\.name")
LOCAL_LIST = re.compile(r"local\.(\w+)")

ALLOWED_PROJECT_GRANTS: dict[str, tuple[str, set[str]]] = {
    "runtime": ("runtime", {"roles/logging.logWriter", "roles/monitoring.metricWriter"}),
    "stability_runs_jobs": ("stability", {"roles/bigquery.jobUser"}),
    "backtest_runs_jobs": ("backtest", {"roles/bigquery.jobUser"}),
    "deployer_deploys_functions": ("deployer", {"roles/cloudfunctions.developer"}),
    "deployer_releases": ("deployer", {"custom:release"}),
    "deployer_applies_project_config": (
        "deployer",
        {
            "roles/logging.configWriter",
            "roles/monitoring.alertPolicyEditor",
            "roles/monitoring.dashboardEditor",
            "roles/monitoring.notificationChannelEditor",
            "custom:terraform_project",
        },
    ),
}
"""``{resource name: (service account, roles)}``: the only project-level grants there may be."""

SELF_WIDENING = re.compile(
    r"(?:\.setIamPolicy$|\.create$|\.delete$|^iam\.serviceAccounts\.(?:actAs|getAccessToken|signBlob|signJwt|"
    r"implicitDelegation|getOpenIdToken)$|^iam\.serviceAccountKeys\.|^iam\.roles\.update$|^serviceusage\.services\.enable$"
    r"|^storage\.objects\.)"
)
FUNCTION_INVOKERS = "google_cloud_run_v2_service_iam_binding"
"""The one authoritative binding: who may invoke the function's own service (infra/invokers.tf)."""


def role_names(body: dict) -> set[str]:
    """The roles one ``google_project_iam_member`` grants: a literal, a custom role, or its for_each's lists."""
    role = body["role"]
    if role == "${each.value}":
        expression = body["for_each"]
        names = {name for local in LOCAL_LIST.findall(expression) for name in map(literal, locals_()[local])}
        return names | {f"custom:{name}" for name in CUSTOM_ROLE.findall(expression)}
    if match := CUSTOM_ROLE.search(role):
        return {f"custom:{match[1]}"}
    return {literal(role)}


def test_no_project_level_grant_is_off_the_allow_list() -> None:
    grants = resources("google_project_iam_member")
    names = {name.split("[")[0] for name in grants}
    assert names == set(ALLOWED_PROJECT_GRANTS), f"project-level grants not on the allow-list: {names}"
    for name, body in grants.items():
        account, allowed = ALLOWED_PROJECT_GRANTS[name.split("[")[0]]
        assert f"google_service_account.{account}." in body["member"], f"{name} grants to {body['member']}"
        assert role_names(body) <= allowed, f"{name} grants {role_names(body) - allowed}"


def test_nothing_rewrites_whole_policies_or_grants_the_project_another_way() -> None:
    declared = {kind.strip('"') for item in blocks().get("resource", []) for kind in item}
    forbidden = {kind for kind in declared if kind.endswith("_iam_policy") or kind.endswith("_iam_binding")}
    assert forbidden - {FUNCTION_INVOKERS} == set(), f"authoritative IAM resources remove others' grants: {forbidden}"
    [(name, invokers)] = resources(FUNCTION_INVOKERS).items()
    assert (name, literal(invokers["role"]), invokers["name"]) == (
        "function_invokers",
        "roles/run.invoker",
        "${local.function_name}",
    ), "the authoritative binding is run.invoker on the function's own service, and nothing else"
    assert "google_project_iam_audit_config" not in declared


@pytest.mark.parametrize("role", sorted(resources("google_project_iam_custom_role")))
def test_custom_roles_cannot_widen_anyones_rights(role: str) -> None:
    permissions = {literal(p) for p in resources("google_project_iam_custom_role")[role]["permissions"]}
    widening = {p for p in permissions if SELF_WIDENING.search(p)}
    assert not widening, f"custom role {role} holds {widening}"


def test_the_deployer_can_create_model_objects_but_never_replace_or_delete_one() -> None:
    deployer_on_models = {
        literal(body["role"]) if body["role"] != "${each.value}" else name
        for name, body in resources("google_storage_bucket_iam_member").items()
        if "deployer" in body["member"] and "google_storage_bucket.models" in str(body.get("bucket", ""))
    }
    (publish,) = [
        b for n, b in resources("google_storage_bucket_iam_member").items() if n == "deployer_publishes_models"
    ]
    assert publish["for_each"] == '${toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])}'
    assert deployer_on_models == {"deployer_publishes_models"}
    models = resources("google_storage_bucket")["models"]
    (retention,) = models["retention_policy"]
    assert retention["retention_period"] == "${var.model_retention_days * 86400}"
    assert retention["is_locked"] == "${var.model_retention_locked}"
    assert "versioning" not in models  # Cloud Storage refuses versioning beside a retention policy
    assert named_blocks("variable")["model_retention_locked"]["default"] is False  # locking is irreversible


def test_only_the_deploy_workflow_of_this_repository_in_its_environment_gets_credentials() -> None:
    (provider,) = resources("google_iam_workload_identity_pool_provider").values()
    condition = provider["attribute_condition"]
    for claim in (
        r"assertion.repository_id == \"${var.github_repository_id}\"",
        r"assertion.repository == \"${var.github_repository}\"",
        r"assertion.ref == \"${var.github_deploy_ref}\"",
        r"assertion.workflow_ref == \"${local.github_workflow_ref}\"",
        r"assertion.event_name in [\"workflow_run\", \"workflow_dispatch\"]",
        r"assertion.environment == \"${var.github_deploy_environment}\"",
    ):
        assert claim in condition, claim
    assert literal(locals_()["github_workflow_ref"]) == (
        "${var.github_repository}/${var.github_deploy_workflow}@${var.github_deploy_ref}"
    )
    variables = named_blocks("variable")
    assert literal(variables["github_deploy_workflow"]["default"]) == ".github/workflows/" + DEPLOY_WORKFLOW.name
    workflow = load(DEPLOY_WORKFLOW)
    triggers = set(workflow["on"])
    assert triggers == {"workflow_run", "workflow_dispatch"}
    assert workflow["jobs"]["deploy"]["environment"] == literal(variables["github_deploy_environment"]["default"])
    impersonation = resources("google_service_account_iam_member")["github_impersonates_deployer"]["member"]
    assert literal(impersonation).endswith("/attribute.repository_id/${var.github_repository_id}")


def test_the_release_role_holds_what_a_canary_release_does_and_no_more() -> None:
    """canary.py: describe and update-traffic (tags too) of the service, revisions, and the request metrics; the
    smoke test's call; reading (never setting) the service's IAM, for the plan's refresh of its invokers."""
    permissions = {literal(p) for p in resources("google_project_iam_custom_role")["release"]["permissions"]}
    assert permissions == {
        "run.services.get",
        "run.services.update",
        "run.services.getIamPolicy",
        "run.routes.invoke",
        "run.revisions.get",
        "run.revisions.list",
        "monitoring.timeSeries.list",
    }


def test_the_invokers_are_bigquerys_connection_and_everyone_only_when_the_function_is_public() -> None:
    invokers = resources(FUNCTION_INVOKERS)["function_invokers"]
    assert invokers["members"] == (
        '${concat(["serviceAccount:${google_bigquery_connection.function.cloud_resource[0].service_account_id}"], '
        'var.allow_unauthenticated ? ["allUsers"] : [])}'
    )
    assert invokers["count"] == "${var.function_deployed ? 1 : 0}", "declared only once the service exists"


def test_the_deploy_never_changes_who_may_invoke_the_function() -> None:
    """No access flag (gcloud would add or remove allUsers) and no binding: infra/invokers.tf alone decides."""
    text = DEPLOY_WORKFLOW.read_text()
    for change in ("allow-unauthenticated", "add-iam-policy-binding", "remove-iam-policy-binding", "set-iam-policy"):
        assert change not in text, change
