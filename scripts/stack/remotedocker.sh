# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# Two Docker hosts reached the way production ones are, both on loopback:
# - a SECOND real dockerd listening on tcp://127.0.0.1:$DOCKER_TLS_PORT with --tlsverify: it
#   answers only clients holding a certificate signed by the stack CA (certs.sh), and its own
#   certificate is verified by them. Own data-root, exec-root, pidfile and unix socket; run like
#   the stack's own dockerd (docker.sh): no iptables, no bridge, lowered ulimits.
# - an sshd on 127.0.0.1:$DOCKER_SSH_PORT (Debian openssh-server, own config and host key under
#   .stack, key-only) whose one key may do one thing: `docker system dial-stdio` against the
#   stack's main Docker Engine (a forced command in authorized_keys), which is what Docker's own
#   SSH transport (and docker-modem's) runs on the remote side. User root: the local stack runs
#   as root; on a real host use a dedicated user in the docker group with the same forced command.
# The client side (certificates, the SSH key, the host key fingerprint) goes to .stack/env and
# the `dockerHosts:` entries of .stack/clusters.yaml (config.sh).

REMOTEDOCKER_DIR="$STACK_DIR/remotedocker"
TLS_DOCKER_DATA_ROOT="$REMOTEDOCKER_DIR/data"
# Short on purpose (containerd's socket goes below it), and not a prefix of docker.sh's one.
TLS_DOCKER_EXEC_ROOT="$SHORT_DIR/tlsdocker-exec"
TLS_DOCKER_SOCKET="$SOCK_DIR/docker-tls.sock"
TLS_DOCKER_SERVER_CERTS="$STACK_DIR/certs/docker-tls-server"
TLS_DOCKER_CLIENT_CERTS="$STACK_DIR/certs/docker-tls-client"
SSHD_CONFIG="$REMOTEDOCKER_DIR/sshd_config"
SSHD_HOST_KEY="$REMOTEDOCKER_DIR/ssh_host_ed25519_key"
# sshd's StrictModes refuses an authorized_keys file below a group- or world-writable directory
# (a clone under /tmp is one): the short root-owned run dir always qualifies.
SSHD_AUTHORIZED_KEYS="$SHORT_DIR/sshd-authorized_keys"
SSH_DOCKER_KEY_FILE="$SECRETS_DIR/docker-ssh-key"

tls_docker_host() { printf 'tcp://127.0.0.1:%s' "$DOCKER_TLS_PORT"; }
ssh_docker_host() { printf 'ssh://root@127.0.0.1:%s' "$DOCKER_SSH_PORT"; }
# SHA256:… as `ssh` prints it on first contact; the client config pins it.
ssh_docker_host_key() { ssh-keygen -l -E sha256 -f "$SSHD_HOST_KEY.pub" | awk '{print $2}'; }

remotedocker_packages() {
  need_command dockerd docker.io
  need_command docker docker.io
  need_command /usr/sbin/sshd openssh-server
  need_command ssh-keygen openssh-client
}

tls_docker_answers() {
  timeout 15 docker --host "$(tls_docker_host)" --tlsverify --tlscacert "$TLS_DOCKER_CLIENT_CERTS/ca.pem" \
    --tlscert "$TLS_DOCKER_CLIENT_CERTS/cert.pem" --tlskey "$TLS_DOCKER_CLIENT_CERTS/key.pem" info >/dev/null 2>&1
}

# The whole path a client takes: key auth, the forced command, dial-stdio to the main Engine.
ssh_docker_answers() {
  timeout 15 ssh -F none -i "$SSH_DOCKER_KEY_FILE" -p "$DOCKER_SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$REMOTEDOCKER_DIR/known_hosts" root@127.0.0.1 \
    docker system dial-stdio < <(printf 'GET /_ping HTTP/1.0\r\n\r\n') 2>/dev/null | grep -q '^OK'
}

tls_docker_start() {
  local pid extra=()
  if pid="$(live_pid dockerd-tls "$TLS_DOCKER_DATA_ROOT")"; then
    wait_for 60 tls_docker_answers || fail dockerd-tls "pid $pid is running but $(tls_docker_host) does not answer"
    log "TLS dockerd already running (pid $pid)"
    return 0
  fi
  stack_cert docker-tls-server server 127.0.0.1 IP:127.0.0.1 DNS:localhost
  stack_cert docker-tls-client client nocobase-maintenance-worker
  rm -f "$(pid_file dockerd-tls)" "$TLS_DOCKER_SOCKET"
  mkdir -p "$TLS_DOCKER_DATA_ROOT" "$TLS_DOCKER_EXEC_ROOT"
  [ -f "$REMOTEDOCKER_DIR/daemon.json" ] || printf '{}\n' >"$REMOTEDOCKER_DIR/daemon.json"
  if [ -S /run/containerd/containerd.sock ]; then
    extra=(--containerd-namespace "nocobase-$STACK_HASH-tls" --containerd-plugins-namespace "nocobase-$STACK_HASH-tls-plugins")
  fi
  require_free_ports dockerd-tls "$DOCKER_TLS_PORT"
  # Loopback registries are insecure-allowed by default (127.0.0.0/8), so it pulls the stand-in
  # images from the stack's registry as the main dockerd does.
  spawn dockerd-tls dockerd --iptables=false --ip6tables=false --bridge=none \
    --default-ulimit nofile=1024:1024 --default-ulimit nproc=1024:1024 \
    --tlsverify --tlscacert "$TLS_DOCKER_SERVER_CERTS/ca.pem" \
    --tlscert "$TLS_DOCKER_SERVER_CERTS/cert.pem" --tlskey "$TLS_DOCKER_SERVER_CERTS/key.pem" \
    --host "$(tls_docker_host)" --host "unix://$TLS_DOCKER_SOCKET" \
    --data-root "$TLS_DOCKER_DATA_ROOT" --exec-root "$TLS_DOCKER_EXEC_ROOT" \
    --pidfile "$(pid_file dockerd-tls)" --config-file "$REMOTEDOCKER_DIR/daemon.json" "${extra[@]}"
  wait_spawned dockerd-tls "$SPAWNED_PID" 60 tls_docker_answers
  log "TLS dockerd started on $(tls_docker_host) (pid $(cat "$(pid_file dockerd-tls)"))"
}

sshd_write_config() {
  local docker_bin
  docker_bin="$(command -v docker)"
  if [ ! -s "$SSHD_HOST_KEY" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "nocobase-maintenance stack sshd" -f "$SSHD_HOST_KEY" >>"$LOG_DIR/sshd.log" 2>&1 ||
      fail sshd "ssh-keygen could not make the host key"
  fi
  if [ ! -s "$SSH_DOCKER_KEY_FILE" ]; then
    (umask 077 && ssh-keygen -q -t ed25519 -N '' -C "nocobase-maintenance worker" -f "$SSH_DOCKER_KEY_FILE") >>"$LOG_DIR/sshd.log" 2>&1 ||
      fail sshd "ssh-keygen could not make the client key"
  fi
  chmod 600 "$SSH_DOCKER_KEY_FILE" "$SSHD_HOST_KEY"
  # restrict: no pty, forwarding or agent; the key runs the dial-stdio bridge and nothing else.
  write_text "$SSHD_AUTHORIZED_KEYS" "restrict,command=\"$docker_bin --host $STACK_DOCKER_HOST system dial-stdio\" $(cat "$SSH_DOCKER_KEY_FILE.pub")
" 600 || true
  write_text "$REMOTEDOCKER_DIR/known_hosts" "[127.0.0.1]:$DOCKER_SSH_PORT $(cut -d' ' -f1,2 "$SSHD_HOST_KEY.pub")
" || true
  write_text "$SSHD_CONFIG" "# Generated by \`npm run stack:up\`. Do not edit: it is rewritten.
Port $DOCKER_SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_HOST_KEY
PidFile $(pid_file sshd)
AuthorizedKeysFile $SSHD_AUTHORIZED_KEYS
AllowUsers root
PermitRootLogin forced-commands-only
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
# docker-modem opens one SSH connection per API request, several at once in parallel steps.
MaxStartups 100:30:200
LogLevel INFO
"
}

sshd_start() {
  local pid
  mkdir -p "$REMOTEDOCKER_DIR"
  chmod 755 "$REMOTEDOCKER_DIR"
  # Returns 0 when the config changed: a running sshd must then restart.
  if sshd_write_config && pid="$(live_pid sshd "$SSHD_CONFIG")"; then
    log "sshd config changed, restarting"
    stop_pid sshd "$pid" 10 >/dev/null
  fi
  if pid="$(live_pid sshd "$SSHD_CONFIG")"; then
    wait_for 20 ssh_docker_answers || fail sshd "pid $pid is running but $(ssh_docker_host) does not reach dockerd"
    log "sshd already running (pid $pid)"
    return 0
  fi
  # Privilege separation directory, compiled into Debian's sshd.
  mkdir -p /run/sshd && chmod 755 /run/sshd
  /usr/sbin/sshd -t -f "$SSHD_CONFIG" >>"$LOG_DIR/sshd.log" 2>&1 || fail sshd "sshd -t rejects $SSHD_CONFIG"
  require_free_ports sshd "$DOCKER_SSH_PORT"
  spawn sshd /usr/sbin/sshd -D -e -f "$SSHD_CONFIG"
  echo "$SPAWNED_PID" >"$(pid_file sshd)"
  wait_spawned sshd "$SPAWNED_PID" 20 ssh_docker_answers
  log "sshd started on $(ssh_docker_host) (pid $SPAWNED_PID)"
}

remotedocker_start() {
  mkdir -p "$REMOTEDOCKER_DIR"
  tls_docker_start
  sshd_start
}

remotedocker_stop() {
  local pid left
  if pid="$(live_pid sshd "$SSHD_CONFIG")"; then stop_pid sshd "$pid" 10; else echo "sshd       was not running"; fi
  rm -f "$(pid_file sshd)"
  if pid="$(live_pid dockerd-tls "$TLS_DOCKER_DATA_ROOT")"; then
    if [ -S "$TLS_DOCKER_SOCKET" ]; then
      # Its containers first (a test may have left one), as docker_stop does for the main engine.
      local ids
      ids="$(timeout 15 docker -H "unix://$TLS_DOCKER_SOCKET" ps -q 2>/dev/null)" || true
      # shellcheck disable=SC2086 # one id per word
      [ -z "$ids" ] || timeout 30 docker -H "unix://$TLS_DOCKER_SOCKET" stop -t 10 $ids >/dev/null 2>&1 || true
    fi
    stop_pid dockerd-tls "$pid" 40
  else
    echo "dockerd-tls was not running"
  fi
  for left in $(pgrep -f "$TLS_DOCKER_EXEC_ROOT" || true); do stop_pid containerd "$left" 10 || true; done
}

remotedocker_status() {
  local pid state=stopped rc=0
  if pid="$(live_pid dockerd-tls "$TLS_DOCKER_DATA_ROOT")" && tls_docker_answers; then state=running; else rc=1; fi
  printf '%-10s %-8s pid %-7s %s (TLS, client certs %s)\n' docker-tls "$state" "${pid:--}" "$(tls_docker_host)" "$TLS_DOCKER_CLIENT_CERTS"
  state=stopped
  if pid="$(live_pid sshd "$SSHD_CONFIG")" && ssh_docker_answers; then state=running; else rc=1; fi
  printf '%-10s %-8s pid %-7s %s (key %s)\n' docker-ssh "$state" "${pid:--}" "$(ssh_docker_host)" "$SSH_DOCKER_KEY_FILE"
  return "$rc"
}
