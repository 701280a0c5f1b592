#!/usr/bin/env bash
# Benchmarks (figures and method: docs/BENCHMARKS.md). Builds the release
# `inject`/`admin` bootstraps and the bench driver, starts the local stack if
# needed, and measures cold start, warm injection latency vs calling the
# upstream directly, AWS calls, CPU and memory per injection, reconnects
# (TLS session resumption), binary size and scaling through lambda-runner:
# first with the stack over TLS, then again over plain HTTP for comparison
# (the stack is restarted in between), then prints both side by side; then
# the criterion benches of the local AES-GCM step and of the response
# scanner. The load test runs once, over TLS (`--no-load` skips it). Results:
# target/bench/results-{tls,plain}.json (load-tls.json for --load-only) and
# target/criterion/. A step that fails is recorded as failed in the results
# file (`failed_steps`), the other steps still run, and the script exits 1.
#
#   bash tests/bench.sh               # full run, TLS and plain (~5 min after the build)
#   bash tests/bench.sh --quick       # smoke run
#   bash tests/bench.sh --tls-only    # skip the plain-HTTP comparison run
#   bash tests/bench.sh --no-load     # skip the load test (issue 26)
#   bash tests/bench.sh --load-only   # the load test alone, over TLS: many
#                                     # workspaces and sandboxes, AWS calls
#                                     # counted, then `scripts/capacity.py
#                                     # --check` on its result. Scale:
#                                     # KEYBROKER_LOAD=sandboxes,workspaces,
#                                     # injections[,byok share] (docs/CAPACITY.md)
#   bash tests/bench.sh --cold-only   # cold starts alone, warm-up on and off
#   bash tests/bench.sh --callgrind   # instructions per warm injection and
#                                     # where they go (needs valgrind), over
#                                     # the stack's transport (TLS by default)
set -euo pipefail
callgrind=false
tls_only=false
load_only=false
args=()
for a in "$@"; do
  case "$a" in
    --callgrind) callgrind=true; args+=("$a") ;;
    --tls-only) tls_only=true ;;
    --load-only) load_only=true; tls_only=true; args+=("$a") ;;
    --cold-only) tls_only=true; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done
if $callgrind; then
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    echo "bench: --callgrind needs valgrind (e.g. apt-get install valgrind)" >&2
    exit 2
  fi
fi
# The measured run is over TLS unless the caller asked for plain HTTP.
export KEYBROKER_STACK_TLS="${KEYBROKER_STACK_TLS:-1}"
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/stack.sh"
# --callgrind drives the `profiling` bootstraps, not the release ones.
if $callgrind; then
  cargo build --release --locked -p keybroker-tests --bin bench
  cargo build --profile profiling --locked -p keybroker-lambda --bins
  exec target/release/bench "${args[@]}"
fi
cargo build --release --locked -p keybroker-lambda --bins -p keybroker-tests --bin bench
status=0
target/release/bench "${args[@]}" || status=$?
if $load_only; then
  python3 scripts/capacity.py --check target/bench/load-tls.json || status=$?
  exit "$status"
fi
if [[ " ${args[*]} " == *" --cold-only "* ]]; then
  exit "$status"
fi
if [[ " ${args[*]} " != *" --no-load "* && -f target/bench/results-tls.json ]]; then
  python3 scripts/capacity.py --check target/bench/results-tls.json || status=$?
fi
if ! $tls_only && [[ "$KEYBROKER_STACK_TLS" != 0 ]]; then
  echo "bench: restarting the stack over plain HTTP for the comparison run" >&2
  bash localstack/stop.sh
  eval "$(KEYBROKER_STACK_TLS=0 bash localstack/start.sh)"
  target/release/bench "${args[@]}" --no-load || status=$?
  bash localstack/stop.sh
  if [[ "$stack_was_running" == 1 || -n "${KEYBROKER_KEEP_STACK:-}" ]]; then
    # Leave the caller's stack as it was: over TLS.
    eval "$(bash localstack/start.sh)"
  fi
  target/release/bench --compare
fi
# The local halves of an injection, each alone: the envelope's AES-GCM
# step and the response scanner (needles built per injection, then a scan).
criterion=(-p broker-core --bench envelope -p keybroker-lambda --bench scrub)
if [[ " ${args[*]} " == *" --quick "* ]]; then
  cargo bench --locked "${criterion[@]}" -- --warm-up-time 1 --measurement-time 2
else
  cargo bench --locked "${criterion[@]}"
fi
exit "$status"
