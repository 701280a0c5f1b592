#!/usr/bin/env bash
# The end-to-end demo against the local AWS stack: a customer brings their own
# key, the broker stores and reads a credential under it, the customer
# disables the key and the broker is locked out, then access is restored; an
# agent makes a request through the real `inject` Lambda, and later finds it
# revoked; the key-policy revocation closes it. Then an OAuth 2.0 secret is
# connected by the code flow, used, refreshed by the broker and revoked.
set -euo pipefail
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/stack.sh"
# The demo invokes the real `inject` binary through lambda-runner.
cargo build --locked --quiet --workspace --bins
target/debug/demo
