# Log-based metrics over the function's request log (see local.request_log_filter). Each extracts a
# jsonPayload field that functions/default_risk/contract/telemetry.py names; tests/infra/test_log_contract.py checks that
# against log lines the function really writes.

resource "google_logging_metric" "latency" {
  name             = "prediction_latency_seconds"
  description      = "Latency of ${local.function_name} requests, from arrival to response, by outcome."
  filter           = local.request_log_filter
  value_extractor  = "EXTRACT(jsonPayload.latency_seconds)"
  label_extractors = { outcome = "EXTRACT(jsonPayload.outcome)" }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "Prediction latency"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Outcome of the request (functions/default_risk/contract/telemetry.py); \"ok\" is a success."
    }
  }

  # 1 ms * 1.5^k: 30 buckets reaching about 190 s, past the longest possible request (timeout 60 s).
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 30
      growth_factor      = 1.5
      scale              = 0.001
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_logging_metric" "requests" {
  name        = "prediction_requests"
  description = "Requests to ${local.function_name}, by outcome and HTTP status."
  filter      = local.request_log_filter
  label_extractors = {
    outcome     = "EXTRACT(jsonPayload.outcome)"
    status_code = "EXTRACT(jsonPayload.status_code)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Prediction requests"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Outcome of the request (functions/default_risk/contract/telemetry.py); \"ok\" is a success."
    }
    labels {
      key         = "status_code"
      value_type  = "STRING"
      description = "HTTP status of the response."
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_logging_metric" "instances" {
  name            = "prediction_instances_scored"
  description     = "Records scored per successful ${local.function_name} request (the sum is the number of records scored)."
  filter          = local.ok_request_log_filter
  value_extractor = "EXTRACT(jsonPayload.instance_count)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "Records scored per request"
  }

  # 1, 2, 4, ... 2^15 records per request.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_logging_metric" "probability" {
  name             = "prediction_mean_probability_of_default"
  description      = "Mean predicted probability of default per successful request, by model version: the drift signal."
  filter           = local.ok_request_log_filter
  value_extractor  = "EXTRACT(jsonPayload.mean_probability_of_default)"
  label_extractors = { model_version = "EXTRACT(jsonPayload.model_version)" }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "Mean probability of default"
    labels {
      key         = "model_version"
      value_type  = "STRING"
      description = "Version of the model that scored the request."
    }
  }

  # 20 buckets of 0.05 over [0, 1].
  bucket_options {
    linear_buckets {
      num_finite_buckets = 20
      width              = 0.05
      offset             = 0
    }
  }

  depends_on = [google_project_service.enabled]
}

# One metric per risk band: the records of each successful request that fell in it (the log line's counts).
# Their sums over the records-scored metric are the bands' shares, which the dashboard shows against the
# reference share (the bands are the validation scores' deciles); the daily PSI is computed in BigQuery
# (stability.tf).
resource "google_logging_metric" "band_records" {
  for_each = toset(local.risk_bands)

  name             = "${local.band_metric_prefix}${lower(each.key)}"
  description      = "Records of each successful ${local.function_name} request in risk band ${each.key}, by model version."
  filter           = local.ok_request_log_filter
  value_extractor  = "EXTRACT(jsonPayload.risk_band_counts.${each.key})"
  label_extractors = { model_version = "EXTRACT(jsonPayload.model_version)" }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "Records in risk band ${each.key}"
    labels {
      key         = "model_version"
      value_type  = "STRING"
      description = "Version of the model that scored the request."
    }
  }

  # 0, 1, 2, 4, ... 2^15 records per request.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  # The risk bands are local.risk_bands of contract.tf.json (BAND_LABELS of functions/default_risk/contract/bands.py).
  # The bands' metrics are BAND_METRIC_PREFIX + band in lower case; the dashboard charts their PromQL sums
  # (logging.googleapis.com/user/NAME is logging_googleapis_com:user_NAME, a distribution's sum is NAME_sum).
  band_metric_prefix = "prediction_band_records_"
}

resource "google_monitoring_dashboard" "service" {
  dashboard_json = templatefile("${path.module}/dashboard.json", {
    display_name       = "${local.function_name} scoring service"
    service_name       = local.function_name
    latency_metric     = google_logging_metric.latency.name
    requests_metric    = google_logging_metric.requests.name
    instances_metric   = google_logging_metric.instances.name
    probability_metric = google_logging_metric.probability.name
    latency_threshold  = var.alert_latency_p95_seconds
    failed_ratio       = var.alert_failed_request_ratio
    # The bands are the validation scores' deciles: each holds a tenth of the reference population.
    band_reference_share = 1 / length(local.risk_bands)
    band_metric_prefix   = local.band_metric_prefix
    risk_bands           = local.risk_bands
    # The outcome back-test's runs, its alert and where its figures are (backtest.tf).
    backtest_config_id     = local.backtest_config_id
    backtest_alert_policy  = google_monitoring_alert_policy.backtest_red.name
    backtest_results_table = "${var.project_id}.${google_bigquery_dataset.decisions.dataset_id}.${google_bigquery_table.backtest_results.table_id}"
    backtest_groups_table  = "${var.project_id}.${google_bigquery_dataset.decisions.dataset_id}.${google_bigquery_table.backtest_groups.table_id}"
  })

  depends_on = [google_project_service.enabled]
}
