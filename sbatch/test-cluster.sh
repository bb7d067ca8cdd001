#!/usr/bin/env bash
# A real single-node Slurm cluster behind a real sshd that asks for a password and a one-time
# code (TOTP), for jobvisor's sbatch tests and for trying the sbatch driver on one machine.
# Needs root. Idempotent: installs what is missing, starts what is not running.
#
#   sbatch/test-cluster.sh [start]   munge, slurmctld, slurmd, and sshd-otp on 127.0.0.1:$PORT
#   sbatch/test-cluster.sh info      prints the cluster as JSON (port, user, password, TOTP key, known_hosts line)
#   sbatch/test-cluster.sh stop      stops sshd-otp, slurmd, slurmctld (munge stays)
#
# The login user is `jvuser`; its password and TOTP key are made on the first start and kept
# in $STATE (mode 0600). `oathtool --totp $(cat $STATE/totp.key)` prints the current code.
set -euo pipefail

STATE=${JOBVISOR_CLUSTER_DIR:-/var/lib/jobvisor-cluster}
PORT=${JOBVISOR_SSH_PORT:-2222}
LOGIN_USER=jvuser
HOST=$(hostname -s)
PACKAGES=(slurm-wlm munge openssh-server libpam-oath oathtool)

log() { printf 'test-cluster: %s\n' "$*" >&2; }

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

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
NodeName=$HOST CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cmp -s "$STATE/slurm.conf" /etc/slurm/slurm.conf || cp "$STATE/slurm.conf" /etc/slurm/slurm.conf
}

start_slurm() {
  write_slurm_conf
  pgrep -x slurmctld >/dev/null || { log "starting slurmctld"; slurmctld; }
  pgrep -x slurmd >/dev/null || { log "starting slurmd"; slurmd; }
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then return 0; fi
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 0.5
  done
  log "the Slurm node did not become idle; slurmctld log:"
  tail -20 "$STATE/slurm/slurmctld.log" >&2
  return 1
}

make_user() {
  id "$LOGIN_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$LOGIN_USER"
  [ -s "$STATE/password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/password")
  [ -s "$STATE/totp.key" ] || (umask 077 && head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/totp.key")
  echo "$LOGIN_USER:$(cat "$STATE/password")" | chpasswd
  (umask 077 && printf 'HOTP/T30/6 %s - %s\n' "$LOGIN_USER" "$(cat "$STATE/totp.key")" >"$STATE/users.oath")
}

start_sshd() {
  mkdir -p "$STATE/ssh" /run/sshd
  [ -s "$STATE/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh/host_ed25519"
  cat >"$STATE/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $STATE/ssh/host_ed25519
PidFile $STATE/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
AllowUsers $LOGIN_USER
PermitRootLogin no
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
EOF
  cat >/etc/pam.d/sshd-otp <<EOF
auth required pam_unix.so
auth required pam_oath.so usersfile=$STATE/users.oath window=20 digits=6
account required pam_unix.so
session required pam_unix.so
EOF
  ln -sf /usr/sbin/sshd /usr/sbin/sshd-otp
  if [ -s "$STATE/sshd.pid" ] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; then return 0; fi
  log "starting sshd-otp on 127.0.0.1:$PORT"
  /usr/sbin/sshd-otp -f "$STATE/sshd_config"
}

info() {
  node -e '
    const fs = require("fs");
    const [state, port, user] = process.argv.slice(1);
    const key = fs.readFileSync(state + "/ssh/host_ed25519.pub", "utf8").trim().split(" ").slice(0, 2).join(" ");
    console.log(JSON.stringify({
      host: "127.0.0.1", port: Number(port), user,
      password: fs.readFileSync(state + "/password", "utf8").trim(),
      totpKey: fs.readFileSync(state + "/totp.key", "utf8").trim(),
      knownHosts: `[127.0.0.1]:${port} ${key}`,
    }));' "$STATE" "$PORT" "$LOGIN_USER"
}

stop() {
  [ -s "$STATE/sshd.pid" ] && kill "$(cat "$STATE/sshd.pid")" 2>/dev/null || true
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
}

case "${1:-start}" in
  start)
    [ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }
    mkdir -p "$STATE" && chmod 0755 "$STATE"  # slurmd runs jobs from its spool below; secrets are 0600 each
    install_packages
    start_munge
    start_slurm
    make_user
    start_sshd
    log "ready: Slurm node $HOST, sshd-otp on 127.0.0.1:$PORT for $LOGIN_USER"
    ;;
  info) info ;;
  stop) stop ;;
  *) echo "usage: $0 [start|info|stop]" >&2; exit 2 ;;
esac
