terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # rotation_period_in_days (aws_kms_key) and logging_config
      # (aws_lambda_function) need 5.x releases from 2024 on.
      version = ">= 5.50, < 6.0"
    }
  }

  # State holds no secrets (ARNs, names, policies only), but keep it remote and
  # locked in production, e.g.:
  #   backend "s3" {}   # terraform init -backend-config=backend.hcl
}
