#!/usr/bin/env bash
# Builds the project's virtualenv (.venv) from requirements-dev.lock alone (the run-time lock plus
# tests and benchmarks), then installs this project into it (editable, no dependencies).
# Idempotent: when the lock and the build files are unchanged since the last successful build, it
# only checks and exits.
#
#   PYTHON310=/path/to/python3.10 bash scripts/setup_env.sh   # to choose the interpreter
#   bash scripts/setup_env.sh --print-python                  # print the Python 3.10 it would use
set -euo pipefail
SELF="$(realpath "$0")"
cd "$(dirname "$0")/.."

VENV=.venv
TOOLS=.tools                  # holds the pinned uv, outside the synced environment
UV_VERSION=0.13.9
STAMP="$VENV/.built-from"

log() { echo "setup: $*" >&2; }

# TFX 1.16 wheels exist for Python 3.9-3.10 only. On these machines 3.10 is installed by
# pyenv but the bare `python3.10` shim fails, so every candidate is probed by running it.
find_python310() {
  local candidates=()
  [ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
  # pyenv's interpreters, found directly so that pyenv need not be on PATH (newest first).
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  command -v pyenv >/dev/null 2>&1 && pyenv_root=$(pyenv root)
  local found
  for found in $(ls -d "$pyenv_root"/versions/3.10*/bin/python3.10 2>/dev/null | sort -rV); do
    candidates+=("$found")
  done
  candidates+=(/usr/local/bin/python3.10 /usr/bin/python3.10)
  found=$(command -v python3.10 2>/dev/null) && candidates+=("$found")
  local candidate
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  log "no working Python 3.10 found (tried: ${candidates[*]:-nothing})."
  log "TFX 1.16 needs Python 3.10: install it (e.g. 'pyenv install 3.10.13') or set PYTHON310=/path/to/python3.10."
  return 1
}

if [ "${1:-}" = "--print-python" ]; then  # the interpreter this script would use, for other scripts
  find_python310; exit
fi

fingerprint() { cat requirements-dev.lock setup.py pyproject.toml image_classification_pipeline.pth "$SELF" | sha256sum | cut -d' ' -f1; }

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] \
   && "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  log "environment is up to date ($VENV)"
  exit 0
fi

PYTHON=$(find_python310)
log "using $PYTHON"
if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  log "installing uv $UV_VERSION into $TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi
UV="$TOOLS/bin/uv"

rm -f "$STAMP"
[ -x "$VENV/bin/python" ] || "$UV" venv --quiet --python "$PYTHON" "$VENV"
log "syncing $VENV with requirements-dev.lock (first build downloads ~1.5 GB)"
# Compiled now, because many shells (CI images among them) set PYTHONDONTWRITEBYTECODE: without
# .pyc files every process recompiles TFX's sources, and `from tfx import v1` took 40 s instead of 5.
VIRTUAL_ENV="$VENV" "$UV" pip sync --quiet --compile-bytecode requirements-dev.lock
VIRTUAL_ENV="$VENV" "$UV" pip install --quiet --no-deps --editable .
# The wheel carries this start-up file (setup.py, STARTUP_FILE); an editable install does not.
cp image_classification_pipeline.pth "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
fingerprint > "$STAMP"
log "ready: $VENV ($("$VENV/bin/python" --version))"
