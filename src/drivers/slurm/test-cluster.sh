#!/usr/bin/env bash
# A real single-node Slurm cluster (munge, slurmctld, slurmd) behind a real sshd that asks for a
# password and a one-time code (TOTP; ../ssh/test-sshd.sh), for jobvisor's Slurm tests and for
# trying the Slurm driver on one machine. Needs root. Idempotent: installs what is missing,
# starts what is not running, and ends with the node idle. It can run beside the other
# backends' test clusters (../*/test-cluster.sh): Slurm uses ports 6817/6818, and all are
# served by the same sshd and login user.
#
#   src/drivers/slurm/test-cluster.sh [start]         munge, slurmctld, slurmd, and sshd-otp on 127.0.0.1:${JOBVISOR_SSH_PORT:-2222}
#   src/drivers/slurm/test-cluster.sh info            prints the login as JSON (host, port, user, password, TOTP key, known_hosts line)
#   src/drivers/slurm/test-cluster.sh stop            stops slurmd and slurmctld (munge and sshd-otp stay)
#   src/drivers/slurm/test-cluster.sh stop-scheduler  stops slurmctld only (waits until it is gone): Slurm cannot be asked
#   src/drivers/slurm/test-cluster.sh start-scheduler starts slurmctld again (waits until sinfo answers)
#
# The login user is `jvuser`; its password and TOTP key are made on the first start and kept
# in $STATE (mode 0600). `oathtool --totp $(cat $STATE/totp.key)` prints the current code.
# Slurm's state, spool and logs are in $STATE/slurm; jobs stay known to `scontrol show job`
# for 10 minutes after they end (MinJobAge=600; there is no accounting storage, so no sacct).
set -euo pipefail

STATE=${JOBVISOR_CLUSTER_DIR:-/var/lib/jobvisor-cluster}
HOST=$(hostname -s)
# The node offers more CPUs than the machine has (config_overrides): test jobs mostly sleep, and
# test files running at the same time must not queue behind each other.
CPUS=${JOBVISOR_SLURM_CPUS:-32}
PACKAGES=(slurm-wlm munge)
SSHD=$(cd "$(dirname "${BASH_SOURCE[0]}")/../ssh" && pwd)/test-sshd.sh

log() { printf 'test-cluster: %s\n' "$*" >&2; }
# shellcheck source=../ssh/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ssh/test-lib.sh"

start_munge() {
  mkdir -p /run/munge /etc/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 0400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || { log "starting munged"; runuser -u munge -- munged --force; }
}

write_slurm_conf() {
  local mem
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
  mkdir -p "$STATE/slurm/spool" "$STATE/slurm/state" /etc/slurm
  cat >"$STATE/slurm.conf" <<EOF
ClusterName=jobvisor-test
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurm/state
SlurmdSpoolDir=$STATE/slurm/spool
SlurmctldPidFile=$STATE/slurm/slurmctld.pid
SlurmdPidFile=$STATE/slurm/slurmd.pid
SlurmctldLogFile=$STATE/slurm/slurmctld.log
SlurmdLogFile=$STATE/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
MpiDefault=none
SlurmdParameters=config_overrides
NodeName=$HOST CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if ! cmp -s "$STATE/slurm.conf" /etc/slurm/slurm.conf; then
    cp "$STATE/slurm.conf" /etc/slurm/slurm.conf
    # Daemons started with another configuration start again with this one.
    stop_daemon slurmd
    stop_daemon slurmctld
  fi
}

start_slurm() {
  write_slurm_conf
  [ -n "$(pid_of slurmctld)" ] || { log "starting slurmctld"; slurmctld; }
  [ -n "$(pid_of slurmd)" ] || { log "starting slurmd"; slurmd; }
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then return 0; fi
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 0.5
  done
  log "the Slurm node did not become idle; slurmctld log:"
  tail -20 "$STATE/slurm/slurmctld.log" >&2
  return 1
}

# pid_of NAME: the PID of a running Slurm daemon from its pid file (or by its exact name).
pid_of() {
  local pid
  pid=$(cat "$STATE/slurm/$1.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]; then echo "$pid"; return 0; fi
  pgrep -x "$1" | head -1
}

# stop_daemon NAME: sends TERM and waits (up to 30 s) until the process is gone.
stop_daemon() { stop_pid "$1" "$(pid_of "$1" || true)"; }

start_scheduler() {
  [ -n "$(pid_of slurmctld)" ] || { log "starting slurmctld"; slurmctld; }
  for _ in $(seq 1 60); do
    sinfo -h >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "slurmctld does not answer; its log:"
  tail -20 "$STATE/slurm/slurmctld.log" >&2
  return 1
}

need_root() { [ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }; }

case "${1:-start}" in
  start)
    need_root
    mkdir -p "$STATE" && chmod 0755 "$STATE"  # slurmd runs jobs from its spool below; secrets are 0600 each
    install_missing "${PACKAGES[@]}"
    start_munge
    start_slurm
    bash "$SSHD" start
    log "ready: Slurm node $HOST idle"
    ;;
  info) bash "$SSHD" info ;;
  stop) need_root; stop_daemon slurmd; stop_daemon slurmctld ;;
  stop-scheduler) need_root; stop_daemon slurmctld ;;
  start-scheduler) need_root; write_slurm_conf; start_scheduler ;;
  *) echo "usage: $0 [start|info|stop|stop-scheduler|start-scheduler]" >&2; exit 2 ;;
esac
