#!/usr/bin/env bash
# Builds the agent image on a machine with no image registry: Node (with its shared
# libraries), the bundled agent (dist/jobvisor-agent.mjs) and the example templates, built
# FROM scratch (docker/agent.Dockerfile).
#
#   docker/build-agent-image.sh [IMAGE]      default IMAGE: jobvisor-agent:latest
#
# Idempotent: the image is rebuilt only when its inputs changed (their checksum is a label).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${1:-jobvisor-agent:latest}
AGENT=$ROOT/dist/jobvisor-agent.mjs
[ -f "$AGENT" ] || (cd "$ROOT" && npm run --silent build)

sum=$( (sha256sum "$NODE" "$AGENT" "$ROOT/docker/agent.Dockerfile" "$ROOT/docker/lib.sh"; find "$ROOT/templates" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if image_is_current "$IMAGE" "$sum"; then
  echo "$IMAGE is up to date ($sum)"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
node_rootfs "$ctx/rootfs"
mkdir -p "$ctx/rootfs/jobvisor/runs"
cp "$AGENT" "$ctx/rootfs/opt/jobvisor/jobvisor-agent.mjs"
cp -r "$ROOT/templates" "$ctx/rootfs/opt/jobvisor/templates"
cp "$ROOT/docker/agent.Dockerfile" "$ctx/Dockerfile"
build_image "$IMAGE" "$sum" "$ctx"
