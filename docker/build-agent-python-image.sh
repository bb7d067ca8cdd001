#!/usr/bin/env bash
# Builds the agent image with Python, FROM the agent image, on a machine with no image registry:
# Debian's python3 of this machine (/usr/bin/python3 and its standard library) with the shared
# libraries `ldd` names for it and for its extension modules (docker/agent-python.Dockerfile).
#
#   docker/build-agent-python-image.sh [IMAGE] [BASE]
#       default IMAGE: jobvisor-agent-python:latest, BASE: jobvisor-agent:latest (built first if missing)
#
# Idempotent: rebuilt only when its inputs (the base image, python, this script) changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${1:-jobvisor-agent-python:latest}
BASE=${2:-jobvisor-agent:latest}
PY=$(readlink -f /usr/bin/python3)
PYVER=$(basename "$PY")                      # python3.11
STDLIB=/usr/lib/$PYVER
[ -x "$PY" ] && [ -d "$STDLIB" ] || { echo "no Debian python3 at /usr/bin/python3 with $STDLIB" >&2; exit 1; }
docker image inspect "$BASE" >/dev/null 2>&1 || bash "$ROOT/docker/build-agent-image.sh" "$BASE"

base_id=$(docker image inspect -f '{{.Id}}' "$BASE")
sum=$( (echo "$base_id"; sha256sum "$PY" "$ROOT/docker/agent-python.Dockerfile" "$0" "$ROOT/docker/lib.sh"; find "$STDLIB" -name '*.so' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if image_is_current "$IMAGE" "$sum"; then
  echo "$IMAGE is up to date ($sum)"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rootfs=$ctx/rootfs
mkdir -p "$rootfs/usr/bin"
cp "$PY" "$rootfs/usr/bin/$PYVER"
ln -s "$PYVER" "$rootfs/usr/bin/python3"
ln -s "$PYVER" "$rootfs/usr/bin/python"
# The standard library, without its tests, IDLE, Tk and compiled caches.
mkdir -p "$rootfs$STDLIB"
tar -C "$STDLIB" --exclude=./test --exclude=./idlelib --exclude=./tkinter --exclude=./turtledemo --exclude=./ensurepip \
  --exclude=__pycache__ --exclude=./site-packages --exclude=./dist-packages -cf - . | tar -C "$rootfs$STDLIB" -xf -
# Shared libraries of python and of its extension modules (ssl, sqlite3, ctypes, lzma, ...).
for f in "$PY" $(find "$STDLIB/lib-dynload" -name '*.so'); do
  for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
    cp --parents -L -n "$lib" "$rootfs/" 2>/dev/null || true
  done
done
cp "$ROOT/docker/agent-python.Dockerfile" "$ctx/Dockerfile"
# build_image with the base as a build argument.
previous=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --build-arg "BASE=$BASE" --label "org.jobvisor.inputs=$sum" -t "$IMAGE" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "built $IMAGE ($sum)"
