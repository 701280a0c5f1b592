#!/usr/bin/env bash
# Runs every test of the project: the customer Terraform module's checks, the
# unit tests, and the end-to-end suite against the local AWS stack (installed
# on first use, started and stopped by this script).
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh -- NAME    # extra args go to `cargo test`
set -euo pipefail
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/stack.sh"

echo "== terraform module checks"
bash terraform/check.sh

echo "== cargo test (unit + end-to-end against the local stack)"
[[ "${1:-}" == "--" ]] && shift
log="$(mktemp)"
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo's own last line is often a
# crate with no doc-tests, which reads as "0 passed").
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
