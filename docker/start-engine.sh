#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, for jobvisor's docker driver and
# its tests. If none answers: installs Debian's docker.io when dockerd is missing (as root),
# then starts dockerd with its own data root, no bridge and no iptables rules (agents use
# host networking and reach the supervisor on 127.0.0.1). Idempotent.
set -euo pipefail

DATA_ROOT=${JOBVISOR_DOCKER_DATA_ROOT:-/var/lib/jobvisor-docker}
LOG=${JOBVISOR_DOCKER_LOG:-/var/log/jobvisor-dockerd.log}

if docker info >/dev/null 2>&1; then
  echo "docker engine answers"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "no Docker engine answers, and starting one needs root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
mkdir -p "$DATA_ROOT"
echo "starting dockerd (data root $DATA_ROOT, log $LOG)"
setsid dockerd --data-root "$DATA_ROOT" --bridge=none --iptables=false --ip6tables=false >"$LOG" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine answers"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; its log:" >&2
tail -20 "$LOG" >&2
exit 1
