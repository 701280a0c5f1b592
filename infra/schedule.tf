# The scheduled status check (docs/OPERATIONS.md, "Keeping statuses fresh").
#
# A secret's status is otherwise written only when it is read, so after a
# customer revokes, list_secrets says "active" for every secret nobody has
# used since. This rule invokes the admin function every
# var.status_check_interval with a FIXED input:
#
#   {"op": "check_all_workspaces", "scheduled": true, "limit": N}
#
# How it knows which workspaces to check: with "scheduled", the admin
# function pages over every workspace item in the table (a Scan of keys),
# starting where the previous scheduled run stopped. It stores that cursor
# in the table itself (pk "keybroker#schedule", sk "check_workspace") and
# wraps to the start after the last workspace, so a constant input walks
# the whole table, N workspaces per run. Each workspace costs one
# kms:Decrypt per distinct (key, role) of its secrets, in the customer's
# account. Pick N and the interval so that N workspaces fit in the admin
# function's timeout, and the whole table is covered as often as you need.
#
# The rule's invocations are ordinary admin calls: each writes its
# keybroker.audit.admin.v1 record (operation check_all_workspaces).

resource "aws_cloudwatch_event_rule" "status_check" {
  count = var.status_check_interval == null ? 0 : 1

  name                = "${var.name_prefix}-status-check"
  description         = "keybroker: probe each workspace's keys and refresh secret statuses (check_all_workspaces, scheduled)."
  schedule_expression = "rate(${var.status_check_interval})"
}

resource "aws_cloudwatch_event_target" "status_check" {
  count = var.status_check_interval == null ? 0 : 1

  rule = aws_cloudwatch_event_rule.status_check[0].name
  arn  = aws_lambda_function.broker["admin"].arn
  input = jsonencode({
    op        = "check_all_workspaces"
    scheduled = true
    limit     = var.status_check_workspaces_per_run
  })
}

# EventBridge may invoke the admin function for this rule only.
resource "aws_lambda_permission" "status_check" {
  count = var.status_check_interval == null ? 0 : 1

  statement_id  = "AllowStatusCheckSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.broker["admin"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.status_check[0].arn
}
