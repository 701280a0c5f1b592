# Customer-side resources for keybroker BYOK ("bring your own key").
#
# Creates, in the CUSTOMER's AWS account:
#   * an IAM role the keybroker service assumes (sts:AssumeRole + ExternalId);
#   * a symmetric KMS key whose key policy lets that role call exactly
#     kms:GenerateDataKey and kms:Decrypt, and only with an encryption context
#     of {"workspace": <workspace_id>, "secret": <name>}.
#
# Both policy documents live in ./policies/*.json.tftpl and are rendered here
# with templatefile() using plain ${name} placeholders only. The keybroker test
# suite renders the very same files with a trivial substitution and applies them
# to an emulator, so the policy that is tested is the policy that is shipped.
# Keep the placeholder contract in ./policies/README.md in sync with this file.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id       = data.aws_caller_identity.current.account_id
  partition        = data.aws_partition.current.partition
  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"

  # With no explicit key admins, the account root is the administrator (the
  # statement then duplicates "Enable IAM User Permissions", which is harmless;
  # KMS rejects a statement with an empty principal list).
  key_admin_arns = length(var.key_admin_arns) > 0 ? var.key_admin_arns : [local.account_root_arn]

  trust_policy = templatefile("${path.module}/policies/trust-policy.json.tftpl", {
    broker_principal_arns_json = jsonencode(var.broker_principal_arns)
    external_id                = var.external_id
  })

  # The broker statement is a standalone JSON object; when enabled it is spliced
  # into the key policy's Statement array with a leading comma, otherwise the
  # placeholder becomes the empty string.
  broker_statement = var.enable_broker_access ? ",${templatefile("${path.module}/policies/broker-key-statement.json.tftpl", {
    broker_role_arn = aws_iam_role.broker.arn
    workspace_id    = var.workspace_id
  })}" : ""

  key_policy = templatefile("${path.module}/policies/key-policy.json.tftpl", {
    partition        = local.partition
    account_id       = local.account_id
    key_admins_json  = jsonencode(local.key_admin_arns)
    broker_statement = local.broker_statement
  })

  key_description = coalesce(var.key_description, "keybroker BYOK key for workspace ${var.workspace_id}")
}

resource "aws_iam_role" "broker" {
  name                 = var.role_name
  path                 = var.role_path
  description          = "Assumed by the keybroker service (workspace ${var.workspace_id}) to use KMS key for BYOK."
  max_session_duration = 3600
  permissions_boundary = var.role_permissions_boundary_arn

  # jsondecode/jsonencode round trip: fails at plan time if a template ever
  # renders invalid JSON, and normalises whitespace for stable diffs.
  assume_role_policy = jsonencode(jsondecode(local.trust_policy))

  # Deliberately no inline or managed policies: the KMS key policy grants this
  # role access directly, so the key policy is the single place to revoke.

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.expected_account_id == null || var.expected_account_id == local.account_id
      error_message = "The AWS provider is authenticated to account ${local.account_id}, but expected_account_id is ${coalesce(var.expected_account_id, "-")}."
    }
  }
}

resource "aws_kms_key" "this" {
  description              = local.key_description
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  deletion_window_in_days  = var.deletion_window_in_days
  is_enabled               = var.key_enabled

  policy = jsonencode(jsondecode(local.key_policy))

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !contains(var.key_admin_arns, aws_iam_role.broker.arn)
      error_message = "The keybroker role must not be listed in key_admin_arns."
    }
  }
}

resource "aws_kms_alias" "this" {
  count = var.key_alias == null ? 0 : 1

  name          = var.key_alias
  target_key_id = aws_kms_key.this.key_id
}
