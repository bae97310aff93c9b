# Two identities: the function's runtime account and the CI deployer. README.md, "Roles", explains
# every grant below.

resource "google_service_account" "runtime" {
  account_id   = "${var.name_prefix}-run"
  display_name = "${local.function_name} runtime"
  description  = "Identity of the ${local.function_name} function: reads the model bucket, writes logs and metrics."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "deployer" {
  account_id   = "${var.name_prefix}-deploy"
  display_name = "${local.function_name} deployer (CI)"
  description  = "Used by GitHub Actions of ${var.github_repository} through Workload Identity Federation; no keys."

  depends_on = [google_project_service.enabled]
}

locals {
  runtime_project_roles = [
    "roles/logging.logWriter",       # log entries written through the Logging API
    "roles/monitoring.metricWriter", # metrics written through the Monitoring API
  ]

  # Deploying the function (create/update; the Cloud Run service underneath is managed by the
  # Cloud Functions service agent). Project level: the function does not exist before its first deploy.
  # roles/run.invoker: the deploy's smoke test calls the function with the deployer's identity token.
  deployer_project_roles = ["roles/cloudfunctions.developer", "roles/run.invoker"]

  # What `terraform apply` of this configuration needs, when CI applies it.
  terraform_apply_roles = var.ci_applies_terraform ? [
    "roles/artifactregistry.admin",        # the repository and its IAM
    "roles/bigquery.connectionAdmin",      # bigquery.tf: the connection
    "roles/bigquery.user",                 # bigquery.tf: create the dataset; no access to other datasets' data
    "roles/iam.roleViewer",                # reads the custom role; changing it is a person's job (see grantable_project_roles)
    "roles/iam.workloadIdentityPoolAdmin", # the pool and its provider
    "roles/logging.configWriter",          # log-based metrics
    "roles/monitoring.alertPolicyEditor",  # alert policies
    "roles/monitoring.dashboardEditor",    # the dashboard
    "roles/monitoring.notificationChannelEditor",
    "roles/serviceusage.serviceUsageAdmin", # google_project_service
    "roles/storage.admin",                  # the buckets, their IAM, and the Terraform state bucket
  ] : []

  # Project IAM changes the deployer may make (only when it applies Terraform): the project-level
  # roles this configuration grants, nothing else (no owner, no editor). Deliberately absent:
  # roles/resourcemanager.projectIamAdmin itself (an unconditional grant of it would lift this very
  # condition) and roles/iam.roleAdmin (editing the custom role the deployer holds would let it add
  # any permission to itself). Changes to those two grants, or to the custom role, need a person.
  grantable_project_roles = distinct(concat(
    local.runtime_project_roles,
    local.deployer_project_roles,
    local.terraform_apply_roles,
    [google_project_iam_custom_role.run_access_admin.name],
  ))
}

# --- runtime account -------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "runtime_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.runtime.member
}

resource "google_project_iam_member" "runtime" {
  for_each = toset(local.runtime_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.runtime.member
}

# --- deployer account ------------------------------------------------------------------------

resource "google_project_iam_member" "deployer" {
  for_each = toset(concat(local.deployer_project_roles, local.terraform_apply_roles))

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member
}

# actAs on the runtime account only: the deployer can run the function as that account and as no other.
resource "google_service_account_iam_member" "deployer_acts_as_runtime" {
  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

resource "google_artifact_registry_repository_iam_member" "deployer_writes_images" {
  project    = google_artifact_registry_repository.functions.project
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.deployer.member
}

# Publishing model versions.
resource "google_storage_bucket_iam_member" "deployer_publishes_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}

# `--allow-unauthenticated` / `--no-allow-unauthenticated` make the deploy add or remove allUsers as
# invoker of the function's Cloud Run service, which needs run.services.setIamPolicy. Cloud Run does
# not support resource attributes in IAM Conditions, so no grant can be limited to that one service;
# this custom role is the narrowest alternative to roles/run.admin (which could also change or
# delete any service): reading and setting the IAM policy of Cloud Run services, nothing else.
resource "google_project_iam_custom_role" "run_access_admin" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_run_access_admin"
  title       = "${var.name_prefix} Cloud Run access admin"
  description = "Who may invoke Cloud Run services: lets the deploy apply --[no-]allow-unauthenticated."
  permissions = ["run.services.get", "run.services.getIamPolicy", "run.services.setIamPolicy"]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "deployer_sets_function_access" {
  project = var.project_id
  role    = google_project_iam_custom_role.run_access_admin.name
  member  = google_service_account.deployer.member
}

# Applying Terraform also updates the two service accounts and their IAM policies: granted on those
# two accounts, not on the project (creating a new account, e.g. after renaming name_prefix, is left
# to a person applying with broader rights).
resource "google_service_account_iam_member" "deployer_manages_accounts" {
  for_each = var.ci_applies_terraform ? {
    runtime  = google_service_account.runtime.name
    deployer = google_service_account.deployer.name
  } : {}

  service_account_id = each.value
  role               = "roles/iam.serviceAccountAdmin"
  member             = google_service_account.deployer.member
}

# Terraform manages the project IAM bindings above, so an applying CI needs project IAM admin;
# the condition limits the roles it may grant or revoke to grantable_project_roles.
resource "google_project_iam_member" "deployer_manages_project_iam" {
  count = var.ci_applies_terraform ? 1 : 0

  project = var.project_id
  role    = "roles/resourcemanager.projectIamAdmin"
  member  = google_service_account.deployer.member

  condition {
    title       = "only-${var.name_prefix}-roles"
    description = "May grant and revoke only the project roles the ${var.name_prefix} Terraform configuration uses."
    expression  = "api.getAttribute(\"iam.googleapis.com/modifiedGrantsByRole\", []).hasOnly(${jsonencode(local.grantable_project_roles)})"
  }
}
