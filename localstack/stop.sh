#!/usr/bin/env bash
# Stops the local AWS stack started by start.sh (oauth-server, iam-front, LocalStack, moto). Idempotent: no error when
# nothing is running. Each service gets TERM (its whole process group), up
# to ${KEYBROKER_STACK_STOP_TIMEOUT:-10} s to exit, then KILL.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_s="${KEYBROKER_STACK_STOP_TIMEOUT:-10}"

# stop_one NAME PATTERN
stop_one() {
  local name="$1" pattern="$2" pid f i
  f="$(pid_file "$name")"
  if ! pid="$(live_pid "$name" "$pattern")"; then
    [[ -f "$f" ]] && log "$name: not running (removing stale pid file)"
    rm -f "$f"
    return 0
  fi
  log "$name: stopping (pid $pid)"
  # start.sh runs each service as a session/process-group leader, so the
  # negative pid reaches any children too; fall back to the pid alone.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout_s * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "$name: still alive after ${timeout_s} s, sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
  fi
  # Leftover group members (if any) go too.
  kill -KILL -- "-$pid" 2>/dev/null || true
  if pid_alive "$pid"; then
    die "$name: pid $pid survived KILL"
  fi
  rm -f "$f"
  log "$name: stopped"
}

stop_one oauth-server "$OAUTH_PATTERN"
stop_one iam-front "$FRONT_PATTERN"
stop_one localstack "$LS_PATTERN"
stop_one moto "$MOTO_PATTERN"
# The next start decides its scheme again (KEYBROKER_STACK_TLS).
rm -f "$RUN_DIR/scheme"
