#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, for jobvisor's docker driver and
# its tests. Installs Debian's docker.io and docker-compose when missing (as root); if no
# engine answers, starts dockerd with its own data root, no bridge and no iptables rules (agents use
# host networking and reach the supervisor on 127.0.0.1). Idempotent.
set -euo pipefail

DATA_ROOT=${JOBVISOR_DOCKER_DATA_ROOT:-/var/lib/jobvisor-docker}
LOG=${JOBVISOR_DOCKER_LOG:-/var/log/jobvisor-dockerd.log}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${missing[*]}; installing them needs root" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if docker info >/dev/null 2>&1; then
  echo "docker engine answers"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "no Docker engine answers, and starting one needs root" >&2
  exit 1
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
