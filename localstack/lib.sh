# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this file
# Shared settings and helpers for the local AWS stack scripts.
# Sourced by install.sh, start.sh, stop.sh, env.sh and smoke.sh; not meant to be run.

# --- Fixed layout ------------------------------------------------------------
STACK_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPT_DIR/.." && pwd)"
STACK_DIR="${KEYBROKER_STACK_DIR:-$REPO_ROOT/.stack}"

LS_VENV="$STACK_DIR/venv-localstack"
MOTO_VENV="$STACK_DIR/venv-moto"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
LS_DATA_DIR="$STACK_DIR/localstack-data"
# The stack's CloudTrail: the front appends one CloudTrail-shaped JSON record
# per KMS/STS call it allows or denies (iam-front/src/trail.js).
TRAIL_FILE="$STACK_DIR/trail/cloudtrail.jsonl"
# The IAM-enforcing front (Node): its node_modules stay next to its sources
# (gitignored) because ESM resolves packages from the importing file's dir.
FRONT_DIR="$STACK_SCRIPT_DIR/iam-front"
FRONT_MODULES="$FRONT_DIR/node_modules"
# The test OAuth 2.0 authorization server (oidc-provider), its own Node packages.
OAUTH_DIR="$STACK_SCRIPT_DIR/oauth-server"
OAUTH_MODULES="$OAUTH_DIR/node_modules"

# --- Endpoints and identity (the single source of truth for env.sh) ---------
STACK_HOST=127.0.0.1
LS_PORT="${KEYBROKER_LS_PORT:-4566}"
MOTO_PORT="${KEYBROKER_MOTO_PORT:-4569}"
# The front the broker talks to for KMS/STS/IAM (AWS_ENDPOINT_URL). Default:
# one below the LocalStack port (4565), so a checkout that moves LocalStack
# moves its front along.
FRONT_PORT="${KEYBROKER_FRONT_PORT:-$((LS_PORT - 1))}"
# The OAuth server (default: two below LocalStack, 4564).
OAUTH_PORT="${KEYBROKER_OAUTH_PORT:-$((LS_PORT - 2))}"
# Its access-token lifetime in seconds (short, so tests see expiry).
OAUTH_AT_TTL="${KEYBROKER_OAUTH_AT_TTL:-60}"
STACK_REGION=us-east-1
# The broker's own account in the local stack. LocalStack takes a 12-digit
# access key id as the account id; moto is started with the same account.
BROKER_ACCOUNT_ID=111111111111
LS_SERVICES=kms,sts,iam

# --- TLS (localstack/tls.sh) ---------------------------------------------------
# KEYBROKER_STACK_TLS=1 (default): the front and moto serve HTTPS with a
# certificate from a CA issued at each stack start; 0: plain HTTP, as before.
# A running stack records its scheme in $RUN_DIR/scheme (env.sh prints that).
TLS_DIR="$STACK_DIR/tls"
# System roots + the stack's CA: what clients get as SSL_CERT_FILE.
TLS_TRUST="$TLS_DIR/trust.pem"
case "${KEYBROKER_STACK_TLS:-1}" in
  1|true) WANTED_SCHEME=https ;;
  0|false) WANTED_SCHEME=http ;;
  *) printf '[stack] ERROR: KEYBROKER_STACK_TLS must be 1 or 0\n' >&2; exit 1 ;;
esac
# The scheme of the running stack, else the wanted one.
stack_scheme() {
  local f="$RUN_DIR/scheme"
  if [[ -f "$f" ]]; then cat "$f"; else printf '%s\n' "$WANTED_SCHEME"; fi
}

# --- Pinned versions -----------------------------------------------------------
# Changing any of these (or the constraints files) triggers a reinstall.
LS_REQUIREMENTS=(
  "localstack-core[runtime]==2026.3.0"
  "cbor2<6"
  "cryptography<45"
  "pyopenssl<25"
  "service-identity"
  "boto3"
)
# Only moto's DynamoDB extra plus the server's web stack: moto[server] would
# also pull cfn-lint, sympy, docker, ... (~300 MB instead of ~130 MB).
MOTO_REQUIREMENTS=(
  "moto[dynamodb]==5.2.5"
  "flask"
  "flask-cors"
)
# The agent-side clients the e2e suite drives (not part of the AWS stack):
# the official MCP Python SDK (tests/tests/e2e/mcp.rs talks to keybroker-mcp
# through it) and boto3 (examples/agent-client/invoke.py).
CLIENTS_VENV="$STACK_DIR/venv-clients"
CLIENTS_REQUIREMENTS=(
  "mcp==2.3.0"
  "boto3"
)
CLIENTS_CONSTRAINTS="$REPO_ROOT/tests/clients/constraints.txt"
LS_CONSTRAINTS="$STACK_SCRIPT_DIR/constraints-localstack.txt"
MOTO_CONSTRAINTS="$STACK_SCRIPT_DIR/constraints-moto.txt"
INSTALL_MARKER_NAME=".keybroker-installed"
# The front's packages are pinned by its package-lock.json (npm ci).
NODE_MIN_MAJOR=20

# --- Helpers -------------------------------------------------------------------
log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the path of a Python 3.13 interpreter, or fails with a clear message.
# Order: $KEYBROKER_STACK_PYTHON, newest pyenv 3.13.x, python3.13 on PATH.
find_python313() {
  local cand root
  if [[ -n "${KEYBROKER_STACK_PYTHON:-}" ]]; then
    [[ -x "$KEYBROKER_STACK_PYTHON" ]] \
      || die "KEYBROKER_STACK_PYTHON=$KEYBROKER_STACK_PYTHON is not executable"
    printf '%s\n' "$KEYBROKER_STACK_PYTHON"
    return 0
  fi
  for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv; do
    [[ -n "$root" && -d "$root/versions" ]] || continue
    cand="$(find "$root/versions" -mindepth 1 -maxdepth 1 -name '3.13*' \
              -printf '%f\n' 2>/dev/null | grep -E '^3\.13\.[0-9]+$' \
              | sort -V | tail -n 1 || true)"
    if [[ -n "$cand" && -x "$root/versions/$cand/bin/python3" ]]; then
      printf '%s\n' "$root/versions/$cand/bin/python3"
      return 0
    fi
  done
  if cand="$(command -v python3.13 2>/dev/null)" && [[ -n "$cand" ]]; then
    printf '%s\n' "$cand"
    return 0
  fi
  die "no Python 3.13 found (looked in \$KEYBROKER_STACK_PYTHON, \
${PYENV_ROOT:-~/.pyenv}/versions/3.13.*, python3.13 on PATH). \
LocalStack needs Python 3.13; the system python3 (3.11) crashes it."
}

# The spec recorded in a venv's marker file: interpreter version, top-level
# requirements and the constraints file content. Args: python, constraints
# file, requirements...
install_spec() {
  local py="$1" constraints="$2"
  shift 2
  printf 'python=%s\n' "$("$py" -c 'import sys; print(sys.version.split()[0])')"
  printf 'req=%s\n' "$@"
  if [[ -f "$constraints" ]]; then
    printf 'constraints-sha256=%s\n' "$(sha256sum "$constraints" | cut -d' ' -f1)"
  fi
}

# True if the venv has a marker equal to the expected spec.
venv_is_current() {
  local venv="$1" spec="$2"
  [[ -x "$venv/bin/python" && -f "$venv/$INSTALL_MARKER_NAME" ]] || return 1
  [[ "$(cat "$venv/$INSTALL_MARKER_NAME")" == "$spec" ]]
}

both_venvs_current() {
  local py
  py="$(find_python313)"
  venv_is_current "$LS_VENV" "$(install_spec "$py" "$LS_CONSTRAINTS" "${LS_REQUIREMENTS[@]}")" \
    && venv_is_current "$MOTO_VENV" "$(install_spec "$py" "$MOTO_CONSTRAINTS" "${MOTO_REQUIREMENTS[@]}")" \
    && venv_is_current "$CLIENTS_VENV" "$(install_spec "$py" "$CLIENTS_CONSTRAINTS" "${CLIENTS_REQUIREMENTS[@]}")"
}

# Prints the path of a Node.js >= $NODE_MIN_MAJOR, or fails with a clear
# message. Order: $KEYBROKER_NODE, node on PATH.
find_node() {
  local node="${KEYBROKER_NODE:-}" major
  if [[ -z "$node" ]]; then
    node="$(command -v node 2>/dev/null)" \
      || die "no node on PATH: the IAM front needs Node.js >= $NODE_MIN_MAJOR (or set KEYBROKER_NODE)"
  fi
  [[ -x "$node" ]] || die "KEYBROKER_NODE=$node is not executable"
  major="$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge "$NODE_MIN_MAJOR" ]] \
    || die "$node is Node.js ${major:-?}; the IAM front needs >= $NODE_MIN_MAJOR (or set KEYBROKER_NODE)"
  printf '%s\n' "$node"
}

# The spec recorded in the front's marker: Node major version and the lock.
front_spec() {
  printf 'node-major=%s\n' "$("$1" -p 'process.versions.node.split(".")[0]')"
  printf 'lock-sha256=%s\n' "$(sha256sum "$FRONT_DIR/package-lock.json" | cut -d' ' -f1)"
}

front_is_current() {
  local node
  node="$(find_node)"
  [[ -f "$FRONT_MODULES/$INSTALL_MARKER_NAME" ]] || return 1
  [[ "$(cat "$FRONT_MODULES/$INSTALL_MARKER_NAME")" == "$(front_spec "$node")" ]]
}

# The same spec and check for the OAuth server's node_modules.
oauth_spec() {
  printf 'node-major=%s\n' "$("$1" -p 'process.versions.node.split(".")[0]')"
  printf 'lock-sha256=%s\n' "$(sha256sum "$OAUTH_DIR/package-lock.json" | cut -d' ' -f1)"
}

oauth_is_current() {
  local node
  node="$(find_node)"
  [[ -f "$OAUTH_MODULES/$INSTALL_MARKER_NAME" ]] || return 1
  [[ "$(cat "$OAUTH_MODULES/$INSTALL_MARKER_NAME")" == "$(oauth_spec "$node")" ]]
}

# Everything install.sh installs is present and matches the pins.
stack_is_installed() {
  both_venvs_current && front_is_current && oauth_is_current
}

# pid file helpers ----------------------------------------------------------------
pid_file() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }

# True if PID exists and is not a zombie (an unreaped zombie still answers
# kill -0, e.g. when PID 1 does not reap orphans).
pid_alive() {
  local pid="$1" state
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/stat" ]]; then
    state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" && "$state" != "X" ]] || return 1
  fi
  return 0
}

# Prints the pid recorded for NAME if that process is alive and its command
# line contains PATTERN (guards against pid reuse); otherwise returns 1.
live_pid() {
  local name="$1" pattern="$2" f pid
  f="$(pid_file "$name")"
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  pid_alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
  fi
  printf '%s\n' "$pid"
}

LS_PATTERN="localstack.runtime.main"
MOTO_PATTERN="moto.server"
FRONT_PATTERN="iam-front/src/server.js"
OAUTH_PATTERN="oauth-server/src/server.js"
