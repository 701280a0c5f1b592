#!/usr/bin/env bash
# Starts the local AWS stack in the background and prints sourceable env:
#   eval "$(localstack/start.sh)"
#   iam-front (KMS, STS, IAM, DynamoDB)  https://127.0.0.1:4565
#     (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB) enforces key and
#     trust policies, keeps client connections alive, forwards to:
#   LocalStack (KMS, STS, IAM)  http://127.0.0.1:4566   (only the front calls it)
#   moto server (DynamoDB)      http://127.0.0.1:4569   (only the front calls it)
#   oauth-server (oidc-provider) https://127.0.0.1:4564  (KEYBROKER_OAUTH_URL: the
#     test OAuth 2.0 authorization server, refresh-token rotation and reuse
#     detection on, access tokens live ${KEYBROKER_OAUTH_AT_TTL:-60} s)
# The front serves a certificate from a CA issued here at each start
# (localstack/tls.sh); KEYBROKER_STACK_TLS=0 starts it on plain HTTP.
# Installs first if needed. If both are already running and healthy, only
# reprints the env. Progress goes to stderr; stdout carries only the exports.
# Readiness timeout: ${KEYBROKER_STACK_START_TIMEOUT:-90} s.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

start_timeout="${KEYBROKER_STACK_START_TIMEOUT:-90}"

command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"

mkdir -p "$STACK_DIR"
# One start.sh at a time (fd 8 is closed in the launched services, so the
# lock is released when this script exits).
if command -v flock >/dev/null 2>&1; then
  exec 8>"$STACK_DIR/start.lock"
  flock 8
fi

if ! stack_is_installed; then
  log "installing (first run or pins changed)"
  "$STACK_SCRIPT_DIR/install.sh" >&2
fi

LS_PY="$LS_VENV/bin/python"
MOTO_PY="$MOTO_VENV/bin/python"
NODE="$(find_node)"

# --- Probes (stdlib Python from the LocalStack venv; no curl/jq needed) ----
# True if LocalStack's health endpoint reports every wanted service usable.
ls_healthy() {
  "$LS_PY" - "http://$STACK_HOST:$LS_PORT/_localstack/health" "$LS_SERVICES" <<'PY' 2>/dev/null
import json, sys, urllib.request
url, wanted = sys.argv[1], sys.argv[2].split(",")
try:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=2) as r:
        services = json.load(r).get("services", {})
except Exception:
    sys.exit(1)
sys.exit(0 if all(services.get(s) in ("available", "running") for s in wanted) else 1)
PY
}

# An opener for the scheme SCHEME (set below): over https it trusts only the
# stack's CA and checks the name, as the broker does.
PY_OPENER='
import ssl, urllib.request
def opener(cafile):
    handlers = [urllib.request.ProxyHandler({})]
    if cafile:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
    return urllib.request.build_opener(*handlers)
'
ca_arg() { if [[ "$SCHEME" == https ]]; then printf '%s' "$TLS_DIR/ca.pem"; fi; }

# True if anything answers HTTP on the moto port (any status code counts).
moto_healthy() {
  "$LS_PY" - "http://$STACK_HOST:$MOTO_PORT/" "" <<PY 2>/dev/null
$PY_OPENER
import sys, urllib.error
try:
    opener(sys.argv[2]).open(sys.argv[1], timeout=2).close()
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

# True if the IAM front answers its health check, forwards to our LocalStack
# and queues DynamoDB (a front from before the queue reports no
# dynamodb_most_in_flight: it is restarted, not reused).
front_healthy() {
  "$LS_PY" - "$SCHEME://$STACK_HOST:$FRONT_PORT/_keybroker_front/health" "http://$STACK_HOST:$LS_PORT" "$(ca_arg)" <<PY 2>/dev/null
$PY_OPENER
import json, sys
try:
    with opener(sys.argv[3]).open(sys.argv[1], timeout=2) as r:
        health = json.load(r)
except Exception:
    sys.exit(1)
ok = health.get("status") == "ok" and health.get("upstream") == sys.argv[2]
sys.exit(0 if ok and "dynamodb_most_in_flight" in health else 1)
PY
}

# True if the OAuth server answers its health check.
oauth_healthy() {
  "$LS_PY" - "$SCHEME://$STACK_HOST:$OAUTH_PORT/_test/health" "$(ca_arg)" <<PY 2>/dev/null
$PY_OPENER
import json, sys
try:
    with opener(sys.argv[2]).open(sys.argv[1], timeout=2) as r:
        health = json.load(r)
except Exception:
    sys.exit(1)
sys.exit(0 if health.get("status") == "ok" else 1)
PY
}

# True if something accepts TCP connections on PORT.
port_busy() {
  "$LS_PY" - "$STACK_HOST" "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}

# --- Already running? ----------------------------------------------------------
# The probes speak the running stack's scheme; a stack running the other
# scheme than KEYBROKER_STACK_TLS asks for is restarted below.
SCHEME="$(stack_scheme)"
ls_pid="$(live_pid localstack "$LS_PATTERN" || true)"
moto_pid="$(live_pid moto "$MOTO_PATTERN" || true)"
front_pid="$(live_pid iam-front "$FRONT_PATTERN" || true)"
oauth_pid="$(live_pid oauth-server "$OAUTH_PATTERN" || true)"
if [[ -n "$ls_pid" && -n "$moto_pid" && -n "$front_pid" && -n "$oauth_pid" ]] \
  && [[ "$SCHEME" == "$WANTED_SCHEME" ]] && ls_healthy && moto_healthy && front_healthy && oauth_healthy; then
  log "already running (localstack pid $ls_pid, moto pid $moto_pid, iam-front pid $front_pid, oauth-server pid $oauth_pid)"
  exec "$STACK_SCRIPT_DIR/env.sh"
fi
if [[ -n "$ls_pid" || -n "$moto_pid" || -n "$front_pid" || -n "$oauth_pid" ]]; then
  log "stack is partly running or unhealthy: restarting it"
  "$STACK_SCRIPT_DIR/stop.sh"
fi

for port in "$LS_PORT" "$MOTO_PORT" "$FRONT_PORT" "$OAUTH_PORT"; do
  if port_busy "$port"; then
    die "$STACK_HOST:$port is already in use by a process these scripts did not start \
(see: ss -ltnp 'sport = :$port')"
  fi
done

mkdir -p "$LOG_DIR" "$RUN_DIR" "$LS_DATA_DIR"
SCHEME="$WANTED_SCHEME"
front_tls=()
oauth_tls=()
if [[ "$SCHEME" == https ]]; then
  make_stack_tls
  front_tls=(KEYBROKER_FRONT_TLS_CERT="$TLS_DIR/server.pem" KEYBROKER_FRONT_TLS_KEY="$TLS_DIR/server-key.pem")
  oauth_tls=(KEYBROKER_OAUTH_TLS_CERT="$TLS_DIR/server.pem" KEYBROKER_OAUTH_TLS_KEY="$TLS_DIR/server-key.pem")
else
  rm -rf "$TLS_DIR"
fi
printf '%s\n' "$SCHEME" >"$RUN_DIR/scheme"

# --- Launch ---------------------------------------------------------------------
# launch NAME CMD...: runs CMD detached in its own session (so stop.sh can
# signal the whole process group), with stdin from /dev/null and stdout/stderr
# to $LOG_DIR/NAME.log (never to our stdout: `eval "$(start.sh)"` would hang).
# The child writes its own pid before exec, so the pid file is exact even if
# setsid has to fork. AWS_* from the caller's shell are not passed on.
launch() {
  local name="$1" f
  shift
  f="$(pid_file "$name")"
  rm -f "$f"
  # Keep the previous run's log as NAME.log.1; start each run on a fresh log.
  [[ -f "$LOG_DIR/$name.log" ]] && mv -f "$LOG_DIR/$name.log" "$LOG_DIR/$name.log.1"
  printf '===== %s starting %s =====\n' "$(date -u +%FT%TZ)" "$name" >"$LOG_DIR/$name.log"
  # shellcheck disable=SC2016 # expanded by the child shell
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0"
                  for v in $(compgen -v AWS_ || true); do unset "$v"; done
                  exec "$@"' "$f" "$@" \
    </dev/null >>"$LOG_DIR/$name.log" 2>&1 8>&- &
}

started=0
on_failure() {
  local what="$1" name
  log "$what"
  for name in localstack moto iam-front oauth-server; do
    if [[ -f "$LOG_DIR/$name.log" ]]; then
      printf '[stack] ----- last lines of %s -----\n' "$LOG_DIR/$name.log" >&2
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
    fi
  done
  if [[ "$started" -eq 1 ]]; then
    "$STACK_SCRIPT_DIR/stop.sh" || true
  fi
  exit 1
}
trap 'on_failure "interrupted"' INT TERM

t0=$SECONDS
log "starting LocalStack ($LS_SERVICES) on $STACK_HOST:$LS_PORT and moto (dynamodb) on $STACK_HOST:$MOTO_PORT"
started=1
launch localstack env \
  GATEWAY_LISTEN="$STACK_HOST:$LS_PORT" \
  GATEWAY_SERVER=hypercorn \
  SERVICES="$LS_SERVICES" \
  EAGER_SERVICE_LOADING=1 \
  OVERRIDE_IN_DOCKER=0 \
  DNS_ADDRESS=0 \
  SKIP_SSL_CERT_DOWNLOAD=1 \
  LOCALSTACK_TELEMETRY=0 \
  DISABLE_EVENTS=1 \
  FILESYSTEM_ROOT="$LS_DATA_DIR" \
  "$LS_PY" -m localstack.runtime.main
launch moto env \
  MOTO_ACCOUNT_ID="$BROKER_ACCOUNT_ID" \
  "$MOTO_PY" -m moto.server -H "$STACK_HOST" -p "$MOTO_PORT"

# --- Wait for readiness ---------------------------------------------------------
ls_ready=0
moto_ready=0
while :; do
  for name in localstack moto; do
    pattern="$LS_PATTERN"
    [[ "$name" == moto ]] && pattern="$MOTO_PATTERN"
    # Allow a moment for the child to write its pid file.
    if [[ -f "$(pid_file "$name")" ]] && ! live_pid "$name" "$pattern" >/dev/null; then
      on_failure "$name exited during startup"
    fi
  done
  [[ "$ls_ready" -eq 1 ]] || { ls_healthy && ls_ready=1 && log "LocalStack ready after $((SECONDS - t0)) s"; } || true
  [[ "$moto_ready" -eq 1 ]] || { moto_healthy && moto_ready=1 && log "moto ready after $((SECONDS - t0)) s"; } || true
  [[ "$ls_ready" -eq 1 && "$moto_ready" -eq 1 ]] && break
  if ((SECONDS - t0 >= start_timeout)); then
    on_failure "not ready after ${start_timeout} s (localstack ready=$ls_ready, moto ready=$moto_ready)"
  fi
  sleep 0.3
done

# --- The IAM front, once LocalStack answers -----------------------------------
log "starting iam-front on $SCHEME://$STACK_HOST:$FRONT_PORT (enforces key and trust policies, forwards to $STACK_HOST:$LS_PORT, DynamoDB to $STACK_HOST:$MOTO_PORT)"
# A fresh trail per run, the previous one kept as cloudtrail.jsonl.1 (like the logs).
mkdir -p "$(dirname "$TRAIL_FILE")"
[[ -f "$TRAIL_FILE" ]] && mv -f "$TRAIL_FILE" "$TRAIL_FILE.1"
launch iam-front env \
  KEYBROKER_FRONT_PORT="$FRONT_PORT" \
  KEYBROKER_FRONT_TRAIL="$TRAIL_FILE" \
  KEYBROKER_LS_PORT="$LS_PORT" \
  KEYBROKER_MOTO_PORT="$MOTO_PORT" \
  "${front_tls[@]}" \
  "$NODE" "$FRONT_DIR/src/server.js"
t1=$SECONDS
until front_healthy; do
  if [[ -f "$(pid_file iam-front)" ]] && ! live_pid iam-front "$FRONT_PATTERN" >/dev/null; then
    on_failure "iam-front exited during startup"
  fi
  if ((SECONDS - t1 >= 30)); then
    on_failure "iam-front not ready after 30 s"
  fi
  sleep 0.2
done
log "iam-front ready after $((SECONDS - t1)) s"

# --- The OAuth 2.0 authorization server (oidc-provider) ------------------------
log "starting oauth-server on $SCHEME://$STACK_HOST:$OAUTH_PORT (access tokens live $OAUTH_AT_TTL s)"
launch oauth-server env \
  KEYBROKER_OAUTH_PORT="$OAUTH_PORT" \
  KEYBROKER_OAUTH_AT_TTL="$OAUTH_AT_TTL" \
  "${oauth_tls[@]}" \
  "$NODE" "$OAUTH_DIR/src/server.js"
t2=$SECONDS
until oauth_healthy; do
  if [[ -f "$(pid_file oauth-server)" ]] && ! live_pid oauth-server "$OAUTH_PATTERN" >/dev/null; then
    on_failure "oauth-server exited during startup"
  fi
  if ((SECONDS - t2 >= 30)); then
    on_failure "oauth-server not ready after 30 s"
  fi
  sleep 0.2
done
log "oauth-server ready after $((SECONDS - t2)) s"
trap - INT TERM

for name in localstack moto iam-front oauth-server; do
  [[ -f "$(pid_file "$name")" ]] || on_failure "$name: pid file missing"
done
log "stack up in $((SECONDS - t0)) s (logs: $LOG_DIR, pids: $RUN_DIR)"
exec "$STACK_SCRIPT_DIR/env.sh"
