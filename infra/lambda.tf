# The two functions. Both run the same crate (lambda/), built and zipped by
# scripts/package-lambda.sh as a custom-runtime `bootstrap`.

# Created before the functions so Lambda never auto-creates them with
# infinite retention (and so the roles need no logs:CreateLogGroup).
resource "aws_cloudwatch_log_group" "inject" {
  name              = "/aws/lambda/${local.inject_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "admin" {
  name              = "/aws/lambda/${local.admin_name}"
  retention_in_days = var.log_retention_days
}

locals {
  function_environment = {
    KEYBROKER_TABLE            = aws_dynamodb_table.broker.name
    KEYBROKER_PLATFORM_KEY_ARN = local.active_platform_key_arn
    RUST_LOG                   = var.rust_log
    KEYBROKER_MIN_BLOB_VERSION = tostring(var.min_blob_version)
  }
}

resource "aws_lambda_function" "inject" {
  function_name    = local.inject_name
  description      = "keybroker inject: one upstream request with a stored credential injected (agent-facing)."
  role             = aws_iam_role.inject.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = var.architectures
  filename         = local.inject_zip
  source_code_hash = filebase64sha256(local.inject_zip)
  memory_size      = var.inject_memory_mb
  timeout          = var.inject_timeout_seconds

  environment {
    variables = local.function_environment
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.inject.name
  }

  # The first invocation must find its permissions and log group in place.
  depends_on = [aws_iam_role_policy.inject, aws_cloudwatch_log_group.inject]
}

resource "aws_lambda_function" "admin" {
  function_name    = local.admin_name
  description      = "keybroker admin: BYOK setup, secrets and policies (control plane only)."
  role             = aws_iam_role.admin.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = var.architectures
  filename         = local.admin_zip
  source_code_hash = filebase64sha256(local.admin_zip)
  memory_size      = var.admin_memory_mb
  timeout          = var.admin_timeout_seconds

  environment {
    variables = local.function_environment
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.admin.name
  }

  depends_on = [aws_iam_role_policy.admin, aws_cloudwatch_log_group.admin]
}
