# NOTE: several of these values are substituted verbatim into JSON string
# literals by the policy templates (see policies/README.md). The validation
# blocks below restrict them to character sets that need no JSON escaping;
# do not loosen them without changing the templates.

variable "workspace_id" {
  description = "keybroker workspace id this key/role serves. The key policy only allows the broker to use the key with encryption context workspace = this value."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,62}$", var.workspace_id))
    error_message = "workspace_id must match ^[a-z0-9][a-z0-9-]{2,62}$ (3-63 chars, lowercase letters, digits and '-', not starting with '-')."
  }
}

variable "broker_principal_arns" {
  description = "ARNs of the keybroker service principals (in the broker's AWS account) allowed to assume the role: keybroker's inject and admin execution roles (its infra output broker_principal_arns). Provided by keybroker. Their account(s) get a standing Deny on the key (KeybrokerDenyPlatformAccount), so they must not be this account."
  type        = list(string)

  validation {
    condition     = length(var.broker_principal_arns) >= 1 && length(var.broker_principal_arns) <= 10
    error_message = "broker_principal_arns must list 1 to 10 ARNs."
  }

  validation {
    condition     = alltrue([for a in var.broker_principal_arns : can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$", a))])
    error_message = "each broker_principal_arns entry must be an IAM role or user ARN such as arn:aws:iam::111111111111:role/keybroker-inject."
  }
}

variable "external_id" {
  description = "sts:ExternalId that keybroker generated for this workspace (random, unique per customer; not a secret). Provided by keybroker."
  type        = string

  validation {
    condition     = length(var.external_id) >= 32 && length(var.external_id) <= 1224 && can(regex("^[A-Za-z0-9_+=,.@:/-]+$", var.external_id))
    error_message = "external_id must be 32-1224 characters from [A-Za-z0-9_+=,.@:/-]."
  }
}

variable "broker_access" {
  description = "\"enabled\": the key policy allows keybroker GenerateDataKey/Decrypt in this workspace's context. \"revoked\": the key policy instead carries an explicit Deny of kms:* for the role, which beats identity policies, grants and every Allow (see README, Revoking access)."
  type        = string
  default     = "enabled"
  nullable    = false

  validation {
    condition     = contains(["enabled", "revoked"], var.broker_access)
    error_message = "broker_access must be \"enabled\" or \"revoked\"."
  }
}

variable "enable_broker_access" {
  description = "DEPRECATED (removed in the next release): use broker_access. false means broker_access = \"revoked\" (revocation wins whatever broker_access says); true or null defer to broker_access."
  type        = bool
  default     = null
}

variable "revoke_sessions_issued_before" {
  description = "Optional RFC 3339 UTC time (e.g. \"2026-11-25T22:00:00Z\"). When set, the key policy denies kms:* to every session of the role issued before it: live sessions die on their next call, new ones work. null adds nothing."
  type        = string
  default     = null

  validation {
    condition     = var.revoke_sessions_issued_before == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", coalesce(var.revoke_sessions_issued_before, "-")))
    error_message = "revoke_sessions_issued_before must be an RFC 3339 UTC time like 2026-11-25T22:00:00Z."
  }
}

variable "key_enabled" {
  description = "Whether the KMS key is enabled. Setting false disables the key for everyone (including keybroker) without deleting it; set back to true to re-enable."
  type        = bool
  default     = true
  nullable    = false
}

variable "key_admin_arns" {
  description = "IAM principal ARNs (in the customer's organisation) granted full control (kms:*) of the key. The account root always has full control via the \"Enable IAM User Permissions\" statement; when this list is empty the root is used as the administrator."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for arn in var.key_admin_arns :
      can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(role|user)/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64})$", arn))
    ])
    error_message = "Each key_admin_arns entry must be an IAM root, role or user ARN (arn:aws:iam::123456789012:root, ...:role/Name, ...:user/Name)."
  }
}

variable "role_name" {
  description = "Name of the IAM role keybroker assumes."
  type        = string
  default     = "KeybrokerAccess"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_+=,.@-]{1,64}$", var.role_name))
    error_message = "role_name must be 1-64 characters from [A-Za-z0-9_+=,.@-]."
  }
}

variable "role_path" {
  description = "IAM path of the role."
  type        = string
  default     = "/keybroker/"
  nullable    = false

  validation {
    condition     = length(var.role_path) <= 512 && can(regex("^/([A-Za-z0-9_+=,.@-]+/)*$", var.role_path))
    error_message = "role_path must start and end with '/', e.g. \"/\" or \"/keybroker/\", using [A-Za-z0-9_+=,.@-] between slashes."
  }
}

variable "role_permissions_boundary_arn" {
  description = "Optional ARN of a managed policy to set as the role's permissions boundary (for organisations that require one). The boundary MUST allow kms:Decrypt and kms:GenerateDataKey on this key: an implicit deny in a boundary limits what the key policy grants to the role's ARN, so a boundary without them makes KeybrokerUseKey ineffective (BYOK verify then fails at GenerateDataKey). A boundary does not replace the key policy's explicit Denies."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary_arn))
    error_message = "role_permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "key_alias" {
  description = "Optional KMS alias for the key, e.g. \"alias/keybroker-acme-prod\". null creates no alias."
  type        = string
  default     = null

  validation {
    condition     = var.key_alias == null || (can(regex("^alias/[A-Za-z0-9/_-]{1,250}$", var.key_alias)) && !startswith(coalesce(var.key_alias, "-"), "alias/aws/"))
    error_message = "key_alias must look like alias/<name> ([A-Za-z0-9/_-], at most 256 chars) and must not start with alias/aws/."
  }
}

variable "key_description" {
  description = "Optional description of the KMS key. Defaults to \"keybroker BYOK key for workspace <workspace_id>\"."
  type        = string
  default     = null

  validation {
    condition     = var.key_description == null || length(coalesce(var.key_description, "-")) <= 8192
    error_message = "key_description must be at most 8192 characters."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period (7-30 days) before the key is deleted after the module is destroyed. Deleting the key makes every secret stored under it permanently unreadable."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number between 7 and 30."
  }
}

variable "expected_account_id" {
  description = "Optional 12-digit AWS account id this module must be applied in. When set, plan fails if the provider is authenticated to a different account."
  type        = string
  default     = null

  validation {
    condition     = var.expected_account_id == null || can(regex("^[0-9]{12}$", var.expected_account_id))
    error_message = "expected_account_id must be a 12-digit AWS account id."
  }
}

variable "tags" {
  description = "Tags applied to the IAM role and the KMS key."
  type        = map(string)
  default     = {}
  nullable    = false
}
