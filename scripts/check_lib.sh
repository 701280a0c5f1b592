# shellcheck shell=bash
# What terraform/check.sh and infra/check.sh share; sourced, not run.
# It exists so the two offline checks detect terraform, configure its CLI,
# run the format check and reach the repo's one policy renderer
# (scripts/policy_render.py) the same way.
#
#   kb_terraform_setup DIR   terraform found: silence the CLI-config warning,
#                            `terraform fmt -check -recursive DIR`, and export
#                            KB_TERRAFORM=<its path>; not found: KB_TERRAFORM=""
#                            (the templatefile() cross-checks are then skipped).
#   kb_python ARGS...        python3 with scripts/ on PYTHONPATH, so a check's
#                            heredoc can `from policy_render import ...`.
#   kb_plugin_dir_enabled    true when KEYBROKER_TF_PLUGIN_DIR is set and
#                            terraform is installed (init/validate/test may
#                            run offline); says why when it is not.

KB_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KB_REPO="$(cd "$KB_SCRIPTS/.." && pwd)"
export KB_SCRIPTS KB_REPO

kb_terraform_setup() {
  local dir="$1"
  if command -v terraform >/dev/null 2>&1; then
    # fmt/console need no CLI config; silence the "Unable to open CLI
    # configuration file" warning when the user has none.
    if [ ! -e "${TF_CLI_CONFIG_FILE:-${HOME:-/nonexistent}/.terraformrc}" ]; then
      export TF_CLI_CONFIG_FILE=/dev/null
    fi
    echo "== terraform fmt -check -recursive (${dir#"$KB_REPO"/})"
    terraform fmt -check -recursive -diff "$dir"
    echo "ok"
    KB_TERRAFORM="$(command -v terraform)"
  else
    echo "terraform not installed; skipping fmt check and templatefile() cross-check"
    KB_TERRAFORM=""
  fi
  export KB_TERRAFORM
}

kb_python() {
  PYTHONPATH="$KB_SCRIPTS${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"
}

# A provider mirror the machine provides (this workplace's images carry the
# AWS provider there): used when the caller names none, so the README's
# test command runs `terraform test` wherever it can, CI included.
KB_MACHINE_PLUGIN_DIR=/opt/tf-plugins

kb_plugin_dir_enabled() {
  if [ -z "${KEYBROKER_TF_PLUGIN_DIR:-}" ] && [ -d "$KB_MACHINE_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
    export KEYBROKER_TF_PLUGIN_DIR="$KB_MACHINE_PLUGIN_DIR"
  fi
  if [ -z "${KEYBROKER_TF_PLUGIN_DIR:-}" ]; then
    echo "KEYBROKER_TF_PLUGIN_DIR not set; skipping terraform init/validate/test"
    return 1
  fi
  if [ -z "${KB_TERRAFORM:-}" ]; then
    echo "terraform not installed; skipping terraform init/validate/test"
    return 1
  fi
  echo "== terraform init/validate/test with local plugin dir $KEYBROKER_TF_PLUGIN_DIR"
}
