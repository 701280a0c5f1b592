output "broker_principal_arns" {
  description = "The broker principals a customer's role must trust: [inject role, admin role]. Give both to every BYOK customer, with the workspace's external id."
  value       = [aws_iam_role.broker["inject"].arn, aws_iam_role.broker["admin"].arn]
}

output "inject_role_arn" {
  description = "Execution role of the inject function (decrypts on reads)."
  value       = aws_iam_role.broker["inject"].arn
}

output "admin_role_arn" {
  description = "Execution role of the admin function (verifies BYOK, encrypts on put/rotate)."
  value       = aws_iam_role.broker["admin"].arn
}

output "table_name" {
  description = "DynamoDB table (KEYBROKER_TABLE of both functions)."
  value       = aws_dynamodb_table.broker.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.broker.arn
}

output "platform_key_arn" {
  description = "ARN of the ACTIVE platform key (KEYBROKER_PLATFORM_KEY_ARN of both functions)."
  value       = local.active_platform_key_arn
}

output "platform_key_arns" {
  description = "ARN of every platform key generation, by name (retired ones are decrypt-only)."
  value       = { for g in var.platform_key_generations : g => aws_kms_key.platform[g].arn }
}

output "platform_key_alias" {
  description = "Alias of the active platform key."
  value       = aws_kms_alias.platform_active.name
}

output "inject_function_arn" {
  description = "ARN of the inject function: the only thing agent runtimes may invoke."
  value       = aws_lambda_function.broker["inject"].arn
}

output "inject_function_name" {
  description = "Name of the inject function."
  value       = aws_lambda_function.broker["inject"].function_name
}

output "admin_function_arn" {
  description = "ARN of the admin function: the platform's control plane only."
  value       = aws_lambda_function.broker["admin"].arn
}

output "admin_function_name" {
  description = "Name of the admin function."
  value       = aws_lambda_function.broker["admin"].function_name
}

output "inject_log_group" {
  description = "Log group of the inject function (audit records, schema keybroker.audit.inject.v1)."
  value       = aws_cloudwatch_log_group.broker["inject"].name
}

output "admin_log_group" {
  description = "Log group of the admin function."
  value       = aws_cloudwatch_log_group.broker["admin"].name
}

output "agent_runtime_policy_json" {
  description = "IAM policy to attach to agent runtimes: lambda:InvokeFunction on the inject function only."
  value = jsonencode(jsondecode(templatefile("${local.templates_dir}/agent-runtime-policy.json.tftpl", {
    inject_function_arn = aws_lambda_function.broker["inject"].arn
  })))
}

output "audit_export_bucket" {
  description = "The audit export bucket (audit_export_enabled), or null. A workspace's records are under workspace=<id>/: give the customer the bucket and prefix."
  value       = one(aws_s3_bucket.audit_export[*].bucket)
}
