#!/usr/bin/env bash
# One command for a local broker (operators trying the CLI, agent developers
# trying the MCP server):
#
#   bash scripts/local-broker.sh [--listen 127.0.0.1:9001] [--workspace acme]
#
# Starts the local AWS stack (installed on first use, localstack/start.sh),
# builds the binaries, creates the table, a platform key and the two
# execution roles (tests/src/bin/local-broker.rs), and serves the real
# `inject` and `admin` functions' Invoke API on 127.0.0.1:9001 until
# Ctrl-C. It prints the environment to export for `keybroker` and
# `keybroker-mcp`, and an MCP client configuration (`--env-file PATH`
# writes the same lines to PATH as well, for another shell to source).
# The stack is stopped on exit if this script started it (set
# KEYBROKER_KEEP_STACK=1 to keep it).
set -euo pipefail
# shellcheck source=tests/stack.sh
source "$(dirname "$0")/../tests/stack.sh"
cargo build --locked --quiet --workspace --bins
# Not exec: the stack's EXIT trap must run after the broker stops. In the
# background (where a script's children ignore SIGINT), so Ctrl-C and
# TERM reach it through the trap.
target/debug/local-broker "$@" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null || true' INT TERM
wait "$broker" || true
wait "$broker" 2>/dev/null || true
