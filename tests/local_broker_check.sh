#!/usr/bin/env bash
# Checks the one-command local broker (scripts/local-broker.sh) as a new
# user meets it: start it, source what it prints in an otherwise empty
# environment, run operator CLI commands against it, stop it with TERM, and
# check that it is gone. Run by tests/run.sh (the stack is up by then, so the
# broker script leaves it running); on its own it starts the stack too.
#
#   bash tests/local_broker_check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Beside the stack's own ports (LS_PORT+6), so parallel stacks do not clash.
port="${KEYBROKER_LOCAL_BROKER_PORT:-$((${KEYBROKER_LS_PORT:-4566} + 6))}"
work="$(mktemp -d)"
# A fresh workspace each run: the stack's table outlives a run.
ws="check-$(date +%s)-$RANDOM"
broker=""
cleanup() {
  if [[ -n "$broker" ]] && kill -0 "$broker" 2>/dev/null; then
    kill -TERM "$broker" 2>/dev/null || true
    wait "$broker" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "local broker check FAILED: $*" >&2
  tail -n 20 "$work/err" >&2 || true
  exit 1
}

bash scripts/local-broker.sh --listen "127.0.0.1:$port" --workspace "$ws" \
  --env-file "$work/env" >"$work/out" 2>"$work/err" &
broker=$!
for _ in $(seq 300); do
  [[ -f "$work/env" ]] && break
  kill -0 "$broker" 2>/dev/null || fail "the broker exited before serving"
  sleep 0.2
done
[[ -f "$work/env" ]] || fail "no environment printed within 60 s"
grep -q '"mcpServers"' "$work/out" || fail "no MCP client configuration printed"

# A new user's shell: nothing but what the broker printed.
cli() {
  env -i PATH="$PATH" HOME="$work" bash -c 'source "$0"; shift; exec "$@"' \
    "$work/env" "" target/debug/keybroker "$@"
}
printf 'local-check-%s' "$RANDOM" >"$work/value"
cli prepare-byok -w "$ws" >"$work/prepare" || fail "prepare-byok"
grep -q '^external_id ' "$work/prepare" || fail "prepare-byok printed no external id"
cli put-secret -w "$ws" -s api --value-file "$work/value" --host api.example.com \
  --header Authorization --template 'Bearer {secret}' >/dev/null || fail "put-secret"
cli --json list-secrets -w "$ws" >"$work/list" || fail "list-secrets"
grep -q '"name":"api"' "$work/list" || fail "list-secrets does not list the secret: $(cat "$work/list")"
if grep -qF "$(cat "$work/value")" "$work/list" "$work/out" "$work/err"; then
  fail "the secret's value was printed"
fi

kill -TERM "$broker"
wait "$broker" || true
broker=""
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  fail "127.0.0.1:$port still answers after TERM"
fi
echo "local broker check: ok (started, CLI prepare-byok/put-secret/list-secrets, stopped)"
