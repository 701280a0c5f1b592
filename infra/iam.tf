# One execution role per function (local.functions in main.tf), so each holds
# only what its own code calls (tests/tests/policies.rs pins both action sets
# to the broker-core functions that need them). Customers trust BOTH role
# ARNs (output broker_principal_arns): inject assumes their role to decrypt
# on reads, admin to verify the link and to encrypt on put/rotate.

resource "aws_iam_role" "broker" {
  for_each = local.functions

  name                 = each.value.name
  path                 = var.execution_role_path
  description          = each.value.role_description
  assume_role_policy   = jsonencode(jsondecode(file("${local.templates_dir}/lambda-trust-policy.json.tftpl")))
  permissions_boundary = var.permissions_boundary_arn
  # AssumeRole from a Lambda role is role chaining: STS caps sessions at 1 h
  # whatever this says; the broker asks for 15 minutes anyway.
  max_session_duration = 3600
}

# Each function's own template (policies/<key>-role-policy.json.tftpl). The
# admin template also places active_platform_key_arn (GenerateDataKey); the
# inject template has no such placeholder and templatefile() ignores it.
resource "aws_iam_role_policy" "broker" {
  for_each = local.functions

  name = each.value.name_in_role
  role = aws_iam_role.broker[each.key].id
  policy = jsonencode(jsondecode(templatefile("${local.templates_dir}/${each.key}-role-policy.json.tftpl", {
    table_arn               = aws_dynamodb_table.broker.arn
    platform_key_arns_json  = jsonencode(local.platform_key_arns)
    active_platform_key_arn = local.active_platform_key_arn
    customer_role_arns_json = jsonencode(local.customer_role_arns)
    log_group_arn           = aws_cloudwatch_log_group.broker[each.key].arn
  })))
}

moved {
  from = aws_iam_role.inject
  to   = aws_iam_role.broker["inject"]
}

moved {
  from = aws_iam_role.admin
  to   = aws_iam_role.broker["admin"]
}

moved {
  from = aws_iam_role_policy.inject
  to   = aws_iam_role_policy.broker["inject"]
}

moved {
  from = aws_iam_role_policy.admin
  to   = aws_iam_role_policy.broker["admin"]
}
