provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Service = "keybroker" }, var.tags)
  }
}
