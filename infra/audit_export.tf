# The per-workspace audit export (docs/OPERATIONS.md, "Audit export"): the
# broker's side of the evidence a BYOK customer reconciles against their own
# CloudTrail (terraform/readiness/reconcile.py).
#
# Both functions print their audit records on stdout, so they land in the
# functions' log groups: keybroker.audit.inject[.attempt].v1,
# keybroker.audit.admin.v1 and keybroker.audit.kms.v1 (one per KMS call
# made with a customer's role, with the KMS request id CloudTrail records).
# Delivery:
#
#   log group (inject, admin) --subscription filter {$.schema = "keybroker.audit.*"}-->
#   Firehose (decompress, extract the message, partition by .workspace) -->
#   S3  s3://<bucket>/workspace=<ws>/<yyyy>/<MM>/<dd>/...   (JSON lines)
#
# and each customer reads ONLY their workspace's prefix, cross-account, by
# the bucket policy below (audit_export_readers). Why not one subscription
# filter per workspace: CloudWatch Logs allows two subscription filters per
# log group, so per-workspace delivery has to split after the log group;
# Firehose's dynamic partitioning does that with no code. Records without a
# workspace (a table-wide scheduled check) go to errors/, readable by the
# platform only.
#
# Encryption is SSE-S3: readers in other accounts could not use a platform
# KMS key, and the records hold names and ids, never a secret value.

locals {
  audit_export_bucket = "${var.name_prefix}-audit-export-${local.account_id}"
}

resource "aws_s3_bucket" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket = local.audit_export_bucket
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket                  = aws_s3_bucket.audit_export[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket = aws_s3_bucket.audit_export[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket = aws_s3_bucket.audit_export[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket = aws_s3_bucket.audit_export[0].id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.audit_export_retention_days
    }
  }
}

# Each reader gets its workspace's prefix and nothing else; no other
# account reads anything; TLS only.
resource "aws_s3_bucket_policy" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  bucket = aws_s3_bucket.audit_export[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.audit_export[0].arn, "${aws_s3_bucket.audit_export[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }],
      # keys() is sorted, so each workspace keeps its statement ids.
      flatten([for i, ws in keys(var.audit_export_readers) : [
        {
          Sid       = "ReadWorkspace${i}"
          Effect    = "Allow"
          Principal = { AWS = var.audit_export_readers[ws] }
          Action    = "s3:GetObject"
          Resource  = "${aws_s3_bucket.audit_export[0].arn}/workspace=${ws}/*"
        },
        {
          Sid       = "ListWorkspace${i}"
          Effect    = "Allow"
          Principal = { AWS = var.audit_export_readers[ws] }
          Action    = "s3:ListBucket"
          Resource  = aws_s3_bucket.audit_export[0].arn
          Condition = { StringLike = { "s3:prefix" = ["workspace=${ws}/*"] } }
        },
      ]]),
    )
  })

  depends_on = [aws_s3_bucket_public_access_block.audit_export]
}

resource "aws_iam_role" "audit_firehose" {
  count = var.audit_export_enabled ? 1 : 0

  name                 = "${var.name_prefix}-audit-firehose"
  path                 = var.execution_role_path
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "audit_firehose" {
  count = var.audit_export_enabled ? 1 : 0

  name = "${var.name_prefix}-audit-firehose"
  role = aws_iam_role.audit_firehose[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteTheExport"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
      Resource = [aws_s3_bucket.audit_export[0].arn, "${aws_s3_bucket.audit_export[0].arn}/*"]
    }]
  })
}

resource "aws_kinesis_firehose_delivery_stream" "audit_export" {
  count = var.audit_export_enabled ? 1 : 0

  name        = "${var.name_prefix}-audit-export"
  destination = "extended_s3"

  extended_s3_configuration {
    role_arn   = aws_iam_role.audit_firehose[0].arn
    bucket_arn = aws_s3_bucket.audit_export[0].arn
    # Dynamic partitioning needs a buffer of at least 64 MiB; the interval
    # bounds how late a record reaches the customer.
    buffering_size      = 64
    buffering_interval  = var.audit_export_buffer_seconds
    compression_format  = "GZIP"
    prefix              = "workspace=!{partitionKeyFromQuery:workspace}/!{timestamp:yyyy/MM/dd}/"
    error_output_prefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true

      # CloudWatch Logs delivers gzipped batches of log events: unpack them
      # into one record per event, the event being our JSON line.
      processors {
        type = "Decompression"
        parameters {
          parameter_name  = "CompressionFormat"
          parameter_value = "GZIP"
        }
      }
      processors {
        type = "CloudWatchLogProcessing"
        parameters {
          parameter_name  = "DataMessageExtraction"
          parameter_value = "true"
        }
      }
      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = "{workspace: .workspace}"
        }
      }
      processors {
        type = "AppendDelimiterToRecord"
      }
    }
  }

  tags = var.tags
}

resource "aws_iam_role" "audit_logs" {
  count = var.audit_export_enabled ? 1 : 0

  name                 = "${var.name_prefix}-audit-logs"
  path                 = var.execution_role_path
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { ArnLike = { "aws:SourceArn" = [for lg in aws_cloudwatch_log_group.broker : "${lg.arn}:*"] } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "audit_logs" {
  count = var.audit_export_enabled ? 1 : 0

  name = "${var.name_prefix}-audit-logs"
  role = aws_iam_role.audit_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "DeliverToTheExport"
      Effect   = "Allow"
      Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
      Resource = aws_kinesis_firehose_delivery_stream.audit_export[0].arn
    }]
  })
}

# One per function's log group (CloudWatch Logs allows two per group; this
# uses one). Only the audit records: the JSON logs on stderr stay behind.
resource "aws_cloudwatch_log_subscription_filter" "audit_export" {
  for_each = var.audit_export_enabled ? local.functions : {}

  name            = "${var.name_prefix}-audit-export"
  log_group_name  = aws_cloudwatch_log_group.broker[each.key].name
  filter_pattern  = "{ $.schema = \"keybroker.audit.*\" }"
  destination_arn = aws_kinesis_firehose_delivery_stream.audit_export[0].arn
  role_arn        = aws_iam_role.audit_logs[0].arn

  depends_on = [aws_iam_role_policy.audit_logs]
}
