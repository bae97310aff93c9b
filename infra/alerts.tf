resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.notification_emails)

  display_name = "${var.name_prefix} alerts to ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.enabled]
}

locals {
  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
  alert_window          = "${var.alert_window_seconds}s"
  user_metric_filter    = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.function_name}\""
}

# p95 latency of each minute (a percentile across all series of the DELTA distribution: ALIGN_DELTA
# then REDUCE_PERCENTILE_95; ALIGN_RATE is invalid on DELTA distributions) above the threshold for
# the whole window.
resource "google_monitoring_alert_policy" "latency_p95" {
  display_name          = "${local.function_name}: p95 latency above ${var.alert_latency_p95_seconds} s"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "p95 latency > ${var.alert_latency_p95_seconds} s for ${local.alert_window}"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.latency.name}\" AND ${local.user_metric_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_latency_p95_seconds
      duration        = local.alert_window
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.function_name}: slow scoring"
    content   = "The 95th percentile of request latency of `${local.function_name}` has been above ${var.alert_latency_p95_seconds} s for ${local.alert_window}. Check the dashboard (instance count, memory), recent deploys, and cold starts (min instances). See docs/ for the runbook."
  }
}

# Share of requests whose outcome is not "ok", per minute, above the threshold for the whole window:
# a ratio of two filters over the same counter.
resource "google_monitoring_alert_policy" "failed_ratio" {
  display_name          = "${local.function_name}: failed requests above ${var.alert_failed_request_ratio * 100}%"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "failed / all requests > ${var.alert_failed_request_ratio} for ${local.alert_window}"
    condition_threshold {
      filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests.name}\" AND ${local.user_metric_filter} AND metric.labels.outcome!=\"ok\""
      denominator_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests.name}\" AND ${local.user_metric_filter}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_failed_request_ratio
      duration           = local.alert_window
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.function_name}: failing requests"
    content   = "More than ${var.alert_failed_request_ratio * 100}% of requests to `${local.function_name}` failed for ${local.alert_window}. The dashboard splits them by outcome: model_unavailable (503) means the model did not load (bucket, MODEL_URL/PREP_URL, manifest hashes); invalid_input, too_large and unsupported are client errors (a caller sends bad requests)."
  }
}
