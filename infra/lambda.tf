# The two functions (local.functions in main.tf: inject and admin), one of
# each resource per function. Both run the same crate (lambda/), built and
# zipped by scripts/package-lambda.sh as a custom-runtime `bootstrap`.

# Created before the functions so Lambda never auto-creates them with
# infinite retention (and so the roles need no logs:CreateLogGroup).
resource "aws_cloudwatch_log_group" "broker" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
}

locals {
  function_environment = {
    KEYBROKER_TABLE            = aws_dynamodb_table.broker.name
    KEYBROKER_PLATFORM_KEY_ARN = local.active_platform_key_arn
    RUST_LOG                   = var.rust_log
    KEYBROKER_MIN_BLOB_VERSION = tostring(var.min_blob_version)
    KEYBROKER_DEFAULT_LIMITS   = var.default_limits
    KEYBROKER_PROBE_BUDGET     = tostring(var.probe_budget)
    KEYBROKER_AWS_TIMEOUTS     = "attempt_ms=${var.aws_timeouts.attempt_ms},operation_ms=${var.aws_timeouts.operation_ms}"
  }
  # inject's own settings (the in-flight bound and counter shards decide
  # nothing in admin).
  inject_environment = {
    KEYBROKER_IN_FLIGHT_LIMIT = tostring(var.in_flight_limit)
    KEYBROKER_COUNTER_SHARDS  = tostring(var.counter_shards)
  }
}

resource "aws_lambda_function" "broker" {
  for_each = local.functions

  function_name    = each.value.name
  description      = each.value.description
  role             = aws_iam_role.broker[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = var.architectures
  filename         = each.value.zip
  source_code_hash = filebase64sha256(each.value.zip)
  memory_size      = each.value.memory_mb
  timeout          = each.value.timeout_seconds
  # Fairness (docs/OPERATIONS.md, "Concurrency"): admin's reservation is
  # capacity inject can never take; inject's is its cap.
  reserved_concurrent_executions = each.value.reserved

  environment {
    variables = merge(
      local.function_environment,
      each.key == "inject" ? tomap(local.inject_environment) : tomap({}),
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.broker[each.key].name
  }

  # The first invocation must find its permissions and log group in place.
  # (depends_on names whole resources: each function waits for both.)
  depends_on = [aws_iam_role_policy.broker, aws_cloudwatch_log_group.broker]

  lifecycle {
    precondition {
      condition     = var.aws_timeouts.operation_ms < each.value.timeout_seconds * 1000
      error_message = "aws_timeouts.operation_ms must be under the ${each.key} function's timeout (${each.value.timeout_seconds} s): a call the SDK is still retrying when Lambda stops the function is a Sandbox.Timedout, not an unavailable error naming the service."
    }
  }
}

# The addresses before for_each: an existing deployment moves its objects
# to the new keys instead of destroying and recreating them.
moved {
  from = aws_cloudwatch_log_group.inject
  to   = aws_cloudwatch_log_group.broker["inject"]
}

moved {
  from = aws_cloudwatch_log_group.admin
  to   = aws_cloudwatch_log_group.broker["admin"]
}

moved {
  from = aws_lambda_function.inject
  to   = aws_lambda_function.broker["inject"]
}

moved {
  from = aws_lambda_function.admin
  to   = aws_lambda_function.broker["admin"]
}
