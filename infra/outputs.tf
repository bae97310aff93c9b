# What the deploy workflow reads with `terraform -chdir=infra output -raw NAME`.

output "project_id" {
  description = "Project that hosts the service."
  value       = var.project_id
}

output "region" {
  description = "Region of the function, the model bucket and the Artifact Registry repository."
  value       = var.region
}

output "function_name" {
  description = "Name of the Cloud Functions (2nd gen) function, which is also its Cloud Run service name."
  value       = local.function_name
}

output "model_bucket" {
  description = "Name of the private model bucket; versions live under gs://BUCKET/models/<version>/."
  value       = google_storage_bucket.models.name
}

output "decision_records_url" {
  description = "Where the function records every decision (its DECISION_RECORDS_URL): gs://BUCKET/decisions."
  value       = local.decision_records_url
}

output "decisions_table" {
  description = "The BigQuery external table over the decision records (PROJECT.DATASET.decisions)."
  value       = "${var.project_id}.${google_bigquery_dataset.decisions.dataset_id}.${google_bigquery_table.decisions.table_id}"
}

output "artifact_registry_repository" {
  description = "Full ID of the Docker repository for build images, as `gcloud functions deploy --docker-repository` takes it."
  value       = google_artifact_registry_repository.functions.id
}

output "runtime_service_account_email" {
  description = "E-mail of the function's runtime service account (`--run-service-account` / `--service-account`)."
  value       = google_service_account.runtime.email
}

output "deployer_service_account_email" {
  description = "E-mail of the CI deployer service account that GitHub Actions impersonates."
  value       = google_service_account.deployer.email
}

output "workload_identity_provider" {
  description = "Full resource name of the GitHub OIDC provider (`workload_identity_provider` of google-github-actions/auth)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "function_memory" {
  description = "Memory of one function instance (`--memory`)."
  value       = var.function_memory
}

output "function_cpu" {
  description = "vCPUs of one function instance (`--cpu`)."
  value       = var.function_cpu
}

output "function_concurrency" {
  description = "Concurrent requests per instance (`--concurrency`)."
  value       = var.function_concurrency

  precondition {
    condition     = var.function_concurrency == 1 || tonumber(var.function_cpu) >= 1
    error_message = "function_concurrency above 1 needs function_cpu of at least 1 (a Cloud Run rule)."
  }
}

output "function_min_instances" {
  description = "Minimum instances (`--min-instances`)."
  value       = var.function_min_instances
}

output "function_max_instances" {
  description = "Maximum instances (`--max-instances`)."
  value       = var.function_max_instances

  precondition {
    condition     = var.function_max_instances >= var.function_min_instances
    error_message = "function_max_instances must be at least function_min_instances."
  }
}

output "function_timeout_seconds" {
  description = "Request timeout in seconds (`--timeout`)."
  value       = var.function_timeout_seconds
}

output "dashboard_url" {
  description = "Link to the service's Cloud Monitoring dashboard."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${reverse(split("/", google_monitoring_dashboard.service.id))[0]}?project=${var.project_id}"
}

# --- BigQuery remote function (infra/bigquery.tf) ---

output "bigquery_routine" {
  description = "The remote function as SQL names it: `PROJECT.DATASET.default_risk` (use it in backticks)."
  value       = "${var.project_id}.${google_bigquery_dataset.scoring.dataset_id}.${google_bigquery_routine.remote["default_risk"].routine_id}"
}

output "bigquery_reasons_routine" {
  description = "The explaining remote function as SQL names it: `PROJECT.DATASET.default_risk_reasons` (JSON: band and reasons)."
  value       = "${var.project_id}.${google_bigquery_dataset.scoring.dataset_id}.${google_bigquery_routine.remote["default_risk_reasons"].routine_id}"
}

output "bigquery_connection_service_account" {
  description = "E-mail of the Google-managed service account BigQuery calls the function as (invoker of the function's service: infra/invokers.tf)."
  value       = google_bigquery_connection.function.cloud_resource[0].service_account_id
}

# --- Population stability (infra/stability.tf) ---

output "stability_transfer_config" {
  description = "The daily score-PSI scheduled query (projects/.../transferConfigs/...): its runs' errors name the versions above 0.25."
  value       = google_bigquery_data_transfer_config.score_psi_daily.name
}

output "stability_dataset" {
  description = "Dataset of the request log lines (band counts only) and the daily score PSI per version (score_psi_daily)."
  value       = google_bigquery_dataset.monitoring.dataset_id
}
