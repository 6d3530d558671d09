#!/usr/bin/env bash
# Regenerates the locks (run after changing a direct dependency): requirements-dev.lock from
# requirements-dev.in (tests and benchmarks on top of the run time), then requirements.lock from
# requirements.in constrained to it, so that both pin the same versions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh >/dev/null 2>&1 || true   # makes sure the pinned uv exists in .tools
compile() {
  .tools/bin/uv pip compile "$@" --python-version 3.10 --python-platform x86_64-manylinux_2_36 --generate-hashes
}
compile requirements-dev.in -o requirements-dev.lock
compile requirements.in -c requirements-dev.lock -o requirements.lock
