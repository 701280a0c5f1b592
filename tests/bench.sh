#!/usr/bin/env bash
# Benchmarks (figures and method: docs/BENCHMARKS.md). Builds the release
# `inject`/`admin` bootstraps and the bench driver, starts the local stack if
# needed, and measures cold start, warm injection latency vs calling the
# upstream directly, AWS calls, CPU and memory per injection, binary size and
# scaling through lambda-runner; then the criterion bench of the local
# AES-GCM step. Results: target/bench/results.json and target/criterion/.
#
#   bash tests/bench.sh               # full run (~2 min after the build)
#   bash tests/bench.sh --quick       # smoke run
#   bash tests/bench.sh --callgrind   # instructions per warm injection and
#                                     # where they go (needs valgrind)
set -euo pipefail
callgrind=false
[[ " $* " == *" --callgrind "* ]] && callgrind=true
if $callgrind; then
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    echo "bench: --callgrind needs valgrind (e.g. apt-get install valgrind)" >&2
    exit 2
  fi
fi
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/stack.sh"
# --callgrind drives the `profiling` bootstraps, not the release ones.
if $callgrind; then
  cargo build --release --locked -p keybroker-tests --bin bench
  cargo build --profile profiling --locked -p keybroker-lambda --bins
  exec target/release/bench "$@"
fi
cargo build --release --locked -p keybroker-lambda --bins -p keybroker-tests --bin bench
target/release/bench "$@"
if [[ "${1:-}" == "--quick" ]]; then
  cargo bench --locked -p broker-core --bench envelope -- --warm-up-time 1 --measurement-time 2
else
  cargo bench --locked -p broker-core --bench envelope
fi
