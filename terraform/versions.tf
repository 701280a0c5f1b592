terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_iam_role_policies_exclusive / _attachments_exclusive need >= 5.73.
      version = ">= 5.73, < 7.0"
    }
  }
}
