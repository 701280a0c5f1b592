#!/usr/bin/env bash
# Idempotent install of the local AWS stack: two Python 3.13 venvs under
# ${KEYBROKER_STACK_DIR:-<repo>/.stack}, and the IAM front's Node packages:
#   venv-localstack          LocalStack core (KMS, STS, IAM), runs without Docker
#   venv-moto                moto server (DynamoDB)
#   venv-clients             the MCP Python SDK and boto3 the e2e suite drives
#   iam-front/node_modules   npm ci from iam-front/package-lock.json (Node >= 20)
#   oauth-server/node_modules npm ci from oauth-server/package-lock.json (oidc-provider)
# Anything whose marker file matches the pinned spec is left alone.
# Options: --force  reinstall all five.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

PY="$(find_python313)"
NODE="$(find_node)"
mkdir -p "$STACK_DIR"

# Serialise concurrent installs (e.g. two shells running start.sh at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$STACK_DIR/install.lock"
  flock 9
fi

# install_venv NAME VENV CONSTRAINTS REQUIREMENTS...
install_venv() {
  local name="$1" venv="$2" constraints="$3"
  shift 3
  local spec start pip_log
  spec="$(install_spec "$PY" "$constraints" "$@")"
  if [[ "$force" -eq 0 ]] && venv_is_current "$venv" "$spec"; then
    log "$name: already installed ($venv)"
    return 0
  fi
  start=$SECONDS
  log "$name: installing into $venv (python $("$PY" -c 'import sys; print(sys.version.split()[0])'))"
  rm -rf "$venv"
  "$PY" -m venv "$venv" || die "$name: could not create venv with $PY"
  local -a cargs=()
  [[ -f "$constraints" ]] && cargs=(-c "$constraints")
  pip_log="$STACK_DIR/pip-$name.log"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check \
        --no-input --progress-bar off "${cargs[@]}" "$@" >"$pip_log" 2>&1; then
    tail -n 40 "$pip_log" >&2 || true
    rm -rf "$venv"
    die "$name: pip install failed (full log: $pip_log)"
  fi
  printf '%s\n' "$spec" >"$venv/$INSTALL_MARKER_NAME"
  log "$name: installed in $((SECONDS - start)) s ($(du -sh "$venv" | cut -f1))"
}

install_venv localstack "$LS_VENV" "$LS_CONSTRAINTS" "${LS_REQUIREMENTS[@]}"
install_venv moto "$MOTO_VENV" "$MOTO_CONSTRAINTS" "${MOTO_REQUIREMENTS[@]}"
install_venv clients "$CLIENTS_VENV" "$CLIENTS_CONSTRAINTS" "${CLIENTS_REQUIREMENTS[@]}"

# The IAM front: exact versions from its committed package-lock.json. Test
# tooling only (AGPL-3.0): it stays in localstack/iam-front/.
install_front() {
  local spec start npm_log npm
  spec="$(front_spec "$NODE")"
  if [[ "$force" -eq 0 ]] && front_is_current; then
    log "iam-front: already installed ($FRONT_MODULES)"
    return 0
  fi
  npm="$(dirname "$NODE")/npm"
  [[ -x "$npm" ]] || npm="$(command -v npm 2>/dev/null)" || die "iam-front: npm not found (next to $NODE or on PATH)"
  start=$SECONDS
  log "iam-front: npm ci into $FRONT_MODULES (node $("$NODE" --version))"
  npm_log="$STACK_DIR/npm-iam-front.log"
  if ! (cd "$FRONT_DIR" && "$npm" ci --no-audit --no-fund --ignore-scripts --omit=dev) >"$npm_log" 2>&1; then
    tail -n 40 "$npm_log" >&2 || true
    rm -rf "$FRONT_MODULES"
    die "iam-front: npm ci failed (full log: $npm_log)"
  fi
  printf '%s\n' "$spec" >"$FRONT_MODULES/$INSTALL_MARKER_NAME"
  log "iam-front: installed in $((SECONDS - start)) s ($(du -sh "$FRONT_MODULES" | cut -f1))"
}

install_front

# The test authorization server: oidc-provider at the exact version of its
# committed package-lock.json (MIT; test tooling only).
install_oauth() {
  local start npm_log npm
  if [[ "$force" -eq 0 ]] && oauth_is_current; then
    log "oauth-server: already installed ($OAUTH_MODULES)"
    return 0
  fi
  npm="$(dirname "$NODE")/npm"
  [[ -x "$npm" ]] || npm="$(command -v npm 2>/dev/null)" || die "oauth-server: npm not found (next to $NODE or on PATH)"
  start=$SECONDS
  log "oauth-server: npm ci into $OAUTH_MODULES (node $("$NODE" --version))"
  npm_log="$STACK_DIR/npm-oauth-server.log"
  if ! (cd "$OAUTH_DIR" && "$npm" ci --no-audit --no-fund --ignore-scripts --omit=dev) >"$npm_log" 2>&1; then
    tail -n 40 "$npm_log" >&2 || true
    rm -rf "$OAUTH_MODULES"
    die "oauth-server: npm ci failed (full log: $npm_log)"
  fi
  oauth_spec "$NODE" >"$OAUTH_MODULES/$INSTALL_MARKER_NAME"
  log "oauth-server: installed in $((SECONDS - start)) s ($(du -sh "$OAUTH_MODULES" | cut -f1))"
}

install_oauth
