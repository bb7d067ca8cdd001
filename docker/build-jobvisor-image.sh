#!/usr/bin/env bash
# Builds the server/supervisor image on a machine with no image registry: Node (with its
# shared libraries), jobvisor's built code, its production npm packages and the example
# templates, built FROM scratch (docker/jobvisor.Dockerfile).
#
#   docker/build-jobvisor-image.sh [IMAGE]   default IMAGE: jobvisor:latest
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${1:-jobvisor:latest}
[ -f "$ROOT/dist/src/cli.js" ] || (cd "$ROOT" && npm run --silent build)

# The production packages only (npm ls names their folders).
mapfile -t packages < <(cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s|^$ROOT/||")
sum=$( (sha256sum "$NODE" "$ROOT/package-lock.json" "$ROOT/docker/jobvisor.Dockerfile" "$ROOT/docker/lib.sh"; find "$ROOT/dist" "$ROOT/templates" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if image_is_current "$IMAGE" "$sum"; then
  echo "$IMAGE is up to date ($sum)"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
node_rootfs "$ctx/rootfs"
app=$ctx/rootfs/opt/jobvisor
cp "$ROOT/package.json" "$app/"
cp -r "$ROOT/dist" "$ROOT/templates" "$app/"
(cd "$ROOT" && cp -r --parents "${packages[@]}" "$app/")
cp "$ROOT/docker/jobvisor.Dockerfile" "$ctx/Dockerfile"
build_image "$IMAGE" "$sum" "$ctx"
