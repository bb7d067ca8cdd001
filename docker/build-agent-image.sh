#!/usr/bin/env bash
# Builds the agent image on a machine with no image registry: assembles a root file system
# from this machine's Node binary (and the shared libraries `ldd` names), the bundled agent
# (dist/jobvisor-agent.mjs) and the example templates, then `docker build`s it FROM scratch.
#
#   docker/build-agent-image.sh [IMAGE]      default IMAGE: jobvisor-agent:latest
#
# Idempotent: the image is rebuilt only when its inputs changed (their checksum is a label).
set -euo pipefail

IMAGE=${1:-jobvisor-agent:latest}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AGENT=$ROOT/dist/jobvisor-agent.mjs
NODE=$(readlink -f "$(command -v node)")

[ -f "$AGENT" ] || (cd "$ROOT" && npm run --silent build)

sum=$( (sha256sum "$NODE" "$AGENT" "$ROOT/docker/agent.Dockerfile"; find "$ROOT/templates" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "org.jobvisor.inputs" }}' "$IMAGE" 2>/dev/null)" = "$sum" ]; then
  echo "$IMAGE is up to date ($sum)"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rootfs=$ctx/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/opt/jobvisor" "$rootfs/etc" "$rootfs/tmp" "$rootfs/jobvisor/runs"
chmod 1777 "$rootfs/tmp"
cp "$NODE" "$rootfs/usr/local/bin/node"
ldd "$NODE" | grep -o '/[^ ]*' | while read -r lib; do
  cp --parents -L "$lib" "$rootfs/"
done
cp "$AGENT" "$rootfs/opt/jobvisor/jobvisor-agent.mjs"
cp -r "$ROOT/templates" "$rootfs/opt/jobvisor/templates"
printf 'root:x:0:0:root:/root:/sbin/nologin\njobvisor:x:1000:1000:jobvisor agent:/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\njobvisor:x:1000:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
cp "$ROOT/docker/agent.Dockerfile" "$ctx/Dockerfile"

if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --label "org.jobvisor.inputs=$sum" -t "$IMAGE" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built $IMAGE ($sum)"
