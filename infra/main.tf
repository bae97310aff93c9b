locals {
  # The function is deployed by the workflow (`gcloud functions deploy`), not by Terraform; this is
  # the name it deploys under, which is also the name of its Cloud Run service.
  function_name = "${var.name_prefix}-predict"

  labels = merge({ app = var.name_prefix, managed-by = "terraform" }, var.labels)

  # The function's structured request log (functions/default_risk/contract/telemetry.py, whose message name is
  # local.request_log_message of contract.tf.json): one entry per request. The test tests/infra/test_log_contract.py
  # runs the function's logging and checks this filter against it.
  request_log_filter = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name="${local.function_name}"
    jsonPayload.message="${local.request_log_message}"
  EOT
  # Successful requests only: the ones that scored records.
  ok_request_log_filter = "${local.request_log_filter}jsonPayload.outcome=\"ok\"\n"
}
