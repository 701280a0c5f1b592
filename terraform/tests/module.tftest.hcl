# Offline tests for the module using Terraform's mock provider (Terraform >= 1.7).
# They need the hashicorp/aws provider *schema*, i.e. `terraform init` must be
# able to find the provider (e.g. `terraform init -plugin-dir=<mirror>`); no AWS
# credentials or network calls are used. check.sh runs them when
# KEYBROKER_TF_PLUGIN_DIR points at a local provider mirror.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "222222222222"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess"
    }
  }
}

variables {
  workspace_id          = "acme-prod"
  broker_principal_arns = ["arn:aws:iam::111111111111:role/keybroker-inject", "arn:aws:iam::111111111111:role/keybroker-admin"]
  external_id           = "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e"
  key_admin_arns        = ["arn:aws:iam::222222222222:role/SecurityAdmin"]
}

run "broker_access_enabled" {
  command = apply

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30 && aws_kms_key.this.customer_master_key_spec == "SYMMETRIC_DEFAULT"
    error_message = "key must be symmetric, rotated, 30-day deletion window by default"
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["Enable IAM User Permissions", "KeyAdministrators", "KeybrokerDenyAllButGenerateDataKeyAndDecrypt", "KeybrokerDenyOtherWorkspaces", "KeybrokerDenyMissingSecretContext", "KeybrokerDenyExtraContextKeys", "KeybrokerDenyPlatformAccount", "KeybrokerUseKey"]
    error_message = "unexpected key policy statements"
  }

  assert {
    condition = alltrue([for s in slice(jsondecode(aws_kms_key.this.policy).Statement, 2, 6) :
      s.Effect == "Deny" && s.Principal == { AWS = "*" } && s.Condition.ArnEquals == { "aws:PrincipalArn" = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess" }
    ])
    error_message = "the standing Denies must be explicit Denies for the broker role (aws:PrincipalArn)"
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[2].NotAction == ["kms:GenerateDataKey", "kms:Decrypt"]
    error_message = "every action but GenerateDataKey/Decrypt (CreateGrant included) must be denied to the broker role"
  }

  assert {
    condition = jsondecode(aws_kms_key.this.policy).Statement[6] == {
      Sid       = "KeybrokerDenyPlatformAccount"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "kms:*"
      Resource  = "*"
      Condition = { StringEquals = { "aws:PrincipalAccount" = ["111111111111"] } }
    }
    error_message = "every principal of the broker's account must be denied the key (grants and Allows naming them included)"
  }

  assert {
    condition     = length(aws_iam_role_policies_exclusive.broker.policy_names) == 0 && length(aws_iam_role_policy_attachments_exclusive.broker.policy_arns) == 0
    error_message = "the role's policies must be managed exclusively, as empty sets"
  }

  assert {
    condition     = output.broker_access == "enabled" && output.broker_access_enabled
    error_message = "switch output"
  }

  assert {
    condition = jsondecode(aws_kms_key.this.policy).Statement[7] == {
      Sid       = "KeybrokerUseKey"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess" }
      Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource  = "*"
      Condition = {
        StringEquals                = { "kms:EncryptionContext:workspace" = "acme-prod" }
        "ForAllValues:StringEquals" = { "kms:EncryptionContextKeys" = ["workspace", "secret"] }
        Null                        = { "kms:EncryptionContextKeys" = "false", "kms:EncryptionContext:secret" = "false" }
      }
    }
    error_message = "KeybrokerUseKey statement is not the expected minimal grant"
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[0].Principal.AWS == "arn:aws:iam::222222222222:root"
    error_message = "account root statement missing"
  }

  assert {
    condition = jsondecode(aws_iam_role.broker.assume_role_policy).Statement == [{
      Sid       = "KeybrokerAssumeRole"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::111111111111:role/keybroker-inject", "arn:aws:iam::111111111111:role/keybroker-admin"] }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e" }, StringLike = { "sts:SourceIdentity" = "keybroker-*" } }
      }, {
      Sid       = "KeybrokerSetSourceIdentity"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::111111111111:role/keybroker-inject", "arn:aws:iam::111111111111:role/keybroker-admin"] }
      Action    = "sts:SetSourceIdentity"
      Condition = { StringLike = { "sts:SourceIdentity" = "keybroker-*" } }
    }]
    error_message = "unexpected trust policy"
  }

  assert {
    condition     = aws_iam_role.broker.max_session_duration == 3600 && aws_iam_role.broker.name == "KeybrokerAccess" && aws_iam_role.broker.path == "/keybroker/"
    error_message = "unexpected role settings"
  }

  assert {
    condition     = output.key_alias == null && length(aws_kms_alias.this) == 0
    error_message = "no alias expected by default"
  }
}

run "broker_access_revoked" {
  command = apply

  variables {
    broker_access = "revoked"
    key_alias     = "alias/keybroker-acme-prod"
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["Enable IAM User Permissions", "KeyAdministrators", "KeybrokerDenyAllButGenerateDataKeyAndDecrypt", "KeybrokerDenyOtherWorkspaces", "KeybrokerDenyMissingSecretContext", "KeybrokerDenyExtraContextKeys", "KeybrokerDenyPlatformAccount", "KeybrokerRevoked"]
    error_message = "revoked: the Allow is replaced by the explicit Deny"
  }

  assert {
    condition = jsondecode(aws_kms_key.this.policy).Statement[7] == {
      Sid       = "KeybrokerRevoked"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "kms:*"
      Resource  = "*"
      Condition = { ArnEquals = { "aws:PrincipalArn" = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess" } }
    }
    error_message = "KeybrokerRevoked must deny kms:* to the broker role"
  }

  assert {
    condition     = output.key_alias == "alias/keybroker-acme-prod" && output.broker_access == "revoked" && !output.broker_access_enabled
    error_message = "alias and switch outputs"
  }
}

run "deprecated_enable_broker_access_false_still_revokes" {
  command = apply

  variables {
    enable_broker_access = false
    broker_access        = "enabled"
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[7].Sid == "KeybrokerRevoked"
    error_message = "enable_broker_access = false must revoke whatever broker_access says"
  }
}

run "session_cutoff" {
  command = apply

  variables {
    revoke_sessions_issued_before = "2026-11-25T22:00:00Z"
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[8].Condition.DateLessThan == { "aws:TokenIssueTime" = "2026-11-25T22:00:00Z" } && jsondecode(aws_kms_key.this.policy).Statement[8].Effect == "Deny"
    error_message = "the session cut-off must deny older sessions"
  }
}

run "rejects_unknown_switch_value" {
  command = plan

  variables {
    broker_access = "off"
  }

  expect_failures = [var.broker_access]
}

run "rejects_bad_cutoff_time" {
  command = plan

  variables {
    revoke_sessions_issued_before = "yesterday"
  }

  expect_failures = [var.revoke_sessions_issued_before]
}

run "root_is_admin_when_no_admins_given" {
  command = plan

  variables {
    key_admin_arns = []
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[1].Principal.AWS == ["arn:aws:iam::222222222222:root"]
    error_message = "empty key_admin_arns must fall back to the account root"
  }
}

run "rejects_short_external_id" {
  command = plan

  variables {
    external_id = "too-short"
  }

  expect_failures = [var.external_id]
}

run "rejects_bad_workspace_id" {
  command = plan

  variables {
    workspace_id = "Acme_Prod"
  }

  expect_failures = [var.workspace_id]
}

run "rejects_bad_broker_principal" {
  command = plan

  variables {
    broker_principal_arns = ["arn:aws:iam::111111111111:root"]
  }

  expect_failures = [var.broker_principal_arns]
}

run "rejects_wrong_account" {
  command = plan

  variables {
    expected_account_id = "333333333333"
  }

  expect_failures = [aws_iam_role.broker]
}

run "revoked_keeps_the_platform_account_deny" {
  command = apply

  variables {
    broker_access = "revoked"
  }

  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[6].Sid == "KeybrokerDenyPlatformAccount" && jsondecode(aws_kms_key.this.policy).Statement[6].Condition.StringEquals["aws:PrincipalAccount"] == ["111111111111"]
    error_message = "the platform-account Deny stands in both states of the switch"
  }
}

run "rejects_broker_principals_in_this_account" {
  command = plan

  variables {
    broker_principal_arns = ["arn:aws:iam::222222222222:role/keybroker-inject"]
  }

  expect_failures = [aws_kms_key.this]
}

run "rejects_key_admins_in_the_broker_account" {
  command = plan

  variables {
    key_admin_arns = ["arn:aws:iam::111111111111:role/Support"]
  }

  expect_failures = [aws_kms_key.this]
}
