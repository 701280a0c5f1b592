#!/usr/bin/env bash
# The end-to-end demo against the local AWS stack: a customer brings their own
# key, the broker stores and reads a credential under it, the customer
# disables the key and the broker is locked out, then access is restored.
set -euo pipefail
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/stack.sh"
cargo run --locked --quiet -p keybroker-tests --bin demo
