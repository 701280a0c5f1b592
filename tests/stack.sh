# shellcheck shell=bash
# Sourced by tests/run.sh and tests/demo.sh: start the local AWS stack unless
# it is already up, export its environment, and stop it on exit only if this
# script started it (so a developer's running stack is left alone).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
run_dir="${KEYBROKER_STACK_DIR:-.stack}/run"
if [[ -f "$run_dir/localstack.pid" && -f "$run_dir/moto.pid" && -f "$run_dir/iam-front.pid" ]]; then
  stack_was_running=1
else
  stack_was_running=0
fi
stack_env="$(bash localstack/start.sh)"
eval "$stack_env"
if [[ "$stack_was_running" == 0 && -z "${KEYBROKER_KEEP_STACK:-}" ]]; then
  trap 'bash localstack/stop.sh' EXIT
fi
