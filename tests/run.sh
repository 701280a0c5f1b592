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

# A stack this script started runs the current iam-front, so the fault
# injection tests (tests/tests/e2e/faults.rs) must not skip.
[[ "$stack_was_running" == 0 ]] && export KEYBROKER_FAULTS_REQUIRED=1

echo "== terraform module checks"
bash terraform/check.sh

echo "== infra (broker deployment) checks"
bash infra/check.sh

# Not under `set -e`: a failure here still lets cargo's suite run, and fails
# the script at the end. Its own counts are on node's "pass"/"fail" lines;
# the closing "tests:" line below counts cargo's tests only.
echo "== iam-front decision tests (node --test localstack/iam-front/test/)"
set +e
"${KEYBROKER_NODE:-node}" --test --test-reporter=spec localstack/iam-front/test/
node_status=$?
set -e

echo "== cargo build --bins (the Lambda bootstraps and lambda-runner the suite invokes)"
cargo build --workspace --bins --locked

echo "== cargo test (unit + end-to-end against the local stack)"
[[ "${1:-}" == "--" ]] && shift
log="$(mktemp)"
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [[ "$node_status" -ne 0 ]]; then
  echo "iam-front decision tests FAILED (node --test exit $node_status; see above)"
  [[ "$status" -ne 0 ]] || status=$node_status
fi
# One closing line over every test binary (cargo's own last line is often a
# crate with no doc-tests, which reads as "0 passed").
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
