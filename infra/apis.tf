locals {
  services = [
    "artifactregistry.googleapis.com",     # build images of the function
    "cloudbuild.googleapis.com",           # Cloud Functions builds the source with Cloud Build
    "cloudfunctions.googleapis.com",       # the function
    "cloudresourcemanager.googleapis.com", # project IAM bindings made here
    "iam.googleapis.com",                  # service accounts, Workload Identity Federation
    "iamcredentials.googleapis.com",       # short-lived tokens for CI (WIF impersonation)
    "logging.googleapis.com",              # request logs and log-based metrics
    "monitoring.googleapis.com",           # alert policies, dashboard
    "run.googleapis.com",                  # Cloud Functions 2nd gen runs on Cloud Run
    "serviceusage.googleapis.com",         # enabling these APIs
    "storage.googleapis.com",              # model and access-log buckets
    "sts.googleapis.com",                  # token exchange for WIF
  ]
}

resource "google_project_service" "enabled" {
  for_each = toset(local.services)

  project = var.project_id
  service = each.value

  # Other workloads in the project may use the same APIs: destroying this configuration keeps them on.
  disable_on_destroy = false
}
