# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# Docker Engine for the demo NocoBase nodes. Either a reachable engine the
# caller already points DOCKER_HOST at ("external": used, never stopped), or
# our own dockerd with everything under .stack/ and no host networking changes.

OWN_DOCKER_HOST="unix://$SOCK_DIR/docker.sock"
DOCKER_DATA_ROOT="$STACK_DIR/docker/data"
# Short on purpose: dockerd puts containerd's socket below the exec root.
DOCKER_EXEC_ROOT="$SHORT_DIR/docker-exec"
DOCKER_MODE_FILE="$STACK_DIR/docker/mode"
# Labels set by demo-cluster.ts. An external engine may run other people's
# containers, so there down stops only those carrying the cluster label.
STACK_CONTAINER_FILTER='label=nocobase-maintenance.cluster'

docker_answers() { timeout 15 docker -H "$1" info >/dev/null 2>&1; }

# Sets DOCKER_MODE (own|external) and STACK_DOCKER_HOST. Up decides from the
# environment; down/status read what up decided.
docker_resolve_mode() {
  if [ "${1:-}" = saved ] && [ -f "$DOCKER_MODE_FILE" ]; then
    read -r DOCKER_MODE STACK_DOCKER_HOST <"$DOCKER_MODE_FILE"
    return 0
  fi
  DOCKER_MODE=own STACK_DOCKER_HOST="$OWN_DOCKER_HOST"
  [ "${1:-}" = saved ] && return 0
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$OWN_DOCKER_HOST" ]; then
    if command -v docker >/dev/null 2>&1 && docker_answers "$DOCKER_HOST"; then
      DOCKER_MODE=external STACK_DOCKER_HOST="$DOCKER_HOST"
    else
      warn "DOCKER_HOST=$DOCKER_HOST does not answer; starting the stack's own dockerd instead"
    fi
  fi
  mkdir -p "$(dirname "$DOCKER_MODE_FILE")"
  write_text "$DOCKER_MODE_FILE" "$DOCKER_MODE $STACK_DOCKER_HOST"$'\n' || true
}

docker_packages() {
  need_command docker docker.io
  [ "$DOCKER_MODE" = own ] && need_command dockerd docker.io
  return 0
}

docker_start() {
  local pid extra=()
  if [ "$DOCKER_MODE" = external ]; then
    log "docker: using the engine at $STACK_DOCKER_HOST (not started or stopped by the stack)"
    return 0
  fi
  if pid="$(live_pid dockerd "$DOCKER_DATA_ROOT")"; then
    wait_for 60 docker_answers "$OWN_DOCKER_HOST" || fail dockerd "pid $pid is running but $OWN_DOCKER_HOST does not answer"
    log "dockerd already running (pid $pid)"
    return 0
  fi
  rm -f "$(pid_file dockerd)" "$SOCK_DIR/docker.sock"
  mkdir -p "$DOCKER_DATA_ROOT" "$DOCKER_EXEC_ROOT"
  # Own config file: a host /etc/docker/daemon.json (hosts, data-root...) would
  # otherwise clash with our flags and make dockerd refuse to start.
  [ -f "$STACK_DIR/docker/daemon.json" ] || printf '{}\n' >"$STACK_DIR/docker/daemon.json"
  # If a system containerd runs, dockerd attaches to it instead of supervising
  # its own; separate namespaces keep our containers apart from the host's.
  if [ -S /run/containerd/containerd.sock ]; then
    extra=(--containerd-namespace "nocobase-$STACK_HASH" --containerd-plugins-namespace "nocobase-$STACK_HASH-plugins")
  fi
  spawn dockerd dockerd --iptables=false --ip6tables=false --bridge=none \
    --default-ulimit nofile=1024:1024 --default-ulimit nproc=1024:1024 \
    --host "$OWN_DOCKER_HOST" --data-root "$DOCKER_DATA_ROOT" --exec-root "$DOCKER_EXEC_ROOT" \
    --pidfile "$(pid_file dockerd)" --config-file "$STACK_DIR/docker/daemon.json" "${extra[@]}"
  wait_spawned dockerd "$SPAWNED_PID" 60 docker_answers "$OWN_DOCKER_HOST"
  log "dockerd started (pid $(cat "$(pid_file dockerd)"))"
}

docker_stop_containers() {
  local filter=() ids
  [ "$DOCKER_MODE" = external ] && filter=(--filter "$STACK_CONTAINER_FILTER")
  docker_answers "$STACK_DOCKER_HOST" || return 0
  ids="$(docker -H "$STACK_DOCKER_HOST" ps -q "${filter[@]}")"
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # one id per word
  docker -H "$STACK_DOCKER_HOST" stop -t 10 $ids >/dev/null
  printf 'stopped %-10s %s\n' containers "${ids//$'\n'/ }"
}

docker_stop() {
  local pid
  docker_stop_containers
  [ "$DOCKER_MODE" = external ] && { echo "docker     external engine left running ($STACK_DOCKER_HOST)"; return 0; }
  if pid="$(live_pid dockerd "$DOCKER_DATA_ROOT")"; then stop_pid dockerd "$pid" 40; else echo "dockerd    was not running"; fi
  # dockerd stops the containerd it supervises; make sure it really went.
  local left
  for left in $(pgrep -f "$DOCKER_EXEC_ROOT" || true); do stop_pid containerd "$left" 10 || true; done
}

docker_status() {
  local pid="-" state=stopped rc=1
  if [ "$DOCKER_MODE" = external ]; then
    docker_answers "$STACK_DOCKER_HOST" && { state=running rc=0; }
    pid=external
  elif pid="$(live_pid dockerd "$DOCKER_DATA_ROOT")" && docker_answers "$OWN_DOCKER_HOST"; then
    state=running rc=0
  fi
  printf '%-10s %-8s pid %-7s %s\n' docker "$state" "${pid:--}" "$STACK_DOCKER_HOST"
  return "$rc"
}
