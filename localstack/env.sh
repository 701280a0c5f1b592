#!/usr/bin/env bash
# Prints the sourceable environment for talking to the local AWS stack:
#   eval "$(localstack/env.sh)"
# The single source of truth for these values (start.sh prints this too).
# KMS, STS and IAM go through the IAM front, which enforces key and trust
# policies before forwarding to LocalStack; DynamoDB goes straight to moto.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cat <<ENV
export AWS_ENDPOINT_URL=http://$STACK_HOST:$FRONT_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://$STACK_HOST:$MOTO_PORT
export AWS_REGION=$STACK_REGION
export AWS_DEFAULT_REGION=$STACK_REGION
export AWS_ACCESS_KEY_ID=$BROKER_ACCOUNT_ID
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
ENV
