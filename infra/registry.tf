# Docker repository for the function's build images (`gcloud functions deploy --docker-repository`).
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:The images hold only the function's code and public Python packages (no model, no customer data); Google-managed encryption at rest applies, and a customer-managed key would add an undeletable key ring and a KMS dependency to every build.
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  description   = "Build images of the ${local.function_name} function."
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  # KEEP wins over DELETE: the newest images (the running revision and the ones to roll back to)
  # are never deleted, whatever their age.
  cleanup_policies {
    id     = "keep-newest"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.image_retention_count
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.image_max_age_days * 86400}s"
    }
  }

  depends_on = [google_project_service.enabled]
}
