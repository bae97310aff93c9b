variable "project_id" {
  description = "Google Cloud project that hosts the service."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the function, the model bucket, the Artifact Registry repository (e.g. europe-west1)."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 (not a zone and not a multi-region)."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name; the function (and its Cloud Run service) is named \"<name_prefix>-predict\"."
  type        = string
  default     = "default-risk"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-20 characters of lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen (service account IDs built from it are limited to 30 characters)."
  }
}

variable "function_memory" {
  description = "Memory of one function instance, in Kubernetes notation (\"512Mi\", \"1Gi\")."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must be a whole number followed by Mi or Gi, such as \"512Mi\" or \"1Gi\"."
  }

  validation {
    condition = try(
      tonumber(regex("^([0-9]+)(Mi|Gi)$", var.function_memory)[0]) * (endswith(var.function_memory, "Gi") ? 1024 : 1) >= 128 &&
      tonumber(regex("^([0-9]+)(Mi|Gi)$", var.function_memory)[0]) * (endswith(var.function_memory, "Gi") ? 1024 : 1) <= 32768,
      false
    )
    error_message = "function_memory must lie between 128Mi and 32Gi (the Cloud Run limits)."
  }
}

variable "function_cpu" {
  description = "vCPUs of one function instance, as Cloud Run accepts them (\"0.583\", \"1\", \"2\", ...)."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["0.083", "0.167", "0.333", "0.583", "1", "2", "4", "6", "8"], var.function_cpu)
    error_message = "function_cpu must be one of 0.083, 0.167, 0.333, 0.583, 1, 2, 4, 6, 8."
  }
}

variable "function_concurrency" {
  description = "Requests one instance serves at once. Above 1 needs function_cpu >= 1 (a Cloud Run rule)."
  type        = number
  default     = 8

  validation {
    condition     = var.function_concurrency >= 1 && var.function_concurrency <= 1000 && floor(var.function_concurrency) == var.function_concurrency
    error_message = "function_concurrency must be a whole number from 1 to 1000."
  }
}

variable "function_min_instances" {
  description = "Instances kept warm (0 scales to zero; 1 removes most cold starts at a standing cost)."
  type        = number
  default     = 0

  validation {
    condition     = var.function_min_instances >= 0 && var.function_min_instances <= 100 && floor(var.function_min_instances) == var.function_min_instances
    error_message = "function_min_instances must be a whole number from 0 to 100."
  }
}

variable "function_max_instances" {
  description = "Upper bound of instances: caps cost and the load on downstream systems. Must be >= function_min_instances."
  type        = number
  default     = 10

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000 && floor(var.function_max_instances) == var.function_max_instances
    error_message = "function_max_instances must be a whole number from 1 to 1000."
  }
}

variable "function_timeout_seconds" {
  description = "Request timeout of the function in seconds. The deploy gives each request 10 s less as its time budget (REQUEST_BUDGET_SECONDS): past it, a request is answered 503 before anything is decided or recorded."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 20 && var.function_timeout_seconds <= 3600 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number from 20 to 3600 (the limit of HTTP functions, 2nd gen; the function keeps 10 s of it to record and answer)."
  }
}

variable "allow_unauthenticated" {
  description = "Let anyone on the internet call the function. Keep false: callers then need roles/run.invoker (an identity token). CI's plan guard refuses true unless the production environment's PUBLIC_FUNCTION_APPROVED_FOR names the project."
  type        = bool
  default     = false
}

variable "function_deployed" {
  description = "Whether the function's Cloud Run service exists (after its first deploy): its invoker binding (infra/invokers.tf) is declared only then. False for the bootstrap apply before the first deploy."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "GitHub repository, as \"owner/name\", whose workflows may deploy through Workload Identity Federation."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository must be \"owner/name\", such as \"acme-bank/default-risk-scoring\"."
  }
}

variable "github_deploy_ref" {
  description = "The only Git ref whose workflows may obtain Google credentials."
  type        = string
  default     = "refs/heads/main"

  validation {
    condition     = can(regex("^refs/(heads|tags)/[A-Za-z0-9._/-]+$", var.github_deploy_ref))
    error_message = "github_deploy_ref must be a full Git ref such as \"refs/heads/main\"."
  }
}

variable "github_repository_id" {
  description = "Numeric id of github_repository (`gh api repos/OWNER/NAME --jq .id`; the deploy workflow passes github.repository_id). Unlike the name, it is never reused by another repository after a rename or a deletion."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.github_repository_id))
    error_message = "github_repository_id must be the repository's numeric id, such as \"123456789\"."
  }
}

variable "github_deploy_workflow" {
  description = "Path of the only workflow file that may obtain Google credentials."
  type        = string
  default     = ".github/workflows/deploy.yml"

  validation {
    condition     = can(regex("^\\.github/workflows/[A-Za-z0-9._-]+\\.ya?ml$", var.github_deploy_workflow))
    error_message = "github_deploy_workflow must be a path such as \".github/workflows/deploy.yml\"."
  }
}

variable "github_deploy_environment" {
  description = "The GitHub environment the deploy job runs in; only its jobs get Google credentials. Protect it in the repository's settings (deployment branch main, required reviewers if wanted)."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.github_deploy_environment))
    error_message = "github_deploy_environment must be an environment name such as \"production\"."
  }
}

variable "terraform_state_bucket" {
  description = "Name of the (separately created) bucket holding this configuration's Terraform state; when set and ci_applies_terraform is true, the deployer may read and write objects in it, and nowhere else. Empty: grant nothing."
  type        = string
  default     = ""
}

variable "ci_applies_terraform" {
  description = "Grant the deployer the extra roles `terraform apply` of this configuration needs, so CI can apply it (see README.md, \"Roles\"). False: a person applies Terraform and CI only deploys the function."
  type        = bool
  default     = true
}

variable "model_retention_days" {
  description = "Days every model object is kept from its upload, under the bucket's retention policy: nobody (CI, a bucket admin, the function) can replace or delete it sooner."
  type        = number
  default     = 2555

  validation {
    condition     = var.model_retention_days >= 1 && var.model_retention_days <= 36500 && floor(var.model_retention_days) == var.model_retention_days
    error_message = "model_retention_days must be a whole number of days from 1 to 36500."
  }
}

variable "model_retention_locked" {
  description = "Lock the model bucket's retention policy. Irreversible: once locked, the period can never be shortened or removed and the bucket cannot be deleted before its newest object expires. Lock it in production, after a first apply."
  type        = bool
  default     = false
}

variable "decision_retention_days" {
  description = "Days every decision record is kept from its writing, under the records bucket's retention policy: nobody can replace or delete a record sooner. Regulation B (12 CFR 1002.12(b)) asks for 25 months: at least 760."
  type        = number
  default     = 760

  validation {
    condition     = var.decision_retention_days >= local.record_retention_min_days && var.decision_retention_days <= 36500 && floor(var.decision_retention_days) == var.decision_retention_days
    error_message = "decision_retention_days must be a whole number of days from 760 (25 months, Regulation B) to 36500."
  }
}

variable "decision_retention_locked" {
  description = "Lock the decision records bucket's retention policy. Irreversible: once locked, the period can never be shortened or removed and the bucket cannot be deleted before its newest record expires. Lock it in production, after a first apply."
  type        = bool
  default     = false
}

variable "decision_reviewers_group" {
  description = "Google group of the reviewers (credit risk, fair lending, model risk, audit) who may read the decision records and query their table; empty: nobody but project owners."
  type        = string
  default     = ""

  validation {
    condition     = var.decision_reviewers_group == "" || can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", var.decision_reviewers_group))
    error_message = "decision_reviewers_group must be empty or a group's e-mail address."
  }
}

variable "decision_dataset_id" {
  description = "BigQuery dataset holding the decisions table (an external table over the records bucket)."
  type        = string
  default     = "decision_records"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.decision_dataset_id)) && length(var.decision_dataset_id) <= 1024
    error_message = "decision_dataset_id must be 1-1024 letters, digits and underscores."
  }
}

variable "access_log_retention_days" {
  description = "Days the model bucket's access logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of at least 1."
  }
}

variable "image_retention_count" {
  description = "Build images of the function kept in Artifact Registry (the newest ones); older images are deleted after image_max_age_days."
  type        = number
  default     = 10

  validation {
    condition     = var.image_retention_count >= 1 && floor(var.image_retention_count) == var.image_retention_count
    error_message = "image_retention_count must be a whole number of at least 1."
  }
}

variable "image_max_age_days" {
  description = "Age in days after which a build image that is not among the newest image_retention_count is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.image_max_age_days >= 1 && floor(var.image_max_age_days) == var.image_max_age_days
    error_message = "image_max_age_days must be a whole number of at least 1."
  }
}

variable "alert_latency_p95_seconds" {
  description = "Alert when the 95th percentile of request latency stays above this many seconds for alert_window_seconds."
  type        = number
  default     = 1

  validation {
    condition     = var.alert_latency_p95_seconds > 0
    error_message = "alert_latency_p95_seconds must be greater than 0."
  }
}

variable "alert_failed_request_ratio" {
  description = "Alert when the share of failed requests (outcome other than \"ok\") stays above this fraction for alert_window_seconds."
  type        = number
  default     = 0.05

  validation {
    condition     = var.alert_failed_request_ratio > 0 && var.alert_failed_request_ratio < 1
    error_message = "alert_failed_request_ratio must be a fraction between 0 and 1 (exclusive), such as 0.05."
  }
}

variable "alert_window_seconds" {
  description = "How long an alert condition (evaluated on per-minute data) must hold before the alert opens."
  type        = number
  default     = 300

  validation {
    condition     = var.alert_window_seconds >= 60 && var.alert_window_seconds <= 86400 && var.alert_window_seconds % 60 == 0
    error_message = "alert_window_seconds must be a multiple of 60 from 60 to 86400."
  }
}

variable "notification_emails" {
  description = "E-mail addresses notified by the alert policies (one notification channel each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.notification_emails : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", email))])
    error_message = "notification_emails must hold e-mail addresses only, such as \"ml-oncall@example.com\"."
  }
}

variable "labels" {
  description = "Labels added to every resource that supports them."
  type        = map(string)
  default     = {}
}

# --- BigQuery remote function (infra/bigquery.tf) ---

variable "bigquery_dataset_id" {
  description = "BigQuery dataset that holds the default_risk remote function; queries call it as `PROJECT.DATASET.default_risk(...)`."
  type        = string
  default     = "default_risk"

  validation {
    # RE2 (Terraform's regex engine) rejects repetition counts above 1000, hence length() for the bound.
    condition     = length(var.bigquery_dataset_id) <= 1024 && can(regex("^[A-Za-z0-9_]+$", var.bigquery_dataset_id))
    error_message = "bigquery_dataset_id must be 1-1024 letters, digits and underscores (no hyphens)."
  }
}

variable "bigquery_location" {
  description = "BigQuery location of the dataset and the connection: that of the tables to score (a query cannot mix locations), e.g. \"EU\", \"US\" or a region. Empty: var.region."
  type        = string
  default     = ""

  validation {
    condition     = var.bigquery_location == "" || can(regex("^(EU|US|[a-z]+-[a-z]+[0-9]+)$", var.bigquery_location))
    error_message = "bigquery_location must be empty, \"EU\", \"US\" or a region such as europe-west1."
  }
}

variable "bigquery_max_batching_rows" {
  description = "Most rows BigQuery sends to the function in one request. Larger batches mean fewer requests and less per-request overhead, but more memory and latency per request; the function accepts at most 10000 per request (functions/default_risk/contract/limits.py MAX_INSTANCES)."
  type        = number
  default     = 5000

  validation {
    condition     = var.bigquery_max_batching_rows >= 1 && var.bigquery_max_batching_rows <= local.max_instances && floor(var.bigquery_max_batching_rows) == var.bigquery_max_batching_rows
    error_message = "bigquery_max_batching_rows must be a whole number from 1 to 10000 (the most rows the function accepts in one request)."
  }
}

variable "bigquery_explain_max_batching_rows" {
  description = "Most rows BigQuery sends to the function in one request of default_risk_reasons. Each explained row costs 64 model evaluations; the function explains at most 1000 rows per request (functions/default_risk/contract/limits.py MAX_EXPLAIN_INSTANCES)."
  type        = number
  default     = 500

  validation {
    condition     = var.bigquery_explain_max_batching_rows >= 1 && var.bigquery_explain_max_batching_rows <= local.max_explain_instances && floor(var.bigquery_explain_max_batching_rows) == var.bigquery_explain_max_batching_rows
    error_message = "bigquery_explain_max_batching_rows must be a whole number from 1 to 1000 (the most rows the function explains in one request)."
  }
}

# --- Population stability (infra/stability.tf) ---

variable "stability_schedule" {
  description = "When the daily score-stability query runs (BigQuery Data Transfer Service schedule syntax), computing yesterday's PSI per model version."
  type        = string
  default     = "every day 06:00"

  validation {
    condition     = can(regex("^every ", var.stability_schedule))
    error_message = "stability_schedule must be a Data Transfer Service schedule such as \"every day 06:00\"."
  }
}

variable "backtest_schedule" {
  description = "When the outcome back-test runs (BigQuery Data Transfer Service schedule syntax), over the decisions of the last backtest_window_days days and the outcomes loaded so far."
  type        = string
  default     = "1 of month 07:00"

  validation {
    condition     = can(regex("^(every |[0-9]+ of month )", var.backtest_schedule))
    error_message = "backtest_schedule must be a Data Transfer Service schedule such as \"1 of month 07:00\" or \"every monday 07:00\"."
  }
}

variable "backtest_window_days" {
  description = "Days of decisions each scheduled back-test reads (their records' date partitions); decisions without an outcome yet are counted as pending."
  type        = number
  default     = 400

  validation {
    condition     = var.backtest_window_days >= 1 && var.backtest_window_days <= var.decision_retention_days && floor(var.backtest_window_days) == var.backtest_window_days
    error_message = "backtest_window_days must be a whole number of days from 1 to decision_retention_days."
  }
}

variable "stability_log_retention_days" {
  description = "Days the request log lines copied to BigQuery (band counts per request, no customer data) are kept; the daily PSI table is kept indefinitely."
  type        = number
  default     = 400

  validation {
    condition     = var.stability_log_retention_days >= 2 && floor(var.stability_log_retention_days) == var.stability_log_retention_days
    error_message = "stability_log_retention_days must be a whole number of days, at least 2 (the daily query reads yesterday)."
  }
}
