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

# The probe breaker (broker-core's breaker module; docs/OPERATIONS.md "The
# probe breaker"). Each of these is a person's job from the first event: an
# honest agent never sends credential material (Probes), an honest host
# bound to a secret rarely reflects it (EchoWithheld), and a quarantined
# secret refuses every agent until an operator clears it (Quarantined).
locals {
  probe_alarms = {
    probes = {
      metric      = "Probes"
      description = "a request carried material derived from a credential and was not sent (audit reason \"probe\"): an agent is guessing at a secret. Find it with the Logs Insights query in docs/OPERATIONS.md, The probe breaker; rotate the credential if the breaker tripped."
    }
    echoes = {
      metric      = "EchoWithheld"
      description = "an upstream answer contained a form of a credential (audit echo set, counted against the secret's probe budget): an agent probing through an echoing endpoint, or a bound host that reflects the credential. See docs/OPERATIONS.md, The probe breaker."
    }
    quarantined = {
      metric      = "Quarantined"
      description = "a secret's probe breaker tripped: every injection of it is refused until an operator clears it (keybroker clear-breaker). See docs/OPERATIONS.md, The probe breaker."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "probes" {
  for_each = local.probe_alarms

  alarm_name          = "${var.name_prefix}-inject-${each.key}"
  alarm_description   = "keybroker inject: ${each.value.description}"
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = { Function = "inject" }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# An oauth2 secret whose identity provider refused its refresh token or
# client (docs/OPERATIONS.md, "OAuth 2.0 credentials"): every injection of it
# fails `reauth_required` until its customer connects it again, so a person
# (the workspace owner) is needed from the first one.
resource "aws_cloudwatch_metric_alarm" "reauth_required" {
  alarm_name          = "${var.name_prefix}-inject-reauth-required"
  alarm_description   = "keybroker inject: an oauth2 secret needs its customer to connect it again (start_oauth2 / complete_oauth2); list_secrets shows which (oauth2.state reauth_required). See docs/OPERATIONS.md."
  namespace           = local.metrics_namespace
  metric_name         = "ReauthRequired"
  dimensions          = { Function = "inject" }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
