output "role_arn" {
  description = "ARN of the role keybroker assumes. Register this with keybroker for the workspace."
  value       = aws_iam_role.broker.arn
}

output "role_name" {
  description = "Name of the role keybroker assumes."
  value       = aws_iam_role.broker.name
}

output "key_arn" {
  description = "ARN of the customer-managed KMS key. Register this with keybroker for the workspace."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Id (UUID) of the KMS key."
  value       = aws_kms_key.this.key_id
}

output "key_alias" {
  description = "Alias name of the key (e.g. alias/keybroker-acme), or null when key_alias is not set."
  value       = one(aws_kms_alias.this[*].name)
}

output "key_alias_arn" {
  description = "ARN of the key alias, or null when key_alias is not set."
  value       = one(aws_kms_alias.this[*].arn)
}

output "external_id" {
  description = "The sts:ExternalId the role's trust policy requires (echoed back; not a secret)."
  value       = var.external_id
}

output "workspace_id" {
  description = "The keybroker workspace id the key policy is scoped to."
  value       = var.workspace_id
}

output "broker_access" {
  description = "The revocation switch as applied: \"enabled\" or \"revoked\" (explicit Deny in the key policy)."
  value       = local.broker_access
}

output "broker_access_enabled" {
  description = "DEPRECATED (use broker_access): true when broker_access is \"enabled\"."
  value       = local.broker_access == "enabled"
}
