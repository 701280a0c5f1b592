# Offline tests of the broker deployment with Terraform's mock provider
# (Terraform >= 1.7). They need the hashicorp/aws provider *schema* only
# (`terraform init -plugin-dir=<mirror>`); no AWS credentials or network.
# infra/check.sh runs them when KEYBROKER_TF_PLUGIN_DIR is set.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "111111111111"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  # The permission's source_arn must parse as an ARN.
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:eu-west-1:111111111111:rule/keybroker-status-check"
    }
  }
}

override_resource {
  target = aws_iam_role.broker["inject"]
  values = {
    arn = "arn:aws:iam::111111111111:role/keybroker-inject"
  }
}

# The schedule's target must parse as an ARN.
override_resource {
  target = aws_lambda_function.broker["admin"]
  values = {
    arn = "arn:aws:lambda:eu-west-1:111111111111:function:keybroker-admin"
  }
}

override_resource {
  target = aws_iam_role.broker["admin"]
  values = {
    arn = "arn:aws:iam::111111111111:role/keybroker-admin"
  }
}

variables {
  region = "eu-west-1"
  # Any existing file: the mock provider never unzips it; only its hash is read.
  inject_zip = "versions.tf"
  admin_zip  = "providers.tf"
}

run "defaults" {
  command = apply

  assert {
    condition = (
      aws_dynamodb_table.broker.hash_key == "pk" && aws_dynamodb_table.broker.range_key == "sk"
      && aws_dynamodb_table.broker.billing_mode == "PAY_PER_REQUEST"
      && toset([for a in aws_dynamodb_table.broker.attribute : "${a.name}:${a.type}"]) == toset(["pk:S", "sk:S"])
    )
    error_message = "table must be pk (S) / sk (S), on demand, and nothing else"
  }

  assert {
    condition     = aws_dynamodb_table.broker.point_in_time_recovery[0].enabled && aws_dynamodb_table.broker.deletion_protection_enabled
    error_message = "table must have point-in-time recovery and deletion protection"
  }

  assert {
    condition = alltrue([
      for f in [aws_lambda_function.broker["inject"], aws_lambda_function.broker["admin"]] :
      f.runtime == "provided.al2023" && f.handler == "bootstrap" && tolist(f.architectures) == tolist(["arm64"])
    ])
    error_message = "functions must be provided.al2023 / bootstrap / arm64 by default"
  }

  assert {
    condition     = aws_lambda_function.broker["inject"].memory_size == 512 && aws_lambda_function.broker["admin"].memory_size == 128
    error_message = "default memory must be 512 MB for inject (CPU for the agent's path) and 128 MB for admin"
  }

  assert {
    condition     = aws_lambda_function.broker["inject"].timeout == 15 && aws_lambda_function.broker["admin"].timeout == 30
    error_message = "default timeouts must be 15 s (inject) and 30 s (admin)"
  }

  assert {
    condition = aws_lambda_function.broker["inject"].environment[0].variables == tomap({
      KEYBROKER_TABLE            = "keybroker"
      KEYBROKER_PLATFORM_KEY_ARN = aws_kms_key.platform["v1"].arn
      RUST_LOG                   = "info"
      KEYBROKER_MIN_BLOB_VERSION = "1"
      KEYBROKER_DEFAULT_LIMITS   = var.default_limits
      KEYBROKER_PROBE_BUDGET     = "3"
      KEYBROKER_AWS_TIMEOUTS     = "attempt_ms=3000,operation_ms=8000"
      KEYBROKER_IN_FLIGHT_LIMIT  = "50"
      KEYBROKER_COUNTER_SHARDS   = "1"
    })
    error_message = "inject environment must name the table, the active platform key, RUST_LOG, the minimum blob version, the default limits, the probe budget, the AWS call bounds, the in-flight bound and the counter shards"
  }

  assert {
    condition = aws_lambda_function.broker["admin"].environment[0].variables == tomap({
      for k, v in aws_lambda_function.broker["inject"].environment[0].variables : k => v
      if !contains(["KEYBROKER_IN_FLIGHT_LIMIT", "KEYBROKER_COUNTER_SHARDS"], k)
    })
    error_message = "both functions must see the same table and key (only inject counts in-flight slots)"
  }

  assert {
    condition     = aws_kms_key.platform["v1"].enable_key_rotation && aws_kms_key.platform["v1"].rotation_period_in_days == 365
    error_message = "platform key must rotate yearly by default"
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.platform["v1"].policy).Statement : s.Sid] == ["KeyAdministration", "BrokerDecrypt", "InjectSealsRefreshedOAuth2Tokens", "BrokerGenerateDataKey"]
    error_message = "active platform key policy must administer, let both roles decrypt and admin generate"
  }

  assert {
    condition     = output.broker_principal_arns == ["arn:aws:iam::111111111111:role/keybroker-inject", "arn:aws:iam::111111111111:role/keybroker-admin"]
    error_message = "broker_principal_arns must be [inject role, admin role]"
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.broker["inject"].policy).Statement : s if s.Sid == "AssumeCustomerRoles"] == [{
      Sid      = "AssumeCustomerRoles"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole", "sts:SetSourceIdentity"]
      Resource = ["arn:aws:iam::*:role/keybroker/*"]
    }]
    error_message = "inject may assume roles under the customer module's default path only"
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.broker["inject"].policy).Statement : s.Action])) == toset([
      "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "sts:AssumeRole", "sts:SetSourceIdentity", "logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:Query", "dynamodb:GetItem",
    ])
    error_message = "inject role actions changed (tests/tests/policies.rs has the full check)"
  }

  assert {
    condition = {
      for k, a in aws_cloudwatch_metric_alarm.probes : k => [a.metric_name, a.dimensions.Function, a.threshold, a.comparison_operator, a.treat_missing_data]
      } == {
      probes      = ["Probes", "inject", 0, "GreaterThanThreshold", "notBreaching"]
      echoes      = ["EchoWithheld", "inject", 0, "GreaterThanThreshold", "notBreaching"]
      quarantined = ["Quarantined", "inject", 0, "GreaterThanThreshold", "notBreaching"]
    }
    error_message = "inject must alarm on the first probe, echo and quarantine (metric names as lambda/src/metrics.rs writes them)"
  }

  assert {
    condition     = [aws_cloudwatch_metric_alarm.reauth_required.metric_name, aws_cloudwatch_metric_alarm.reauth_required.dimensions.Function, aws_cloudwatch_metric_alarm.reauth_required.threshold] == ["ReauthRequired", "inject", 0]
    error_message = "inject must alarm on the first reauth_required (metric name as lambda/src/metrics.rs writes it)"
  }

  assert {
    condition     = jsondecode(output.agent_runtime_policy_json).Statement[0].Resource == aws_lambda_function.broker["inject"].arn
    error_message = "agent runtime policy must name the inject function only"
  }
}

run "second_platform_key_generation" {
  command = apply

  variables {
    platform_key_generations = ["v1", "v2"]
  }

  assert {
    condition     = aws_lambda_function.broker["inject"].environment[0].variables.KEYBROKER_PLATFORM_KEY_ARN == aws_kms_key.platform["v2"].arn
    error_message = "the last generation must be the active key"
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.platform["v1"].policy).Statement : s.Sid] == ["KeyAdministration", "BrokerDecrypt", "InjectSealsRefreshedOAuth2Tokens"]
    error_message = "a retired key must be decrypt-only"
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.broker["admin"].policy).Statement : s.Resource if s.Sid == "GenerateDataKeyWithActivePlatformKey"] == [aws_kms_key.platform["v2"].arn]
    error_message = "admin may generate data keys under the active key only"
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.broker["inject"].policy).Statement : s.Resource if s.Sid == "DecryptWithPlatformKeys"] == [[aws_kms_key.platform["v1"].arn, aws_kms_key.platform["v2"].arn]]
    error_message = "inject must still decrypt under every generation"
  }
}

run "explicit_customer_roles_and_x86" {
  command = apply

  variables {
    customer_role_arns = ["arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess"]
    architectures      = ["x86_64"]
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.broker["admin"].policy).Statement : s.Resource if s.Sid == "AssumeCustomerRoles"] == [["arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess"]]
    error_message = "customer_role_arns must replace the path pattern"
  }

  assert {
    condition     = tolist(aws_lambda_function.broker["inject"].architectures) == tolist(["x86_64"]) && tolist(aws_lambda_function.broker["admin"].architectures) == tolist(["x86_64"])
    error_message = "architectures must apply to both functions"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    architectures          = ["arm64", "x86_64"]
    inject_timeout_seconds = 10
    customer_role_path     = "/"
    log_retention_days     = 42
    customer_role_arns     = ["arn:aws:iam::*:role/*"]
    probe_budget           = 0
  }

  expect_failures = [
    var.probe_budget,
    var.architectures,
    var.inject_timeout_seconds,
    var.customer_role_path,
    var.log_retention_days,
    var.customer_role_arns,
  ]
}

run "status_check_schedule" {
  command = apply

  variables {
    status_check_interval           = "1 hour"
    status_check_workspaces_per_run = 40
  }

  assert {
    condition     = aws_cloudwatch_event_rule.status_check[0].schedule_expression == "rate(1 hour)"
    error_message = "the status check rule must run at the configured rate"
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_target.status_check[0].input) == { op = "check_all_workspaces", scheduled = true, limit = 40 }
      && aws_cloudwatch_event_target.status_check[0].arn == aws_lambda_function.broker["admin"].arn
    )
    error_message = "the status check must invoke the admin function with the scheduled all-workspaces input"
  }

  assert {
    condition = (
      aws_lambda_permission.status_check[0].principal == "events.amazonaws.com"
      && aws_lambda_permission.status_check[0].source_arn == aws_cloudwatch_event_rule.status_check[0].arn
    )
    error_message = "only this rule may invoke the admin function through EventBridge"
  }
}

run "status_check_off" {
  command = plan

  variables {
    status_check_interval = null
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.status_check) == 0 && length(aws_lambda_permission.status_check) == 0
    error_message = "status_check_interval = null must create no schedule"
  }
}

run "status_check_refuses_a_bad_rate" {
  command = plan

  variables {
    status_check_interval = "every 5 minutes"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_1_minutes" {
  command = plan

  variables {
    status_check_interval = "1 minutes"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_5_minute" {
  command = plan

  variables {
    status_check_interval = "5 minute"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_0_minutes" {
  command = plan

  variables {
    status_check_interval = "0 minutes"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_05_minutes" {
  command = plan

  variables {
    status_check_interval = "05 minutes"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_2_hour" {
  command = plan

  variables {
    status_check_interval = "2 hour"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_refuses_1_days" {
  command = plan

  variables {
    status_check_interval = "1 days"
  }

  expect_failures = [var.status_check_interval]
}

run "status_check_takes_1_minute" {
  command = plan

  variables {
    status_check_interval = "1 minute"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.status_check[0].schedule_expression == "rate(1 minute)"
    error_message = "rate(1 minute) is the singular form EventBridge accepts"
  }
}

run "audit_export_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket.audit_export) == 0 && length(aws_cloudwatch_log_subscription_filter.audit_export) == 0
    error_message = "no export unless audit_export_enabled"
  }
}

run "audit_export_per_workspace" {
  command = apply

  # ARNs the provider validates (the mock provider makes up strings).
  override_resource {
    target = aws_s3_bucket.audit_export[0]
    values = { arn = "arn:aws:s3:::keybroker-audit-export-111111111111", id = "keybroker-audit-export-111111111111" }
  }
  override_resource {
    target = aws_iam_role.audit_firehose[0]
    values = { arn = "arn:aws:iam::111111111111:role/keybroker-audit-firehose" }
  }
  override_resource {
    target = aws_iam_role.audit_logs[0]
    values = { arn = "arn:aws:iam::111111111111:role/keybroker-audit-logs" }
  }
  override_resource {
    target = aws_kinesis_firehose_delivery_stream.audit_export[0]
    values = { arn = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/keybroker-audit-export" }
  }
  override_resource {
    target = aws_cloudwatch_log_group.broker
    values = { arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/keybroker" }
  }

  variables {
    audit_export_enabled = true
    audit_export_readers = {
      "acme-prod" = ["arn:aws:iam::222222222222:root"]
      "beta-labs" = ["arn:aws:iam::333333333333:role/Auditor"]
    }
  }

  assert {
    condition = alltrue([for f in aws_cloudwatch_log_subscription_filter.audit_export :
      f.filter_pattern == "{ $.schema = \"keybroker.audit.*\" }"
    ]) && length(aws_cloudwatch_log_subscription_filter.audit_export) == 2
    error_message = "one audit subscription filter per function log group"
  }

  assert {
    condition     = startswith(aws_kinesis_firehose_delivery_stream.audit_export[0].extended_s3_configuration[0].prefix, "workspace=!{partitionKeyFromQuery:workspace}/")
    error_message = "the export is partitioned by workspace"
  }

  assert {
    condition = [for s in jsondecode(aws_s3_bucket_policy.audit_export[0].policy).Statement : s.Resource if s.Action == "s3:GetObject"] == [
      "arn:aws:s3:::keybroker-audit-export-111111111111/workspace=acme-prod/*",
      "arn:aws:s3:::keybroker-audit-export-111111111111/workspace=beta-labs/*",
    ]
    error_message = "each reader reads its workspace's prefix only"
  }
}

run "audit_export_refuses_a_bad_reader" {
  command = plan

  variables {
    audit_export_enabled = true
    audit_export_readers = { "acme-prod" = ["222222222222"] }
  }

  expect_failures = [var.audit_export_readers]
}

run "concurrency_defaults" {
  command = apply

  assert {
    condition     = aws_lambda_function.broker["admin"].reserved_concurrent_executions == 10 && aws_lambda_function.broker["inject"].reserved_concurrent_executions == 800
    error_message = "admin (and the scheduled check) must have 10 reserved executions, inject a cap of 800"
  }

  assert {
    condition     = aws_lambda_function.broker["inject"].environment[0].variables.KEYBROKER_IN_FLIGHT_LIMIT == "50" && aws_lambda_function.broker["inject"].environment[0].variables.KEYBROKER_COUNTER_SHARDS == "1"
    error_message = "inject must get the in-flight bound (50) and one counter shard by default"
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.broker["admin"].environment[0].variables), "KEYBROKER_IN_FLIGHT_LIMIT")
    error_message = "the in-flight bound is inject's setting only"
  }
}

run "concurrency_settings" {
  command = apply

  variables {
    admin_reserved_concurrency  = 20
    inject_reserved_concurrency = 300
    in_flight_limit             = 7
    counter_shards              = 16
  }

  assert {
    condition     = aws_lambda_function.broker["admin"].reserved_concurrent_executions == 20 && aws_lambda_function.broker["inject"].reserved_concurrent_executions == 300
    error_message = "the reservations must follow the variables"
  }

  assert {
    condition     = aws_lambda_function.broker["inject"].environment[0].variables.KEYBROKER_IN_FLIGHT_LIMIT == "7" && aws_lambda_function.broker["inject"].environment[0].variables.KEYBROKER_COUNTER_SHARDS == "16"
    error_message = "inject must get in_flight_limit and counter_shards"
  }
}

run "concurrency_rejects_bad_settings" {
  command = plan

  variables {
    admin_reserved_concurrency  = 0
    inject_reserved_concurrency = 2.5
    in_flight_limit             = 0
    counter_shards              = 65
  }

  expect_failures = [
    var.admin_reserved_concurrency,
    var.inject_reserved_concurrency,
    var.in_flight_limit,
    var.counter_shards,
  ]
}

run "aws_timeouts_setting" {
  command = apply

  variables {
    aws_timeouts = { attempt_ms = 500, operation_ms = 2000 }
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.broker : f.environment[0].variables.KEYBROKER_AWS_TIMEOUTS == "attempt_ms=500,operation_ms=2000"])
    error_message = "both functions must get aws_timeouts in the format they parse"
  }
}

run "aws_timeouts_rejects_bad_settings" {
  command = plan

  variables {
    aws_timeouts = { attempt_ms = 9000, operation_ms = 8000 }
  }

  expect_failures = [var.aws_timeouts]
}

run "aws_timeouts_must_fit_in_each_function_timeout" {
  command = plan

  variables {
    admin_timeout_seconds = 5
  }

  expect_failures = [aws_lambda_function.broker]
}
