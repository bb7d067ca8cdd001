# What the test-cluster scripts share (sourced, not run): installing missing Debian packages and
# stopping a daemon by its PID. The sourcing script defines `log` first.

# install_missing PKG...: installs the packages that are not installed yet; nothing (and no
# network) when all are. A script whose packages ask debconf questions defines `preseed`.
install_missing() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if declare -F preseed >/dev/null; then preseed; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# stop_pid NAME PID: TERM, then waits up to 30 s until the process is gone, then KILL.
stop_pid() {
  local name=$1 pid=$2
  [ -n "$pid" ] || return 0
  log "stopping $name ($pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  log "$name ($pid) did not stop on TERM within 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}
