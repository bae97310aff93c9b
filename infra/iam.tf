# Two identities: the function's runtime account and the CI deployer. README.md, "Roles", explains every grant
# below with what it lets each account do and not do; tests/infra/test_iam.py fails on any project-level grant
# that is not on its allow-list.
#
# The rule: whatever can be granted on the one resource it is for, is granted there. Project-level grants are only
# those Google offers nowhere else (logs, metrics, monitoring, deploying a function that does not exist yet).
# Identities and permissions (service accounts, project IAM, custom roles, Workload Identity, APIs) are never
# changed by CI: a person applies those (the deploy's plan guard stops before `terraform apply` says so).

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

  # `terraform apply` from CI: the project-level roles of the resources that exist only at project level
  # (log-based metrics and the log sink; alert policies, the dashboard, notification channels).
  terraform_project_roles = [
    "roles/logging.configWriter",
    "roles/monitoring.alertPolicyEditor",
    "roles/monitoring.dashboardEditor",
    "roles/monitoring.notificationChannelEditor",
  ]

  # The resources CI's apply may update in place (never create or delete: that needs project-level create
  # rights, which are a person's): the custom role terraform_resources is granted on each of them.
  terraform_buckets = var.ci_applies_terraform ? {
    models      = google_storage_bucket.models.name
    access_logs = google_storage_bucket.access_logs.name
    decisions   = google_storage_bucket.decisions.name
  } : {}
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

# --- deployer account: deploying and releasing -----------------------------------------------

# Creating and updating the function. Project level: the function does not exist before its first deploy.
resource "google_project_iam_member" "deployer_deploys_functions" {
  project = var.project_id
  role    = "roles/cloudfunctions.developer"
  member  = google_service_account.deployer.member
}

# The Cloud Run service under the function: its traffic split and tags (the canary), its revisions, invoking it (the
# smoke test of each new revision), and the request metrics the canary is judged on. Not its IAM: who may invoke it
# is declared in infra/invokers.tf and applied by a person, so the deployer can neither open the function nor add an
# invoker (getIamPolicy is read-only, for the plan's refresh of that binding). Cloud Run does not support resource
# attributes in IAM Conditions and the service does not exist before the first deploy, so this is a project-level
# custom role: the narrowest alternative to roles/run.admin (which could also delete any service and set its IAM)
# and roles/monitoring.viewer (which could also read every dashboard and alert). Invoking any service of the
# project adds nothing to what updating any service already allows.
resource "google_project_iam_custom_role" "release" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_release"
  title       = "${var.name_prefix} release"
  description = "Deploy-time access to Cloud Run services: traffic and tags, revisions, invoking, request metrics; not their IAM."
  permissions = [
    "monitoring.timeSeries.list",
    "run.revisions.get",
    "run.revisions.list",
    "run.routes.invoke",
    "run.services.get",
    "run.services.getIamPolicy",
    "run.services.update",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "deployer_releases" {
  project = var.project_id
  role    = google_project_iam_custom_role.release.name
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

# Publishing model versions: create objects and read them back, never replace or delete one (objectCreator has no
# storage.objects.delete, which an overwrite needs; the retention policy refuses both to everyone anyway).
resource "google_storage_bucket_iam_member" "deployer_publishes_models" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.models.name
  role   = each.value
  member = google_service_account.deployer.member
}

# --- deployer account: applying this configuration (ci_applies_terraform) ---------------------

resource "google_project_iam_member" "deployer_applies_project_config" {
  for_each = var.ci_applies_terraform ? toset(concat(
    local.terraform_project_roles, [google_project_iam_custom_role.terraform_project.name]
  )) : toset([])

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member
}

# Reading (for plan's refresh) what CI may not change, and the one project-level update it needs: the scheduled
# stability query (BigQuery Data Transfer configs have no IAM of their own).
resource "google_project_iam_custom_role" "terraform_project" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_terraform_project"
  title       = "${var.name_prefix} Terraform: project reads"
  description = "Lets CI's terraform plan read this configuration's identities, IAM and APIs, and update its scheduled query."
  permissions = [
    "bigquery.transfers.get",
    "bigquery.transfers.update",
    "iam.roles.get",
    "iam.serviceAccounts.get",
    "iam.serviceAccounts.getIamPolicy",
    "iam.workloadIdentityPoolProviders.get",
    "iam.workloadIdentityPools.get",
    "resourcemanager.projects.get",
    "resourcemanager.projects.getIamPolicy",
    "serviceusage.services.get",
    "serviceusage.services.list",
  ]

  depends_on = [google_project_service.enabled]
}

# Updating the buckets, the repository and the connection in place, and reading (not setting) their IAM.
resource "google_project_iam_custom_role" "terraform_resources" {
  role_id     = "${replace(var.name_prefix, "-", "_")}_terraform_resources"
  title       = "${var.name_prefix} Terraform: resource settings"
  description = "Granted on single buckets, the repository and the connection: read and update their settings, read their IAM."
  permissions = [
    "artifactregistry.repositories.get",
    "artifactregistry.repositories.getIamPolicy",
    "artifactregistry.repositories.update",
    "bigquery.connections.get",
    "bigquery.connections.getIamPolicy",
    "bigquery.connections.update",
    "storage.buckets.get",
    "storage.buckets.getIamPolicy",
    "storage.buckets.update",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_iam_member" "deployer_configures_buckets" {
  for_each = local.terraform_buckets

  bucket = each.value
  role   = google_project_iam_custom_role.terraform_resources.name
  member = google_service_account.deployer.member
}

resource "google_artifact_registry_repository_iam_member" "deployer_configures_repository" {
  count = var.ci_applies_terraform ? 1 : 0

  project    = google_artifact_registry_repository.functions.project
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = google_project_iam_custom_role.terraform_resources.name
  member     = google_service_account.deployer.member
}

resource "google_bigquery_connection_iam_member" "deployer_configures_connection" {
  count = var.ci_applies_terraform ? 1 : 0

  project       = google_bigquery_connection.function.project
  location      = google_bigquery_connection.function.location
  connection_id = google_bigquery_connection.function.connection_id
  role          = google_project_iam_custom_role.terraform_resources.name
  member        = google_service_account.deployer.member
}

# The routines, tables and views inside the two datasets. BigQuery makes a dataset's creator its owner, but a
# person runs the first apply, so the deployer owns these two datasets explicitly (and no other).
resource "google_bigquery_dataset_iam_member" "deployer_owns_datasets" {
  for_each = var.ci_applies_terraform ? {
    scoring    = google_bigquery_dataset.scoring.dataset_id
    monitoring = google_bigquery_dataset.monitoring.dataset_id
    decisions  = google_bigquery_dataset.decisions.dataset_id
  } : {}

  project    = var.project_id
  dataset_id = each.value
  role       = "roles/bigquery.dataOwner"
  member     = google_service_account.deployer.member
}

moved {
  from = google_bigquery_dataset_iam_member.deployer_owns_scoring_dataset
  to   = google_bigquery_dataset_iam_member.deployer_owns_datasets["scoring"]
}

# The scheduled queries run as the stability and back-test accounts; updating them needs actAs on those two
# accounts, and no other.
resource "google_service_account_iam_member" "deployer_acts_as_scheduled_queries" {
  for_each = var.ci_applies_terraform ? {
    stability = google_service_account.stability.name
    backtest  = google_service_account.backtest.name
  } : {}

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

moved {
  from = google_service_account_iam_member.deployer_acts_as_stability[0]
  to   = google_service_account_iam_member.deployer_acts_as_scheduled_queries["stability"]
}

# The Terraform state (a bucket made by a person before the first apply): objects in that bucket only.
resource "google_storage_bucket_iam_member" "deployer_writes_state" {
  count = var.ci_applies_terraform && var.terraform_state_bucket != "" ? 1 : 0

  bucket = var.terraform_state_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member
}
