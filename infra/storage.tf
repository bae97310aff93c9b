# The model bucket: the function reads gs://BUCKET/models/<version>/ (model.tflite, prep.joblib,
# manifest.json); CI publishes new versions there. Never public.
resource "google_storage_bucket" "models" {
  name          = "${var.project_id}-${var.name_prefix}-models"
  location      = var.region
  storage_class = "STANDARD"

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # A version folder is immutable: its name is the hash of its files, the function recomputes it at load, and the
  # deploy pins its manifest's sha256 from git. The retention policy makes the bucket hold to it too: no object
  # can be replaced or deleted before model_retention_days, whoever asks (with model_retention_locked, not even
  # by first removing the policy). Cloud Storage refuses object versioning beside a retention policy, so the
  # bucket has none: nothing it holds can change, so there is no older version to keep.
  # checkov:skip=CKV_GCP_78:Versioning cannot be enabled with a retention policy; the retention policy forbids replacing or deleting any model object, which is stronger.
  retention_policy {
    retention_period = var.model_retention_days * 86400
    is_locked        = var.model_retention_locked
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "models"
  }

  depends_on = [google_project_service.enabled]
}

# Usage logs of the model bucket (who read or wrote which model, when).
resource "google_storage_bucket" "access_logs" {
  # checkov:skip=CKV_GCP_62:This is the access-log bucket itself; logging its own access would log the log writes.
  name          = "${var.project_id}-${var.name_prefix}-logs"
  location      = var.region
  storage_class = "STANDARD"

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.access_log_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Cloud Storage writes usage logs as this Google-owned group.
resource "google_storage_bucket_iam_member" "access_logs_writer" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}
