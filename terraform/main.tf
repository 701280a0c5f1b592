# Customer-side resources for keybroker BYOK ("bring your own key").
#
# Creates, in the CUSTOMER's AWS account:
#   * an IAM role the keybroker service assumes (sts:AssumeRole + ExternalId);
#   * a symmetric KMS key whose key policy lets that role call exactly
#     kms:GenerateDataKey and kms:Decrypt, and only with an encryption context
#     of {"workspace": <workspace_id>, "secret": <name>}; standing explicit
#     Denies keep the role inside that box whatever else grants it (identity
#     policies, grants), and broker_access = "revoked" denies it everything;
#   * a standing Deny of kms:* for every principal of the broker's own
#     account(s) (aws:PrincipalAccount), in both states of the switch: the
#     broker only ever acts through the role above, so no grant or key-policy
#     Allow naming one of its principals (its roles, its root) can reach the key.
#
# Both policy documents live in ./policies/*.json.tftpl and are rendered here
# with templatefile() using plain ${name} placeholders only. The keybroker test
# suite renders the very same files with a trivial substitution and applies them
# to an emulator, so the policy that is tested is the policy that is shipped.
# Keep the placeholder contract in ./policies/README.md in sync with this file.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id       = data.aws_caller_identity.current.account_id
  partition        = data.aws_partition.current.partition
  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"

  # With no explicit key admins, the account root is the administrator (the
  # statement then duplicates "Enable IAM User Permissions", which is harmless;
  # KMS rejects a statement with an empty principal list).
  key_admin_arns = length(var.key_admin_arns) > 0 ? var.key_admin_arns : [local.account_root_arn]

  # The broker's own account(s), from its principals' ARNs: every principal
  # there is denied the key outright (KeybrokerDenyPlatformAccount). The
  # broker reaches the key only as the role below, which is in this account.
  broker_account_ids = distinct([for arn in var.broker_principal_arns : split(":", arn)[4]])

  trust_policy = templatefile("${path.module}/policies/trust-policy.json.tftpl", {
    broker_principal_arns_json = jsonencode(var.broker_principal_arns)
    external_id                = var.external_id
  })

  # The switch. `enable_broker_access = false` (deprecated, one release) still
  # revokes: whichever input says "revoked" wins.
  broker_access = (var.broker_access == "revoked" || var.enable_broker_access == false) ? "revoked" : "enabled"

  broker_role_arn = aws_iam_role.broker.arn

  # The switch statement is a standalone JSON object spliced into the key
  # policy's Statement array with a leading comma: the KeybrokerUseKey Allow
  # when enabled, the KeybrokerRevoked explicit Deny when revoked. An explicit
  # Deny beats identity policies, grants and the key policy's own Allows;
  # merely removing the Allow does not (see README "Revoking access").
  broker_statement = local.broker_access == "enabled" ? ",${templatefile("${path.module}/policies/broker-key-statement.json.tftpl", {
    broker_role_arn = local.broker_role_arn
    workspace_id    = var.workspace_id
    })}" : ",${templatefile("${path.module}/policies/broker-revoke-statement.json.tftpl", {
    broker_role_arn = local.broker_role_arn
  })}"

  # Optional: deny every role session issued before this time (kills live
  # sessions without touching the role, which this module manages exclusively).
  session_cutoff_statement = var.revoke_sessions_issued_before == null ? "" : ",${templatefile("${path.module}/policies/broker-session-cutoff-statement.json.tftpl", {
    broker_role_arn        = local.broker_role_arn
    sessions_issued_before = var.revoke_sessions_issued_before
  })}"

  key_policy = templatefile("${path.module}/policies/key-policy.json.tftpl", {
    partition                = local.partition
    account_id               = local.account_id
    key_admins_json          = jsonencode(local.key_admin_arns)
    broker_account_ids_json  = jsonencode(local.broker_account_ids)
    broker_role_arn          = local.broker_role_arn
    workspace_id             = var.workspace_id
    broker_statement         = local.broker_statement
    session_cutoff_statement = local.session_cutoff_statement
  })

  key_description = coalesce(var.key_description, "keybroker BYOK key for workspace ${var.workspace_id}")
}

resource "aws_iam_role" "broker" {
  name                 = var.role_name
  path                 = var.role_path
  description          = "Assumed by the keybroker service (workspace ${var.workspace_id}) to use KMS key for BYOK."
  max_session_duration = 3600
  permissions_boundary = var.role_permissions_boundary_arn

  # jsondecode/jsonencode round trip: fails at plan time if a template ever
  # renders invalid JSON, and normalises whitespace for stable diffs.
  assume_role_policy = jsonencode(jsondecode(local.trust_policy))

  # Deliberately no inline or managed policies: the KMS key policy grants this
  # role access directly, so the key policy is the single place to revoke.
  # aws_iam_role_policies_exclusive / _attachments_exclusive below keep it so.

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.expected_account_id == null || var.expected_account_id == local.account_id
      error_message = "The AWS provider is authenticated to account ${local.account_id}, but expected_account_id is ${coalesce(var.expected_account_id, "-")}."
    }
  }
}

# Exclusive management with empty sets: any inline or attached policy someone
# adds to the role outside Terraform shows up as drift in the next plan, and
# apply removes it. An identity policy allowing kms:* on this role would, with
# the key policy's root delegation, let the broker decrypt after the
# KeybrokerUseKey statement is removed.
resource "aws_iam_role_policies_exclusive" "broker" {
  role_name    = aws_iam_role.broker.name
  policy_names = []
}

resource "aws_iam_role_policy_attachments_exclusive" "broker" {
  role_name   = aws_iam_role.broker.name
  policy_arns = []
}

resource "aws_kms_key" "this" {
  description              = local.key_description
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  deletion_window_in_days  = var.deletion_window_in_days
  is_enabled               = var.key_enabled

  policy = jsonencode(jsondecode(local.key_policy))

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !contains(var.key_admin_arns, aws_iam_role.broker.arn)
      error_message = "The keybroker role must not be listed in key_admin_arns."
    }

    # The platform-account Deny would lock this account (the role and your
    # admins) out of its own key if the broker lived here.
    precondition {
      condition     = !contains(local.broker_account_ids, local.account_id)
      error_message = "broker_principal_arns are in this account (${local.account_id}): apply the module in the customer's account, not the broker's."
    }

    precondition {
      condition     = length(setintersection(local.broker_account_ids, [for arn in var.key_admin_arns : split(":", arn)[4]])) == 0
      error_message = "key_admin_arns must not name principals of the broker's account: KeybrokerDenyPlatformAccount denies them the key."
    }
  }
}

resource "aws_kms_alias" "this" {
  count = var.key_alias == null ? 0 : 1

  name          = var.key_alias
  target_key_id = aws_kms_key.this.key_id
}
