#!/usr/bin/env bash
# Sets up the environment (idempotent), runs the linter, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# Debian packages some tests need: headless Chromium for the report's browser test
# (tests/test_report_browser.py); podman and mmdebstrap to build the Kubeflow image and run the
# pipeline's steps in it (tests/test_kubeflow_execution.py, scripts/container/).
install() {  # Debian packages, as root or through sudo
  local sudo; sudo=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
  echo "test: installing $* (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq "$@" >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@" >/dev/null; }
}
command -v chromium >/dev/null 2>&1 || install --no-install-recommends chromium
missing=()
for tool in podman buildah mmdebstrap runc; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || install "${missing[@]}"
# The linter first (pyproject.toml, [tool.ruff]): a second, and a finding fails the run as a test would.
.venv/bin/ruff check --quiet .
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest "$@"
