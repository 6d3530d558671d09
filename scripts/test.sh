#!/usr/bin/env bash
# Sets up the environment (idempotent) and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# tests/test_report_browser.py opens the run report in headless Chromium (a Debian package).
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium (Debian package) for the report's browser test"
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest "$@"
