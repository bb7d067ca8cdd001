#!/usr/bin/env bash
# A real single-node Grid Engine cluster (Debian's SGE 8.1.9: sge_qmaster with its scheduler
# thread, sge_execd) behind a real sshd that asks for a password and a one-time code (TOTP;
# ../ssh/test-sshd.sh), for jobvisor's Grid Engine tests and for trying the Grid Engine driver on
# one machine. Needs root. Idempotent: installs what is missing, configures what is not yet
# configured (each object is checked before it is added or changed), starts what is not
# running, and ends with the queue ready for jobs of the login user. It can run beside the other
# backends' test clusters (../*/test-cluster.sh): Grid Engine uses ports 6444 (qmaster) and 6445
# (execd), and all are served by the same sshd and login user.
#
#   src/drivers/sge/test-cluster.sh [start]         sge_qmaster, sge_execd, and sshd-otp on 127.0.0.1:${JOBVISOR_SSH_PORT:-2222}
#   src/drivers/sge/test-cluster.sh info            prints the login as JSON (host, port, user, password, TOTP key, known_hosts line)
#   src/drivers/sge/test-cluster.sh stop            stops sge_execd and sge_qmaster (sshd-otp stays)
#   src/drivers/sge/test-cluster.sh stop-scheduler  stops sge_qmaster only (waits until it is gone): Grid Engine cannot be asked
#   src/drivers/sge/test-cluster.sh start-scheduler starts sge_qmaster again (waits until qstat answers)
#
# The cluster: SGE_ROOT=/var/lib/gridengine, SGE_CELL=default, the host as submit, admin and
# exec host, host group @allhosts, queue all.q (32 slots by default, shell /bin/sh) with the parallel
# environment smp ($pe_slots, as many slots), a scheduler that runs every second and keeps the
# reasons of pending jobs (`qstat -j ID`: "scheduling info"), and accounting flushed every
# second (`qacct -j ID` knows an ended job within seconds). The login user `jvuser` gets the
# Grid Engine environment (SGE_ROOT, SGE_CELL, SGE_ARCH; the q* commands are in /usr/bin) in
# login shells (/etc/profile.d) and in non-interactive `ssh host cmd` (top of ~/.bashrc, which
# Debian's bash reads for commands run by sshd, before its early return for non-interactive
# shells). After start-scheduler the execd takes about 20 s to reconnect: until then the queue
# instance is `u` (new jobs pend, jobs that ended meanwhile are still listed); `start` waits for
# it. Logs: /var/spool/gridengine/qmaster/messages, /var/spool/gridengine/execd/localhost/messages.
set -euo pipefail

export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON=$SGE_ROOT/$SGE_CELL/common
SPOOL=/var/spool/gridengine
HOST=$(hostname -s)
LOGIN_USER=jvuser
QUEUE=all.q
PE=smp
# The queue offers more slots than the machine has cores: test jobs mostly sleep, and test files
# running at the same time must not queue behind each other.
SLOTS=${JOBVISOR_SGE_SLOTS:-32}
PACKAGES=(gridengine-master gridengine-exec gridengine-client)
SSHD=$(cd "$(dirname "${BASH_SOURCE[0]}")/../ssh" && pwd)/test-sshd.sh
PROFILE=/etc/profile.d/jobvisor-gridengine.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

log() { printf 'test-cluster (sge): %s\n' "$*" >&2; }

# shellcheck source=../ssh/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ssh/test-lib.sh"

# The packages ask debconf questions (configure automatically? cell? master host?): answered
# before install_missing installs them, so that a non-interactive install makes the cell and the
# spool (init_cluster).
preseed() {
  debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-client shared/gridenginemaster string $HOST
EOF
}

# The host name resolves to 127.0.0.1, whose reverse name is `localhost`: without the alias
# Grid Engine refuses every client ("access denied ... not identical"). Daemons that run from
# before these files were right (started by the packages' init scripts on a machine with an
# init system) are restarted.
write_host_files() {
  local changed=0
  mkdir -p "$COMMON" /run/gridengine
  chown sgeadmin:sgeadmin /run/gridengine
  [ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" = "$HOST" ] || { echo "$HOST" >"$COMMON/act_qmaster"; changed=1; }
  [ "$(cat "$COMMON/host_aliases" 2>/dev/null)" = "$HOST localhost" ] || { echo "$HOST localhost" >"$COMMON/host_aliases"; changed=1; }
  chmod 0644 "$COMMON/act_qmaster" "$COMMON/host_aliases"
  if [ "$changed" -eq 1 ]; then stop_daemon execd; stop_daemon qmaster; fi
}

# Runs a daemon with a clean environment, as an init system would: jobs inherit sge_execd's
# environment (besides what Grid Engine sets), and this shell's must not leak into them.
clean_env() {
  (cd / && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SGE_ROOT="$SGE_ROOT" SGE_CELL="$SGE_CELL" "$@")
}

# pid_of qmaster|execd: the daemon's PID from its pid file, when that process runs. The execd
# spools in $SPOOL/execd/<its own host name>, which is `localhost` here (127.0.0.1's name).
pid_of() {
  local file pid
  for file in "$SPOOL/$1/$1.pid" "$SPOOL/$1"/*/"$1.pid"; do
    pid=$(cat "$file" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "sge_$1" ]; then echo "$pid"; return 0; fi
  done
  return 0
}

# stop_daemon qmaster|execd: TERM, then wait until it is gone (sge_qmaster takes seconds).
stop_daemon() { stop_pid "sge_$1" "$(pid_of "$1")"; }

start_qmaster() {
  if [ -z "$(pid_of qmaster)" ]; then
    log "starting sge_qmaster"
    clean_env sge_qmaster
  fi
  for _ in $(seq 1 120); do
    qstat >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  log "sge_qmaster does not answer; its messages:"
  tail -20 "$SPOOL/qmaster/messages" >&2
  return 1
}

# One-line `name value` form of a qconf listing (qconf continues long values with `\`).
joined() { sed -e ':a' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;ba}'; }

# apply_config CURRENT_FILE QCONF_OPTION NAME key=value...: sets the keys in the listing; runs
# `qconf OPTION FILE` (-Mconf, -Msconf, -Aq, -Mq, -Ap, -Mp) only when a value differs. The
# file is named NAME: -Mconf takes the configuration's name (`global`) from the file name.
apply_config() {
  local current=$1 option=$2 name=$3 kv key value changed=0
  shift 3
  cp "$current" "$WORK/$name.new"
  for kv in "$@"; do
    key=${kv%%=*} value=${kv#*=}
    if [ "$(awk -v k="$key" '$1 == k { $1 = ""; sub(/^ +/, ""); print }' "$WORK/$name.new")" != "$value" ]; then
      changed=1
      awk -v k="$key" -v v="$value" '$1 == k { printf "%-32s %s\n", k, v; next } { print }' "$WORK/$name.new" >"$WORK/$name.tmp"
      mv "$WORK/$name.tmp" "$WORK/$name.new"
    fi
  done
  [ "$changed" -eq 1 ] || [ "${option:1:1}" = A ] || return 0
  mv "$WORK/$name.new" "$WORK/$name"
  qconf "$option" "$WORK/$name" >/dev/null
}

configure() {
  # Global: accounting on, flushed every second (qacct knows an ended job within seconds); the
  # execd reports every 5 s (default 40 s: after a qmaster restart the queue instance stays
  # `u`nknown, taking no jobs, until the execd's next report).
  qconf -sconf global | joined >"$WORK/global.cur"
  apply_config "$WORK/global.cur" -Mconf global load_report_time=00:00:05 \
    "reporting_params=accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:01"
  # Scheduler: a run every second and after each submit/end; keep why jobs pend (qstat -j).
  qconf -ssconf | joined >"$WORK/sched.cur"
  apply_config "$WORK/sched.cur" -Msconf sched \
    schedule_interval=0:0:1 flush_submit_sec=1 flush_finish_sec=1 schedd_job_info=true \
    job_load_adjustments=NONE load_adjustment_decay_time=0:0:0 queue_sort_method=seqno

  qconf -sh 2>/dev/null | grep -qx "$HOST" || qconf -ah "$HOST" >/dev/null
  qconf -ss 2>/dev/null | grep -qx "$HOST" || qconf -as "$HOST" >/dev/null
  if ! qconf -sel 2>/dev/null | grep -qx "$HOST"; then
    printf '%s\n' "hostname $HOST" "load_scaling NONE" "complex_values NONE" "user_lists NONE" "xuser_lists NONE" \
      "projects NONE" "xprojects NONE" "usage_scaling NONE" "report_variables NONE" >"$WORK/exechost"
    qconf -Ae "$WORK/exechost" >/dev/null
  fi
  if ! qconf -shgrpl 2>/dev/null | grep -qx '@allhosts'; then
    printf '%s\n' "group_name @allhosts" "hostlist $HOST" >"$WORK/allhosts"
    qconf -Ahgrp "$WORK/allhosts" >/dev/null
  fi
  qconf -shgrp @allhosts | joined | grep -qE "^hostlist .*\b$HOST\b" || qconf -aattr hostgroup hostlist "$HOST" @allhosts >/dev/null

  local option=-Mp
  if ! qconf -spl 2>/dev/null | grep -qx "$PE"; then
    option=-Ap
    printf '%s\n' "pe_name $PE" "slots 0" "user_lists NONE" "xuser_lists NONE" "start_proc_args NONE" "stop_proc_args NONE" \
      "allocation_rule \$pe_slots" "control_slaves FALSE" "job_is_first_task TRUE" "urgency_slots min" \
      "accounting_summary FALSE" "qsort_args NONE" >"$WORK/pe.cur"
  else
    qconf -sp "$PE" | joined >"$WORK/pe.cur"
  fi
  apply_config "$WORK/pe.cur" "$option" "$PE" "slots=$SLOTS" "allocation_rule=\$pe_slots"

  option=-Mq
  if ! qconf -sql 2>/dev/null | grep -qx "$QUEUE"; then
    option=-Aq
    qconf -sq | joined | sed -e "s/^qname .*/qname $QUEUE/" >"$WORK/queue.cur"  # without a name: the template
  else
    qconf -sq "$QUEUE" | joined >"$WORK/queue.cur"
  fi
  apply_config "$WORK/queue.cur" "$option" "$QUEUE" \
    hostlist=@allhosts "slots=$SLOTS" shell=/bin/sh shell_start_mode=posix_compliant "pe_list=$PE" \
    load_thresholds=NONE qtype=BATCH\ INTERACTIVE rerun=FALSE
}

start_execd() {
  [ -n "$(pid_of execd)" ] || { log "starting sge_execd"; clean_env sge_execd; }
}

# The login user's Grid Engine environment, in login shells and in `ssh host cmd`.
user_environment() {
  cat >"$PROFILE" <<EOF
# Grid Engine of jobvisor's test cluster (src/drivers/sge/test-cluster.sh): SGE_ROOT, SGE_CELL, SGE_ARCH
if [ -r $COMMON/settings.sh ]; then . $COMMON/settings.sh; fi
EOF
  chmod 0644 "$PROFILE"
  local rc
  rc=$(getent passwd "$LOGIN_USER" | cut -d: -f6)/.bashrc
  grep -qF "$PROFILE" "$rc" 2>/dev/null && return 0
  { printf '# Grid Engine, also for commands run by sshd (before the non-interactive return below)\n[ -r %s ] && . %s\n\n' "$PROFILE" "$PROFILE"
    cat "$rc" 2>/dev/null || true; } >"$WORK/bashrc"
  install -m 0644 -o "$LOGIN_USER" -g "$(id -gn "$LOGIN_USER")" "$WORK/bashrc" "$rc"
}

# Waits until the queue instance on this host takes jobs: the execd reported (no `u`nknown
# state), not in error (`E`, cleared) or alarm, not disabled.
wait_ready() {
  local state
  for _ in $(seq 1 240); do
    state=$(qstat -f -q "$QUEUE@$HOST" 2>/dev/null | awk -v q="$QUEUE@$HOST" '$1 == q { print ($6 == "" ? "ok" : $6) }')
    case "$state" in
      ok) return 0 ;;
      *E*) qmod -c "$QUEUE@$HOST" >/dev/null 2>&1 || true ;;
      *d*) qmod -e "$QUEUE@$HOST" >/dev/null 2>&1 || true ;;
    esac
    sleep 0.25
  done
  log "queue $QUEUE@$HOST is not ready (state '$state'); execd messages:"
  tail -20 "$SPOOL"/execd/*/messages >&2 2>/dev/null || true
  return 1
}

need_root() { [ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }; }

case "${1:-start}" in
  start)
    need_root
    install_missing "${PACKAGES[@]}"
    write_host_files
    start_qmaster
    configure
    start_execd
    bash "$SSHD" start
    user_environment
    wait_ready
    log "ready: Grid Engine queue $QUEUE@$HOST ($SLOTS slots)"
    ;;
  info) bash "$SSHD" info ;;
  stop) need_root; stop_daemon execd; stop_daemon qmaster ;;
  stop-scheduler) need_root; stop_daemon qmaster ;;
  start-scheduler) need_root; write_host_files; start_qmaster ;;
  *) echo "usage: $0 [start|info|stop|stop-scheduler|start-scheduler]" >&2; exit 2 ;;
esac
