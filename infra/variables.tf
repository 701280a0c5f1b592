# NOTE: some of these values are substituted verbatim into JSON string
# literals by the policy templates (see policies/README.md). The validation
# blocks restrict them to character sets that need no JSON escaping; do not
# loosen them without changing the templates.

variable "region" {
  description = "AWS region the broker is deployed in (table, key, functions, log groups)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name: the table, the functions <prefix>-inject / <prefix>-admin, their roles and log groups, and the key alias alias/<prefix>-platform."
  type        = string
  default     = "keybroker"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,37}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-39 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

# --- Lambda functions -------------------------------------------------------

variable "inject_zip" {
  description = "Path of the packaged inject function (a zip holding one executable named bootstrap). null means <repo>/dist/inject.zip, as scripts/package-lambda.sh writes it."
  type        = string
  default     = null
}

variable "admin_zip" {
  description = "Path of the packaged admin function. null means <repo>/dist/admin.zip."
  type        = string
  default     = null
}

variable "architectures" {
  description = "Instruction set of both functions: [\"arm64\"] (Graviton, cheaper per GB-second) or [\"x86_64\"]. Must match the target the zips were built for (scripts/package-lambda.sh prints it)."
  type        = list(string)
  default     = ["arm64"]
  nullable    = false

  validation {
    condition     = length(var.architectures) == 1 && contains(["arm64", "x86_64"], var.architectures[0])
    error_message = "architectures must be [\"arm64\"] or [\"x86_64\"]."
  }
}

# Sizing, from docs/BENCHMARKS.md. Peak RSS is about 12 MB, so memory is
# chosen for CPU: Lambda gives one vCPU at 1,769 MB, in proportion below
# that. An injection needs about 1.5 ms of a full core, which 128 MB would
# stretch to about 20 ms; 512 MB keeps it near 5 ms for a few cents per
# million calls, against the $3 per million of the kms:Decrypt each makes.
# admin is control plane, not on an agent's path: 128 MB.

variable "inject_memory_mb" {
  description = "Memory of the inject function, in MB (CPU scales with it)."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.inject_memory_mb >= 128 && var.inject_memory_mb <= 10240 && floor(var.inject_memory_mb) == var.inject_memory_mb
    error_message = "inject_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "inject_timeout_seconds" {
  description = "Timeout of the inject function. The upstream request itself is capped at 10 s by the code; the rest covers DynamoDB, STS and KMS. Below 12 s a slow upstream would end in a Lambda timeout instead of a typed upstream_error."
  type        = number
  default     = 15
  nullable    = false

  validation {
    condition     = var.inject_timeout_seconds >= 12 && var.inject_timeout_seconds <= 900 && floor(var.inject_timeout_seconds) == var.inject_timeout_seconds
    error_message = "inject_timeout_seconds must be a whole number between 12 and 900."
  }
}

variable "admin_memory_mb" {
  description = "Memory of the admin function, in MB."
  type        = number
  default     = 128
  nullable    = false

  validation {
    condition     = var.admin_memory_mb >= 128 && var.admin_memory_mb <= 10240 && floor(var.admin_memory_mb) == var.admin_memory_mb
    error_message = "admin_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "admin_timeout_seconds" {
  description = "Timeout of the admin function. enable_byok and verify_byok make a fresh AssumeRole plus a KMS round trip in the customer's account."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.admin_timeout_seconds >= 1 && var.admin_timeout_seconds <= 900 && floor(var.admin_timeout_seconds) == var.admin_timeout_seconds
    error_message = "admin_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "rust_log" {
  description = "RUST_LOG of both functions (tracing filter for the JSON logs on stderr; audit records on stdout are always written)."
  type        = string
  default     = "info"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_:=,.-]+$", var.rust_log))
    error_message = "rust_log must be a tracing filter such as info or info,aws_config=warn."
  }
}

variable "min_blob_version" {
  description = "KEYBROKER_MIN_BLOB_VERSION of both functions: the oldest stored blob format they open. Set 2 once every secret was rotated (docs/BLOB_FORMAT.md, \"Rollback\"); then a DynamoDB writer cannot put back an old version 1 blob, whose binding is not authenticated."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = contains([1, 2], var.min_blob_version)
    error_message = "min_blob_version must be 1 or 2."
  }
}

variable "default_limits" {
  description = "KEYBROKER_DEFAULT_LIMITS of both functions: the injection limits of a workspace with none of its own (set_limits). \"off\", or \"window=SECONDS,workspace=N|none,agent=N|none\". The default caps each workspace at 6,000 injections a minute, well under the customer's shared KMS request quota (docs/OPERATIONS.md, \"Injection limits\")."
  type        = string
  default     = "window=60,workspace=6000"
  nullable    = false

  validation {
    condition     = var.default_limits == "off" || can(regex("^window=[0-9]+(,(workspace|agent)=([0-9]+|none))*$", var.default_limits))
    error_message = "default_limits must be \"off\" or like \"window=60,workspace=6000,agent=600\" (the functions refuse to start on anything else)."
  }
}

variable "probe_budget" {
  description = "KEYBROKER_PROBE_BUDGET of both functions: probe events (a request carrying credential material, or an upstream echoing the credential) a secret may see before its breaker quarantines it, unless the secret has its own (set_probe_budget). 1 to 1000; each event is at most a character of the credential learned (docs/THREAT_MODEL.md, \"The probe breaker\")."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.probe_budget >= 1 && var.probe_budget <= 1000 && floor(var.probe_budget) == var.probe_budget
    error_message = "probe_budget must be a whole number from 1 to 1000 (the functions refuse to start on anything else)."
  }
}

variable "aws_timeouts" {
  description = "KEYBROKER_AWS_TIMEOUTS of both functions: the bound of one attempt of an AWS call and of the whole call with the SDK's retries, in milliseconds; a call past it fails unavailable. Each 1 to 60000, the attempt at most the operation, and the operation under each function's timeout, so that a silent endpoint is reported as unavailable rather than cut off as Sandbox.Timedout (docs/OPERATIONS.md, \"Deployment\")."
  type = object({
    attempt_ms   = number
    operation_ms = number
  })
  default  = { attempt_ms = 3000, operation_ms = 8000 }
  nullable = false

  validation {
    condition = (
      floor(var.aws_timeouts.attempt_ms) == var.aws_timeouts.attempt_ms
      && floor(var.aws_timeouts.operation_ms) == var.aws_timeouts.operation_ms
      && var.aws_timeouts.attempt_ms >= 1
      && var.aws_timeouts.attempt_ms <= var.aws_timeouts.operation_ms
      && var.aws_timeouts.operation_ms <= 60000
    )
    error_message = "aws_timeouts must be whole milliseconds, 1 <= attempt_ms <= operation_ms <= 60000 (the functions refuse to start on anything else)."
  }
}

variable "admin_reserved_concurrency" {
  description = "Reserved concurrency of the admin function, which also runs the scheduled status check: executions no other function (inject above all) can take, so the emergency stop (set-limits --workspace-limit 0) and the check still run when agents saturate the region (docs/OPERATIONS.md, \"Concurrency\"). At least 1; it is also admin's cap."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.admin_reserved_concurrency >= 1 && var.admin_reserved_concurrency <= 1000 && floor(var.admin_reserved_concurrency) == var.admin_reserved_concurrency
    error_message = "admin_reserved_concurrency must be a whole number from 1 to 1000."
  }
}

variable "inject_reserved_concurrency" {
  description = "Reserved concurrency of the inject function: its cap, so agents cannot take the account's whole regional Lambda quota (1,000 by default) from admin and from other functions. Lambda keeps 100 unreserved executions per account: inject + admin reservations must leave them (raise the account quota first for more). Between tenants, KEYBROKER_IN_FLIGHT_LIMIT (in_flight_limit) shares this cap."
  type        = number
  default     = 800
  nullable    = false

  validation {
    condition     = var.inject_reserved_concurrency >= 1 && floor(var.inject_reserved_concurrency) == var.inject_reserved_concurrency
    error_message = "inject_reserved_concurrency must be a whole number of at least 1."
  }
}

variable "in_flight_limit" {
  description = "KEYBROKER_IN_FLIGHT_LIMIT of the inject function: injections one workspace may have in flight at once (admitted, upstream call not ended), so one tenant's slow upstream cannot hold all of inject_reserved_concurrency. 1 to 100000; refusals are throttled with limit in_flight (docs/OPERATIONS.md, \"Concurrency\")."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.in_flight_limit >= 1 && var.in_flight_limit <= 100000 && floor(var.in_flight_limit) == var.in_flight_limit
    error_message = "in_flight_limit must be a whole number from 1 to 100000 (the function refuses to start on anything else)."
  }
}

variable "counter_shards" {
  description = "KEYBROKER_COUNTER_SHARDS of the inject function: counter items per workspace and window, for workspaces past ~1,000 injections a second (one item's write rate). 1 to 64; 1 is the unsharded format. Error bound of the count: docs/OPERATIONS.md, \"Injection limits\"."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.counter_shards >= 1 && var.counter_shards <= 64 && floor(var.counter_shards) == var.counter_shards
    error_message = "counter_shards must be a whole number from 1 to 64 (the function refuses to start on anything else)."
  }
}

variable "log_retention_days" {
  description = "Retention of both functions' CloudWatch log groups. The inject log group holds the audit records (which agent used which secret where), so keep it as long as your audit policy requires. 0 keeps logs forever."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

# --- IAM --------------------------------------------------------------------

variable "execution_role_path" {
  description = "IAM path of the two execution roles. Customers put these role ARNs (path included) in their trust policies, so changing it later means every customer must re-apply."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = length(var.execution_role_path) <= 512 && can(regex("^/([A-Za-z0-9_+=,.@-]+/)*$", var.execution_role_path))
    error_message = "execution_role_path must start and end with '/', e.g. \"/\" or \"/services/\"."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the two execution roles (for organisations that require one). It must allow every action in policies/*-role-policy.json.tftpl."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "customer_role_path" {
  description = "IAM path under which customers create the role the broker assumes (the customer module's role_path, default /keybroker/). With customer_role_arns empty, both functions may call sts:AssumeRole on arn:<partition>:iam::*:role<customer_role_path>* and nothing else; each role's trust policy and external id still decide."
  type        = string
  default     = "/keybroker/"
  nullable    = false

  validation {
    condition     = length(var.customer_role_path) <= 512 && can(regex("^/([A-Za-z0-9_+=,.@-]+/)+$", var.customer_role_path))
    error_message = "customer_role_path must be a non-root IAM path such as /keybroker/ (a bare \"/\" would allow assuming any role)."
  }
}

variable "customer_role_arns" {
  description = "Explicit list of customer role ARNs the broker may assume. When non-empty it replaces the customer_role_path pattern, so every onboarded customer's role must be added here (and applied) before enable_byok."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for arn in var.customer_role_arns :
      can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$", arn))
    ])
    error_message = "Each customer_role_arns entry must be an IAM role ARN such as arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess (no wildcards)."
  }
}

# --- Storage and the platform key -------------------------------------------

variable "table_deletion_protection" {
  description = "DynamoDB deletion protection on the broker table. Turn it off (and apply) only to destroy the deployment on purpose."
  type        = bool
  default     = true
  nullable    = false
}

variable "platform_key_generations" {
  description = "Names of the platform KMS keys to keep, oldest first. The LAST one is active: new and rotated non-BYOK secrets are encrypted under it. The others are retired: the broker may still decrypt with them (each secret records its key) but never generates data keys under them. To move to a new key, append a name, apply, rotate every platform secret, then drop the old name (see docs/OPERATIONS.md)."
  type        = list(string)
  default     = ["v1"]
  nullable    = false

  validation {
    condition     = length(var.platform_key_generations) >= 1 && length(distinct(var.platform_key_generations)) == length(var.platform_key_generations) && alltrue([for g in var.platform_key_generations : can(regex("^[a-z0-9][a-z0-9-]{0,19}$", g))])
    error_message = "platform_key_generations must be a non-empty list of distinct names of 1-20 characters [a-z0-9-], such as [\"v1\"] or [\"v1\", \"v2\"]."
  }
}

variable "platform_key_deletion_window_days" {
  description = "Waiting period (7-30 days) before the platform key is deleted after a destroy. Deleting it makes every non-BYOK secret permanently unreadable."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.platform_key_deletion_window_days >= 7 && var.platform_key_deletion_window_days <= 30 && floor(var.platform_key_deletion_window_days) == var.platform_key_deletion_window_days
    error_message = "platform_key_deletion_window_days must be a whole number between 7 and 30."
  }
}

variable "platform_key_rotation_days" {
  description = "Automatic rotation period of the platform key's material (90-2560 days). KMS keeps every previous version, so rotation never breaks stored secrets."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = var.platform_key_rotation_days >= 90 && var.platform_key_rotation_days <= 2560 && floor(var.platform_key_rotation_days) == var.platform_key_rotation_days
    error_message = "platform_key_rotation_days must be a whole number between 90 and 2560."
  }
}

variable "tags" {
  description = "Tags applied to every resource (on top of Service = keybroker)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when a keybroker alarm (monitoring.tf: revocations, errors, probes, echoes, quarantined) changes state; null: alarms without notification."
  type        = string
  default     = null
}

variable "alarm_period_seconds" {
  description = "Period of the keybroker alarms, in seconds (a multiple of 60)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60, at least 60."
  }
}

variable "error_alarm_threshold" {
  description = "The errors alarm fires when more than this many calls fail (Errors metric) in one period. 0: any failure."
  type        = number
  default     = 0
  nullable    = false
}

variable "status_check_interval" {
  description = "How often the scheduled status check runs (schedule.tf), as the value of an EventBridge rate expression, e.g. \"15 minutes\", \"1 hour\" or \"1 minute\"; null: no schedule. EventBridge takes a positive whole number and the singular unit for 1 only (\"1 minute\", \"5 minutes\"; \"1 minutes\" and \"5 minute\" are refused at apply)."
  type        = string
  default     = "15 minutes"

  validation {
    # As EventBridge validates rate(value unit): value a positive integer
    # (no sign, no leading zero), unit singular exactly when value is 1.
    condition     = var.status_check_interval == null || can(regex("^(1 (minute|hour|day)|[1-9][0-9]* (minutes|hours|days))$", coalesce(var.status_check_interval, "-"))) && !can(regex("^1 (minutes|hours|days)$", coalesce(var.status_check_interval, "-")))
    error_message = "status_check_interval must be an EventBridge rate value: \"1 minute\", \"1 hour\", \"1 day\", or N minutes/hours/days for N >= 2 (e.g. \"15 minutes\"), or null."
  }
}

variable "status_check_workspaces_per_run" {
  description = "Workspaces the scheduled status check covers per run (1 to 200); it resumes where the previous run stopped."
  type        = number
  default     = 25
  nullable    = false

  validation {
    condition     = var.status_check_workspaces_per_run >= 1 && var.status_check_workspaces_per_run <= 200
    error_message = "status_check_workspaces_per_run must be 1 to 200."
  }
}

# --- Audit export (audit_export.tf) --------------------------------------------

variable "audit_export_enabled" {
  description = "Deliver the audit records (inject, admin and the per-KMS-call keybroker.audit.kms.v1) to an S3 bucket partitioned by workspace, for BYOK customers to reconcile against their CloudTrail (audit_export.tf, docs/OPERATIONS.md \"Audit export\")."
  type        = bool
  default     = false
  nullable    = false
}

variable "audit_export_readers" {
  description = "Per workspace id, the principals (a customer's account root or role ARNs) that may read s3://<export bucket>/workspace=<id>/ and nothing else."
  type        = map(list(string))
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for ws in keys(var.audit_export_readers) : can(regex("^[a-z0-9][a-z0-9-]{2,62}$", ws))])
    error_message = "audit_export_readers keys must be workspace ids (^[a-z0-9][a-z0-9-]{2,62}$)."
  }

  validation {
    condition = alltrue(flatten([for readers in values(var.audit_export_readers) : [
      for arn in readers : can(regex("^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|role/.+|user/.+)$", arn))
    ]]))
    error_message = "audit_export_readers values must be IAM root, role or user ARNs."
  }
}

variable "audit_export_retention_days" {
  description = "Days the export bucket keeps audit objects."
  type        = number
  default     = 400
  nullable    = false

  validation {
    condition     = var.audit_export_retention_days >= 1 && floor(var.audit_export_retention_days) == var.audit_export_retention_days
    error_message = "audit_export_retention_days must be a whole number of days, at least 1."
  }
}

variable "audit_export_buffer_seconds" {
  description = "Firehose buffer interval (60 to 900 s): the most a record waits before it reaches the export bucket."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.audit_export_buffer_seconds >= 60 && var.audit_export_buffer_seconds <= 900
    error_message = "audit_export_buffer_seconds must be 60 to 900."
  }
}
