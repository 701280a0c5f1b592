# Minimal customer-side setup for keybroker BYOK.
#
# The values for broker_principal_arns, external_id and workspace_id are shown
# to you by keybroker when you enable BYOK for a workspace. After apply, paste
# the role_arn and key_arn outputs back into keybroker and run "verify".

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.73, < 7.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

module "keybroker_byok" {
  source = "../.."

  workspace_id = "acme-prod"
  broker_principal_arns = [
    "arn:aws:iam::111111111111:role/keybroker-inject",
    "arn:aws:iam::111111111111:role/keybroker-admin",
  ]
  external_id = "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e"

  # People/roles in your organisation who administer the key.
  key_admin_arns = [
    "arn:aws:iam::222222222222:role/SecurityAdmin",
  ]

  key_alias           = "alias/keybroker-acme-prod"
  expected_account_id = "222222222222"

  # Set to "revoked" (and apply) to lock keybroker out: an explicit Deny that
  # beats identity policies and grants. Run ../../readiness/check_revocation.py
  # to check nothing else reaches the role.
  broker_access = "enabled"

  tags = {
    Service = "keybroker"
  }
}

output "role_arn" {
  value = module.keybroker_byok.role_arn
}

output "key_arn" {
  value = module.keybroker_byok.key_arn
}
