#!/usr/bin/env bash
# Idempotent install of the local AWS stack: two Python 3.13 venvs under
# ${KEYBROKER_STACK_DIR:-<repo>/.stack}:
#   venv-localstack  LocalStack core (KMS, STS, IAM), runs without Docker
#   venv-moto        moto server (DynamoDB)
# A venv whose marker file matches the pinned spec is left alone.
# Options: --force  reinstall both venvs.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

PY="$(find_python313)"
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
