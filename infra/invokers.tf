# Who may invoke the function: exactly the members below, on the function's Cloud Run service alone. The binding is
# authoritative for roles/run.invoker on that service: an invoker added by hand (or by anything else) is removed by
# the next apply, and CI's plan guard stops any change to it for a person to apply (it is IAM). The deploy never
# touches the service's IAM, so the deployer holds no setIamPolicy (infra/iam.tf, custom role release).
#
# The service is created by the function's first deploy, after the first apply: that apply runs with
# function_deployed = false, and the one after the first deploy with true (docs/ci_cd.md, bootstrap).
resource "google_cloud_run_v2_service_iam_binding" "function_invokers" {
  count = var.function_deployed ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = local.function_name
  role     = "roles/run.invoker"
  # BigQuery's connection (the remote functions, bigquery.tf); "allUsers" only when the function is public, which
  # the plan guard refuses unless the production environment approves it.
  members = concat(
    ["serviceAccount:${google_bigquery_connection.function.cloud_resource[0].service_account_id}"],
    var.allow_unauthenticated ? ["allUsers"] : [],
  )
}
