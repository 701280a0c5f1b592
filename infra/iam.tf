# One execution role per function, so each holds only what its own code calls
# (tests/tests/policies.rs pins both action sets to the broker-core functions
# that need them). Customers trust BOTH role ARNs (output
# broker_principal_arns): inject assumes their role to decrypt on reads,
# admin to verify the link and to encrypt on put/rotate.

resource "aws_iam_role" "inject" {
  name                 = local.inject_name
  path                 = var.execution_role_path
  description          = "keybroker inject function: reads and decrypts secrets for one upstream request."
  assume_role_policy   = jsonencode(jsondecode(file("${local.templates_dir}/lambda-trust-policy.json.tftpl")))
  permissions_boundary = var.permissions_boundary_arn
  # AssumeRole from a Lambda role is role chaining: STS caps sessions at 1 h
  # whatever this says; the broker asks for 15 minutes anyway.
  max_session_duration = 3600
}

resource "aws_iam_role" "admin" {
  name                 = local.admin_name
  path                 = var.execution_role_path
  description          = "keybroker admin function: BYOK setup, secrets and policies (control plane only)."
  assume_role_policy   = jsonencode(jsondecode(file("${local.templates_dir}/lambda-trust-policy.json.tftpl")))
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "inject" {
  name = "keybroker-inject"
  role = aws_iam_role.inject.id
  policy = jsonencode(jsondecode(templatefile("${local.templates_dir}/inject-role-policy.json.tftpl", {
    table_arn               = aws_dynamodb_table.broker.arn
    platform_key_arns_json  = jsonencode(local.platform_key_arns)
    customer_role_arns_json = jsonencode(local.customer_role_arns)
    log_group_arn           = aws_cloudwatch_log_group.inject.arn
  })))
}

resource "aws_iam_role_policy" "admin" {
  name = "keybroker-admin"
  role = aws_iam_role.admin.id
  policy = jsonencode(jsondecode(templatefile("${local.templates_dir}/admin-role-policy.json.tftpl", {
    table_arn               = aws_dynamodb_table.broker.arn
    platform_key_arns_json  = jsonencode(local.platform_key_arns)
    active_platform_key_arn = local.active_platform_key_arn
    customer_role_arns_json = jsonencode(local.customer_role_arns)
    log_group_arn           = aws_cloudwatch_log_group.admin.arn
  })))
}
