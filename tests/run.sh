#!/usr/bin/env bash
# Runs the project's tests, in two tiers:
#
#   bash tests/run.sh             # everything: the fast tier's checks, every
#                                 # cargo test (unit + end-to-end against the
#                                 # local AWS stack, installed on first use,
#                                 # started and stopped by this script) and
#                                 # the local broker check
#   bash tests/run.sh --fast      # no stack: structure, Terraform module and infra checks,
#                                 # iam-front decision tests, unit, policy
#                                 # (tests/tests/policies.rs) and property tests
#   bash tests/run.sh [--fast] -- ARGS   # extra args go to `cargo test`
#
# Times of each tier: README.md ("Tests").
set -euo pipefail
fast=0
if [[ "${1:-}" == "--fast" ]]; then
  fast=1
  shift
fi
[[ "${1:-}" == "--" ]] && shift
t0=$SECONDS

if [[ "$fast" == 1 ]]; then
  cd "$(dirname "$0")/.."
else
  # shellcheck source=tests/stack.sh
  source "$(dirname "$0")/stack.sh"
  # A stack this script started runs the current iam-front, so the fault
  # injection tests (tests/tests/e2e/faults.rs) must not skip.
  [[ "$stack_was_running" == 0 ]] && export KEYBROKER_FAULTS_REQUIRED=1
fi

echo "== structure (scripts/check_layout.py: file sizes, import cycles, layers)"
python3 scripts/check_layout.py

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

log="$(mktemp)"
if [[ "$fast" == 1 ]]; then
  echo "== cargo test (unit, policy and property tests: no stack)"
  targets=(--lib --bins --test policies --test properties)
else
  echo "== cargo build --bins (the Lambda bootstraps and lambda-runner the suite invokes)"
  cargo build --workspace --bins --locked
  echo "== cargo test (unit + end-to-end against the local stack)"
  targets=()
fi
set +e
cargo test --workspace --locked "${targets[@]}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if [[ "$fast" == 0 ]]; then
  echo "== local broker check (scripts/local-broker.sh, the CLI against it)"
  set +e
  bash tests/local_broker_check.sh
  broker_status=$?
  set -e
  if [[ "$broker_status" -ne 0 ]]; then
    echo "local broker check FAILED (exit $broker_status; see above)"
    [[ "$status" -ne 0 ]] || status=$broker_status
  fi
fi
if [[ "$node_status" -ne 0 ]]; then
  echo "iam-front decision tests FAILED (node --test exit $node_status; see above)"
  [[ "$status" -ne 0 ]] || status=$node_status
fi
# One closing line over every test binary (cargo's own last line is often a
# crate with no doc-tests, which reads as "0 passed").
tier=full
[[ "$fast" == 1 ]] && tier=fast
awk -v tier="$tier" -v secs="$((SECONDS - t0))" \
  '/^test result:/ { p += $4; f += $6 } END { printf "tests (%s tier, %d s): %d passed, %d failed\n", tier, secs, p, f }' "$log"
rm -f "$log"
exit "$status"
