# Shared by the image build scripts: images are built FROM scratch from a root file system
# assembled from this machine, so no image registry is ever needed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE=$(readlink -f "$(command -v node)")

# node_rootfs DIR: Node at /usr/local/bin/node with the shared libraries `ldd` names, /tmp,
# and users root, jobvisor (1000) and nobody.
node_rootfs() {
  local rootfs=$1 lib
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/opt/jobvisor" "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$NODE" "$rootfs/usr/local/bin/node"
  for lib in $(ldd "$NODE" | grep -o '/[^ ]*'); do
    cp --parents -L "$lib" "$rootfs/"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\njobvisor:x:1000:1000:jobvisor:/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\njobvisor:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
}

# image_is_current IMAGE SUM: whether IMAGE was built from inputs with checksum SUM.
image_is_current() {
  [ "$(docker image inspect -f '{{ index .Config.Labels "org.jobvisor.inputs" }}' "$1" 2>/dev/null)" = "$2" ]
}

# build_image IMAGE SUM CONTEXT: docker build (classic builder; FROM scratch needs no registry).
# The image it replaces is removed (unless a container still uses it).
build_image() {
  local out previous
  previous=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true)
  if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --label "org.jobvisor.inputs=$2" -t "$1" "$3" 2>&1); then
    echo "$out" >&2
    return 1
  fi
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$1")" ]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
  fi
  echo "built $1 ($2)"
}
