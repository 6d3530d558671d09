#!/usr/bin/env bash
# Builds a stand-in for the public TFX base image from Debian packages alone, for machines that cannot
# pull tensorflow/tfx:1.16.0 (no registry is reachable here): Debian 12 with the libraries Python and
# TensorFlow load, a C++ compiler (the public base has one too: source-only packages such as pyfarmhash
# are built from their hash-checked sources), and this machine's Python 3.10 (TFX 1.16 needs 3.10;
# Debian 12 ships 3.11), copied in at the path it was built for.
#
#   bash scripts/container/base.sh [IMAGE]       # default localhost/image-pipeline-base:py3.10
set -euo pipefail
IMAGE="${1:-localhost/image-pipeline-base:py3.10}"
source "$(dirname "$0")/podman_env.sh"
if podman image exists "$IMAGE"; then
  echo "base: $IMAGE exists"; exit 0
fi
PYTHON="${PYTHON310:-$(bash "$(dirname "$0")/../setup_env.sh" --print-python)}"
PREFIX=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')
# The apt sources this machine is configured with (a deb822 .sources or a .list file).
SOURCES=
for candidate in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -s "$candidate" ] && { SOURCES=$candidate; break; }
done
[ -n "$SOURCES" ] || { echo "base: no apt sources found in /etc/apt" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "base: Debian 12 root file system with $PREFIX ($("$PYTHON" --version))"
started=$SECONDS
# The pyenv site-packages may hold this machine's own start-up hooks: only pip and setuptools go in.
mmdebstrap --quiet --variant=minbase \
  --include=ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libtinfo6,libncursesw6,libuuid1,libgomp1,g++ \
  --customize-hook="tar -C / -c --exclude='lib/python3.*/test' --exclude='*.pth' --exclude='__pycache__' '${PREFIX#/}' | tar -C \"\$1\" -x" \
  --customize-hook="for name in python python3 pip pip3; do ln -sf '$PREFIX/bin/'\$name \"\$1/usr/local/bin/\$name\"; done" \
  bookworm "$WORK/rootfs.tar" "$SOURCES"
podman import --quiet --change "ENV PATH=$PREFIX/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" "$WORK/rootfs.tar" "$IMAGE" >/dev/null
podman run --rm --network=none "$IMAGE" python -c 'import ssl, sqlite3, ctypes, sys; assert sys.version_info[:2] == (3, 10)'
echo "base: $IMAGE in $((SECONDS - started)) s"
