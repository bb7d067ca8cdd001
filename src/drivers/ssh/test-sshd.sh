#!/usr/bin/env bash
# The login side of jobvisor's real test clusters: a login user and a second sshd (`sshd-otp`,
# the system's sshd is left alone) on 127.0.0.1:$PORT that asks for a password and a one-time
# code (TOTP, pam_oath), or for a key. Each cluster backend's test cluster (../*/test-cluster.sh)
# calls `start` for its login side; all are served by this one sshd and user. Needs root.
# Idempotent: installs what is missing, starts what is not running.
#
#   src/drivers/ssh/test-sshd.sh [start]   the user, the pam_oath users file, sshd-otp on 127.0.0.1:$PORT
#   src/drivers/ssh/test-sshd.sh info      prints the login as JSON (host, port, user, password, TOTP key, known_hosts line,
#                                          the file of a private key the user's authorized_keys accepts)
#   src/drivers/ssh/test-sshd.sh stop      stops sshd-otp (nothing else)
#
# The login user is `jvuser` (uid >= 1000: batch schedulers refuse system users); its password
# and TOTP key are made on the first start and kept in $STATE (mode 0600), as is the pam_oath
# users file `$STATE/users.oath`. `oathtool --totp $(cat $STATE/totp.key)` prints the current
# code; pam_oath refuses a code (time step) already used, and accepts 200 steps either side
# (window=200: test runs that log in many times within 30 s take codes ahead).
set -euo pipefail

STATE=${JOBVISOR_CLUSTER_DIR:-/var/lib/jobvisor-cluster}
PORT=${JOBVISOR_SSH_PORT:-2222}
LOGIN_USER=jvuser
PACKAGES=(openssh-server libpam-oath oathtool)

log() { printf 'test-sshd: %s\n' "$*" >&2; }
# shellcheck source=test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

make_user() {
  id "$LOGIN_USER" >/dev/null 2>&1 || useradd -m -K UID_MIN=1000 -s /bin/bash "$LOGIN_USER"
  [ "$(id -u "$LOGIN_USER")" -ge 1000 ] || { log "$LOGIN_USER has uid $(id -u "$LOGIN_USER") < 1000: batch schedulers refuse it"; return 1; }
  [ -s "$STATE/password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/password")
  [ -s "$STATE/totp.key" ] || (umask 077 && head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/totp.key")
  echo "$LOGIN_USER:$(cat "$STATE/password")" | chpasswd
  # pam_oath records the last code used in this file (fields 5-7); keep that record while the
  # user and key stay the same, so a restart does not make used codes valid again.
  local entry
  entry="HOTP/T30/6 $LOGIN_USER - $(cat "$STATE/totp.key")"
  if [ "$(awk '{ print $1, $2, $3, $4; exit }' "$STATE/users.oath" 2>/dev/null)" != "$entry" ]; then
    (umask 077 && printf '%s\n' "$entry" >"$STATE/users.oath")
  fi
  chmod 0600 "$STATE/users.oath"
  # A key for key logins (ed25519, no passphrase), accepted by the user's authorized_keys.
  [ -s "$STATE/ssh/client_ed25519" ] || (mkdir -p "$STATE/ssh" && ssh-keygen -q -t ed25519 -N '' -C jobvisor-test-key -f "$STATE/ssh/client_ed25519")
  local home
  home=$(getent passwd "$LOGIN_USER" | cut -d: -f6)
  install -d -m 0700 -o "$LOGIN_USER" -g "$LOGIN_USER" "$home/.ssh"
  grep -qxF "$(cat "$STATE/ssh/client_ed25519.pub")" "$home/.ssh/authorized_keys" 2>/dev/null || cat "$STATE/ssh/client_ed25519.pub" >>"$home/.ssh/authorized_keys"
  chown "$LOGIN_USER:" "$home/.ssh/authorized_keys" && chmod 0600 "$home/.ssh/authorized_keys"
}

start_sshd() {
  mkdir -p "$STATE/ssh" /run/sshd
  [ -s "$STATE/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh/host_ed25519"
  cat >"$STATE/sshd_config.new" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $STATE/ssh/host_ed25519
PidFile $STATE/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AuthenticationMethods keyboard-interactive publickey
AllowUsers $LOGIN_USER
PermitRootLogin no
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
EOF
  local changed=0
  cmp -s "$STATE/sshd_config.new" "$STATE/sshd_config" || changed=1
  mv -f "$STATE/sshd_config.new" "$STATE/sshd_config"
  cat >/etc/pam.d/sshd-otp <<EOF
auth required pam_unix.so
auth required pam_oath.so usersfile=$STATE/users.oath window=200 digits=6
account required pam_unix.so
session required pam_unix.so
EOF
  ln -sf /usr/sbin/sshd /usr/sbin/sshd-otp
  if running; then
    # A running sshd-otp reads a changed configuration again on SIGHUP.
    [ "$changed" = 0 ] || { log "sshd-otp configuration changed: reloading"; kill -HUP "$(cat "$STATE/sshd.pid")"; }
    return 0
  fi
  log "starting sshd-otp on 127.0.0.1:$PORT"
  /usr/sbin/sshd-otp -f "$STATE/sshd_config"
}

running() { [ -s "$STATE/sshd.pid" ] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; }

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
      privateKeyFile: state + "/ssh/client_ed25519",
    }));' "$STATE" "$PORT" "$LOGIN_USER"
}

stop() {
  running || return 0
  log "stopping sshd-otp"
  kill "$(cat "$STATE/sshd.pid")" 2>/dev/null || true
}

case "${1:-start}" in
  start)
    [ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }
    mkdir -p "$STATE" && chmod 0755 "$STATE"  # the clusters' daemons use folders below; secrets are 0600 each
    install_missing "${PACKAGES[@]}"
    make_user
    start_sshd
    log "ready: sshd-otp on 127.0.0.1:$PORT for $LOGIN_USER"
    ;;
  info) info ;;
  stop) stop ;;
  *) echo "usage: $0 [start|info|stop]" >&2; exit 2 ;;
esac
