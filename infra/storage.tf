# One table, one partition per workspace (see broker-core/src/store.rs):
#   pk = "ws#<workspace>"  sk = "workspace"       settings, external id, policy
#   pk = "ws#<workspace>"  sk = "secret#<name>"   blob + metadata
#   pk = "ws#<workspace>"  sk = "limits"          injection limits (set_limits)
#   pk = "ws#<workspace>"  sk = "rate#<s>#<i>#…"  injection counters, one per window
# The code uses the primary key only: no index, no stream. TTL on
# `expires_at` deletes the counters of past windows (only they carry it).
resource "aws_dynamodb_table" "broker" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = var.table_deletion_protection

  # Server-side encryption: the default AWS-owned key, on purpose (no
  # server_side_encryption block). Credentials never reach the table in clear:
  # each is envelope-encrypted by the broker under the workspace's key
  # (platform or the customer's) before PutItem. Encrypting the table with the
  # platform key as well would (1) make every caller of the table, inject
  # included, need kms:Decrypt/GenerateDataKey on that key via DynamoDB,
  # widening the exact action sets tests/tests/policies.rs pins down, (2) tie
  # every workspace's availability, BYOK ones included, to the platform key's
  # state, and (3) add KMS calls and cost, for no gain in what an attacker
  # with table read access learns (names, ARNs, external ids, policies).
}
