#!/usr/bin/env bash
# Sets up the environment (idempotent) and runs the pipeline locally; arguments go to local_runner.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python local_runner.py "$@"
