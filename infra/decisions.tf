# Decision records (functions/default_risk/service/records.py): every decision the function answers is written
# here, as JSON Lines under decisions/date=YYYY-MM-DD/, before the answer leaves. Regulation B (12 CFR
# 1002.12(b)) asks for 25 months: the retention policy keeps every object at least var.decision_retention_days
# (no less than local.record_retention_min_days of contract.tf.json), and nobody can replace or delete one
# sooner, the runtime account included (it may only create objects). Reviewers read them, in SQL too (the
# external table below). Never public.

locals {
  decision_records_prefix = "decisions"
  decision_records_url    = "gs://${google_storage_bucket.decisions.name}/${local.decision_records_prefix}"
}

resource "google_storage_bucket" "decisions" {
  name          = "${var.project_id}-${var.name_prefix}-decisions"
  location      = var.region
  storage_class = "STANDARD"

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # checkov:skip=CKV_GCP_78:Versioning cannot be enabled with a retention policy; the retention policy forbids replacing or deleting any record, which is stronger.
  retention_policy {
    retention_period = var.decision_retention_days * 86400
    is_locked        = var.decision_retention_locked
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "decisions"
  }

  depends_on = [google_project_service.enabled]
}

# The function writes records and can do nothing else with them: objectCreator cannot read, replace or delete.
resource "google_storage_bucket_iam_member" "runtime_records_decisions" {
  bucket = google_storage_bucket.decisions.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.runtime.member
}

# The bank's credit-risk, fair-lending, model-risk and audit reviewers read the records (and the table over them).
resource "google_storage_bucket_iam_member" "reviewers_read_decisions" {
  count = var.decision_reviewers_group == "" ? 0 : 1

  bucket = google_storage_bucket.decisions.name
  role   = "roles/storage.objectViewer"
  member = "group:${var.decision_reviewers_group}"
}

resource "google_bigquery_dataset" "decisions" {
  # checkov:skip=CKV_GCP_81:It holds one external table, whose records stay in the records bucket (encrypted at rest by Cloud Storage): BigQuery stores none of them.
  dataset_id    = var.decision_dataset_id
  friendly_name = "Decision records of ${local.function_name}"
  description   = "The decisions the scoring function answered (an external table over the records bucket), for reviewers' SQL: 25 months and more."
  location      = local.bigquery_location
  labels        = local.labels

  depends_on = [google_project_service.enabled]
}

resource "google_bigquery_dataset_iam_member" "reviewers_query_decisions" {
  count = var.decision_reviewers_group == "" ? 0 : 1

  dataset_id = google_bigquery_dataset.decisions.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "group:${var.decision_reviewers_group}"
}

# One row per decision; hive-partitioned by the objects' date= folder, which every query must name
# (require_partition_filter), so that a query reads one period, never 25 months of records by mistake.
resource "google_bigquery_table" "decisions" {
  # checkov:skip=CKV_GCP_80:An external table: the records stay in the records bucket (encrypted at rest by Cloud Storage); BigQuery stores none of them.
  dataset_id          = google_bigquery_dataset.decisions.dataset_id
  table_id            = "decisions"
  description         = "Every decision the function answered: its inputs as sent, model version and manifest sha256, answer and reasons (functions/default_risk/service/records.py)."
  deletion_protection = true
  labels              = local.labels

  external_data_configuration {
    autodetect    = false
    source_format = "NEWLINE_DELIMITED_JSON"
    source_uris   = ["${local.decision_records_url}/*"]
    schema        = jsonencode(local.decision_record_schema)

    hive_partitioning_options {
      mode                     = "CUSTOM"
      source_uri_prefix        = "${local.decision_records_url}/{date:DATE}"
      require_partition_filter = true
    }
  }
}
