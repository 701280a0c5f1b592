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
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["Enable IAM User Permissions", "KeyAdministrators", "KeybrokerUseKey"]
    error_message = "unexpected key policy statements"
  }

  assert {
    condition = jsondecode(aws_kms_key.this.policy).Statement[2] == {
      Sid       = "KeybrokerUseKey"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess" }
      Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource  = "*"
      Condition = {
        StringEquals                = { "kms:EncryptionContext:workspace" = "acme-prod" }
        "ForAllValues:StringEquals" = { "kms:EncryptionContextKeys" = ["workspace", "secret"] }
        Null                        = { "kms:EncryptionContextKeys" = "false" }
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
      Condition = { StringEquals = { "sts:ExternalId" = "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e" } }
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
    enable_broker_access = false
    key_alias            = "alias/keybroker-acme-prod"
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["Enable IAM User Permissions", "KeyAdministrators"]
    error_message = "broker statement must be absent when enable_broker_access = false"
  }

  assert {
    condition     = output.key_alias == "alias/keybroker-acme-prod"
    error_message = "alias expected"
  }
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
