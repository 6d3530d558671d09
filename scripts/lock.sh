#!/usr/bin/env bash
# Regenerates requirements.lock from requirements.in (run after changing a direct dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh >/dev/null 2>&1 || true   # makes sure the pinned uv exists in .tools
.tools/bin/uv pip compile requirements.in --python-version 3.10 \
  --python-platform x86_64-manylinux_2_36 --generate-hashes -o requirements.lock
