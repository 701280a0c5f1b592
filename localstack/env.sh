#!/usr/bin/env bash
# Prints the sourceable environment for talking to the local AWS stack:
#   eval "$(localstack/env.sh)"
# The single source of truth for these values (start.sh prints this too).
# Every call goes through the IAM front: KMS, STS and IAM to LocalStack once
# key and trust policies allow it, DynamoDB unchecked to moto (the front
# keeps connections alive, as DynamoDB does; moto closes each one).
# Over TLS (the default), SSL_CERT_FILE and AWS_CA_BUNDLE name the system
# roots plus the stack's CA (localstack/tls.sh), and KEYBROKER_STACK_TLS_DIR
# holds the server certificate the test upstreams serve too.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scheme="$(stack_scheme)"
cat <<ENV
export AWS_ENDPOINT_URL=$scheme://$STACK_HOST:$FRONT_PORT
export AWS_ENDPOINT_URL_DYNAMODB=$scheme://$STACK_HOST:$FRONT_PORT
export AWS_REGION=$STACK_REGION
export AWS_DEFAULT_REGION=$STACK_REGION
export AWS_ACCESS_KEY_ID=$BROKER_ACCOUNT_ID
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
export KEYBROKER_STACK_TRAIL=$TRAIL_FILE
export KEYBROKER_OAUTH_URL=$scheme://$STACK_HOST:$OAUTH_PORT
ENV
if [[ "$scheme" == https ]]; then
  cat <<ENV
export KEYBROKER_STACK_TLS=1
export KEYBROKER_STACK_TLS_DIR=$TLS_DIR
export SSL_CERT_FILE=$TLS_TRUST
export AWS_CA_BUNDLE=$TLS_TRUST
ENV
else
  cat <<ENV
export KEYBROKER_STACK_TLS=0
unset KEYBROKER_STACK_TLS_DIR
ENV
  # Drop trust settings that name this stack's (now removed) bundle; leave
  # any other value the caller set alone.
  for v in SSL_CERT_FILE AWS_CA_BUNDLE; do
    if [[ "${!v:-}" == "$TLS_TRUST" ]]; then printf 'unset %s\n' "$v"; fi
  done
fi
