# Alarms on the CloudWatch metrics the functions embed in their audit
# records (Embedded Metric Format, lambda/src/metrics.rs; docs/OPERATIONS.md
# "Metrics and alarms"). CloudWatch Logs extracts them from the functions'
# log groups (lambda.tf): nothing here writes metrics, and no extra AWS call
# is made per injection.
#
# Dimensions are Function ("inject" | "admin") and Outcome only: workspace
# and secret names are never dimensions (cost per distinct value, and tenant
# names would leak into a second store). Find the workspace behind an alarm
# with the Logs Insights queries in docs/OPERATIONS.md.

locals {
  # Must match keybroker_lambda::metrics::NAMESPACE.
  metrics_namespace = "keybroker"
  alarm_actions     = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
}

# A customer locked the broker out of a key (or the platform key lost its
# grant): tell the workspace owner; every read of their secrets now fails.
resource "aws_cloudwatch_metric_alarm" "revocations" {
  for_each = local.functions

  alarm_name          = "${var.name_prefix}-${each.key}-revocations"
  alarm_description   = "keybroker ${each.key}: calls found a secret's key revoked (audit reason/outcome \"revoked\"). Query the ${each.key} log group for the workspace; see docs/OPERATIONS.md, Errors and what to do."
  namespace           = local.metrics_namespace
  metric_name         = "Revocations"
  dimensions          = { Function = each.key }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Failures of the broker, AWS, the stored data or the upstream (not
# refusals, not revocations): integrity, storage and internal errors need a
# person; throttled/unavailable/upstream_error in bulk do too.
resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = local.functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "keybroker ${each.key}: more than ${var.error_alarm_threshold} failed calls in ${var.alarm_period_seconds} s. The Outcome dimension of the Errors metric names the error type; see docs/OPERATIONS.md, Errors and what to do."
  namespace           = local.metrics_namespace
  metric_name         = "Errors"
  dimensions          = { Function = each.key }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.error_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
