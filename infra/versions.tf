terraform {
  # 1.9: variable validations may read locals (the contract's limits, generated into contract.tf.json).
  required_version = ">= 1.9"

  required_providers {
    google = {
      source = "hashicorp/google"
      # ../shared/tools/tfschema mirrors hashicorp/google 6.50.0: the offline schema check is only
      # meaningful against that major version.
      version = "~> 6.50"
    }
  }

  # Remote state in a GCS bucket made beforehand (see README.md, "Bootstrap"):
  #   terraform init -backend-config="bucket=STATE_BUCKET" -backend-config="prefix=default-risk"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}
