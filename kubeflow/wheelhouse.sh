#!/usr/bin/env bash
# Downloads every file requirements.lock pins into kubeflow/wheelhouse (or DIR), each checked against
# the lock's hashes, so that `docker build -f kubeflow/Dockerfile .` needs no network: for clusters
# without internet, and for a build that installs exactly what was checked. pip picks the files for
# the Python and platform it runs on: run it where the image's Python 3.10 runs (or on a machine of
# the same kind). Source-only packages (pyfarmhash) come as their hash-checked sources; the image
# builds them, or keeps the base's copy of the same version.
#
#   bash kubeflow/wheelhouse.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-kubeflow/wheelhouse}"
bash scripts/setup_env.sh >&2                       # a Python 3.10 with pip: the one in .tools
mkdir -p "$DIR"
started=$SECONDS
# (Index locations that a machine's pip configuration names but that do not exist are not worth a line each.)
.tools/bin/python -m pip download --quiet --no-deps --require-hashes --dest "$DIR" -r requirements.lock \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
echo "wheelhouse: $(ls "$DIR" | grep -c -E '\.(whl|tar\.gz|zip)$') files, $(du -sh "$DIR" | cut -f1), in $DIR ($((SECONDS - started)) s)"
