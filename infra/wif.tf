# Keyless CI: GitHub Actions exchanges its OIDC token for a short-lived token of the deployer account. Only the
# deploy workflow file of the repository with id var.github_repository_id, run from var.github_deploy_ref by a
# workflow_run (after CI passed) or a manual dispatch, in a job of the protected var.github_deploy_environment,
# gets in. The claims are GitHub's OIDC token claims (docs.github.com, "About security hardening with OpenID Connect").

locals {
  # GitHub's workflow_ref claim: OWNER/NAME/PATH@REF of the workflow file that runs.
  github_workflow_ref = "${var.github_repository}/${var.github_deploy_workflow}@${var.github_deploy_ref}"
}

resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "${var.name_prefix}-github"
  display_name              = "GitHub Actions"
  description               = "Workflows of ${var.github_repository}."

  depends_on = [google_project_service.enabled]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125:The condition pins repository_id, repository, workflow_ref, ref, event_name and environment instead of the sub claim: stricter than sub, which names neither the workflow file nor the event.
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-actions"
  display_name                       = "GitHub Actions OIDC"
  description                        = "The deploy workflow of ${var.github_repository} on ${var.github_deploy_ref}."

  attribute_mapping = {
    "google.subject"          = "assertion.sub"
    "attribute.repository"    = "assertion.repository"
    "attribute.repository_id" = "assertion.repository_id"
    "attribute.workflow_ref"  = "assertion.workflow_ref"
    "attribute.event_name"    = "assertion.event_name"
    "attribute.environment"   = "assertion.environment"
    "attribute.ref"           = "assertion.ref"
    "attribute.actor"         = "assertion.actor"
  }

  # Any GitHub repository can mint tokens for this issuer: this condition is what keeps them out. The id is never
  # reused (a deleted or renamed repository's name can be), workflow_ref names the one workflow file at the ref,
  # event_name excludes push, pull_request and the rest, and environment ties the token to the protected job.
  attribute_condition = join(" && ", [
    "assertion.repository_id == \"${var.github_repository_id}\"",
    "assertion.repository == \"${var.github_repository}\"",
    "assertion.ref == \"${var.github_deploy_ref}\"",
    "assertion.workflow_ref == \"${local.github_workflow_ref}\"",
    "assertion.event_name in [\"workflow_run\", \"workflow_dispatch\"]",
    "assertion.environment == \"${var.github_deploy_environment}\"",
  ])

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account_iam_member" "github_impersonates_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository_id/${var.github_repository_id}"
}
