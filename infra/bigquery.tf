# BigQuery remote functions: `SELECT default_risk(limit_bal, sex, ...) FROM accounts` sends the rows,
# in batches of at most var.bigquery_max_batching_rows, to the scoring function (functions/default_risk/protocols/bigquery.py);
# `default_risk_reasons(...)`, with the same arguments, returns each row's risk band and reasons as JSON
# through the same function (its user_defined_context says mode explain).
#
# The function is deployed by gcloud in CI after `terraform apply`, so nothing here may need it to
# exist: the routine points at the function's fixed URL, and the connection's service account is invoker of
# that one service (infra/invokers.tf, declared once the service exists).

# The routine's arguments, in order, are local.default_risk_arguments: the contract's FEATURE_NAMES in lower case,
# generated into contract.tf.json. BigQuery passes each row's arguments in this order.

locals {
  # Two routines on one function, told apart by their user_defined_context (functions/default_risk/protocols/bigquery.py MODES).
  remote_routines = {
    default_risk = {
      returns           = "FLOAT64"
      mode              = "score"
      max_batching_rows = var.bigquery_max_batching_rows
      description       = "Probability (0-1) that the account defaults next month, scored by the ${local.function_name} Cloud Function. Every argument must be inside the feature contract's range; sex, marriage and age may be NULL (never used by the model)."
    }
    default_risk_reasons = {
      returns           = "JSON"
      mode              = "explain"
      max_batching_rows = var.bigquery_explain_max_batching_rows
      description       = "The account's probability of default, risk band (lowest risk first), score in points (the version's scorecard scale) and up to four adverse-action reasons (code, group, contribution, sentence), as JSON, from the ${local.function_name} Cloud Function. Same arguments as default_risk."
    }
  }

  bigquery_location = var.bigquery_location == "" ? var.region : var.bigquery_location
  # A 2nd gen function answers on this URL as well as on its run.app URL; this one is known before it exists.
  function_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.function_name}"
}

resource "google_project_service" "bigquery" {
  for_each = toset(["bigquery.googleapis.com", "bigqueryconnection.googleapis.com"])

  project = var.project_id
  service = each.value

  # Other BigQuery work in the project (the bank's own tables) may need them: destroying this keeps them on.
  disable_on_destroy = false
}

resource "google_bigquery_dataset" "scoring" {
  project     = var.project_id
  dataset_id  = var.bigquery_dataset_id
  location    = local.bigquery_location
  description = "Holds the default_risk remote function, which scores rows with the ${local.function_name} Cloud Function."

  depends_on = [google_project_service.bigquery]

  # checkov:skip=CKV_GCP_81:It holds the routines and the portfolio table the bank fills from its own tables, whose encryption it shares (a customer-managed key is the bank's choice).
}

resource "google_bigquery_connection" "function" {
  project       = var.project_id
  connection_id = "${var.name_prefix}-function"
  location      = local.bigquery_location
  friendly_name = "${local.function_name} remote function"
  description   = "BigQuery calls the ${local.function_name} Cloud Function as this connection's service account."

  cloud_resource {}

  depends_on = [google_project_service.bigquery]
}

resource "google_bigquery_routine" "remote" {
  for_each = local.remote_routines

  project         = var.project_id
  dataset_id      = google_bigquery_dataset.scoring.dataset_id
  routine_id      = each.key
  routine_type    = "SCALAR_FUNCTION"
  definition_body = ""
  return_type     = jsonencode({ typeKind = each.value.returns })
  description     = each.value.description

  dynamic "arguments" {
    for_each = local.default_risk_arguments
    content {
      name      = arguments.value
      data_type = jsonencode({ typeKind = "INT64" })
    }
  }

  remote_function_options {
    endpoint             = local.function_url
    connection           = google_bigquery_connection.function.name
    max_batching_rows    = tostring(each.value.max_batching_rows)
    user_defined_context = { mode = each.value.mode }
  }
}

# BigQuery calls the function with an identity token of the connection's Google-managed service account
# (output bigquery_connection_service_account). Its roles/run.invoker is bound on the function's Cloud Run service
# alone (infra/invokers.tf), never on the project.
