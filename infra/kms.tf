# Platform keys, for workspaces without BYOK. One key per name in
# var.platform_key_generations; the last is active (see variables.tf).
#
# The key policy, not IAM, decides who may USE a key: the account root (and so
# IAM policies in this account) gets key administration, never Decrypt or
# GenerateDataKey; only the two broker roles named here may use it, and only
# with the {workspace, secret} encryption context the broker always sends.
#
# CAVEAT: key administration includes kms:PutKeyPolicy, and the root
# statement delegates it to IAM. So anyone in this account whose
# identity policy allows kms:PutKeyPolicy (kms:* on * does) can rewrite this
# policy to give themselves Decrypt (or CreateGrant) and read every platform
# secret: a broad identity policy is one policy change away from the
# secrets. Keep kms:PutKeyPolicy on these keys to a break-glass role with an
# SCP (docs/OPERATIONS.md, "Platform key
# administration", has one), and alarm on PutKeyPolicy in CloudTrail.
locals {
  # Spliced after the last statement of the key policy, comma included (the
  # same recipe as terraform/ uses for its broker statement).
  platform_generate_statement = ",${templatefile("${local.templates_dir}/platform-key-generate-statement.json.tftpl", {
    admin_role_arn = aws_iam_role.broker["admin"].arn
  })}"
}

resource "aws_kms_key" "platform" {
  for_each = toset(var.platform_key_generations)

  description              = "keybroker platform key ${each.key} (secrets of workspaces without BYOK)"
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  rotation_period_in_days  = var.platform_key_rotation_days
  deletion_window_in_days  = var.platform_key_deletion_window_days

  policy = jsonencode(jsondecode(templatefile("${local.templates_dir}/platform-key-policy.json.tftpl", {
    partition       = local.partition
    account_id      = local.account_id
    inject_role_arn = aws_iam_role.broker["inject"].arn
    admin_role_arn  = aws_iam_role.broker["admin"].arn
    # Only the active key lets admin generate new data keys; retired keys
    # are decrypt-only until every secret under them has been rotated.
    generate_data_key_statement = each.key == local.active_platform_generation ? local.platform_generate_statement : ""
  })))
}

resource "aws_kms_alias" "platform_active" {
  name          = "alias/${var.name_prefix}-platform"
  target_key_id = aws_kms_key.platform[local.active_platform_generation].key_id
}

resource "aws_kms_alias" "platform_generation" {
  for_each = toset(var.platform_key_generations)

  name          = "alias/${var.name_prefix}-platform-${each.key}"
  target_key_id = aws_kms_key.platform[each.key].key_id
}
