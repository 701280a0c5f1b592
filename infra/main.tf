# The broker's own deployment, in the PLATFORM's AWS account:
#
#   storage.tf  DynamoDB table (pk/sk), point-in-time recovery, deletion protection
#   kms.tf      platform KMS key(s) for workspaces without BYOK
#   iam.tf      one execution role per function, least privilege
#   lambda.tf   the inject and admin functions and their log groups
#   monitoring.tf CloudWatch alarms on the metrics in the audit records
#
# The two functions are local.functions below: iam.tf and lambda.tf create
# one role, role policy, log group and function per entry (for_each), with
# `moved` blocks from the single-resource addresses of earlier versions.
#
# Every IAM and KMS policy document lives in ./policies/*.json.tftpl and is
# rendered here with templatefile() using plain ${name} placeholders only. The
# Rust test tests/tests/policies.rs renders the very same files with a trivial
# substitution and checks the action set of each role, so the policy that is
# tested is the policy that is shipped. Keep the placeholder contract in
# ./policies/README.md in sync with this file.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  table_name    = var.name_prefix
  inject_name   = "${var.name_prefix}-inject"
  admin_name    = "${var.name_prefix}-admin"
  inject_zip    = coalesce(var.inject_zip, "${path.module}/../dist/inject.zip")
  admin_zip     = coalesce(var.admin_zip, "${path.module}/../dist/admin.zip")
  templates_dir = "${path.module}/policies"

  # What differs between the two functions; keyed by the name used in
  # resource addresses (aws_lambda_function.broker["inject"]) and in the
  # role-policy template file name (policies/<key>-role-policy.json.tftpl).
  functions = {
    inject = {
      name             = local.inject_name
      name_in_role     = "keybroker-inject"
      description      = "keybroker inject: one upstream request with a stored credential injected (agent-facing)."
      role_description = "keybroker inject function: reads and decrypts secrets for one upstream request."
      zip              = local.inject_zip
      memory_mb        = var.inject_memory_mb
      timeout_seconds  = var.inject_timeout_seconds
      reserved         = var.inject_reserved_concurrency
    }
    admin = {
      name             = local.admin_name
      name_in_role     = "keybroker-admin"
      description      = "keybroker admin: BYOK setup, secrets and policies (control plane only)."
      role_description = "keybroker admin function: BYOK setup, secrets and policies (control plane only)."
      zip              = local.admin_zip
      memory_mb        = var.admin_memory_mb
      timeout_seconds  = var.admin_timeout_seconds
      reserved         = var.admin_reserved_concurrency
    }
  }

  # Customer roles the broker may assume: the explicit list if given, else
  # every role under the customer module's role path, in any account. The
  # account cannot be narrowed in advance (customers bring their own); what
  # protects a customer is their role's trust policy, which names the broker
  # roles and requires the workspace's sts:ExternalId.
  customer_role_arns = (
    length(var.customer_role_arns) > 0
    ? var.customer_role_arns
    : ["arn:${local.partition}:iam::*:role${var.customer_role_path}*"]
  )

  active_platform_generation = var.platform_key_generations[length(var.platform_key_generations) - 1]
  active_platform_key_arn    = aws_kms_key.platform[local.active_platform_generation].arn
  platform_key_arns          = [for g in var.platform_key_generations : aws_kms_key.platform[g].arn]
}
