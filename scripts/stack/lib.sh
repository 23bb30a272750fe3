# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files; generated files sourced
# Shared helpers for the local stack scripts (up.sh, down.sh, status.sh and the
# per-component files). Sourced, never run. Everything the stack creates lives
# in $STACK_DIR (.stack/, git-ignored) except what cannot: see SHORT_DIR.

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# The stack's services in start order (stack:down stops them in reverse). Each has a file
# scripts/stack/<name>.sh defining <name>_packages, _start, _stop and _status; up, down and
# status read this one list. The demo cluster and the config writer are not services.
STACK_SERVICES=(certs postgres docker remotedocker registry haproxy nginx smtp codec seaweedfs temporal temporaltls prometheus kubernetes jaeger)
# Services that read .stack/clusters.yaml: up.sh starts them once it is written (after the list
# above), down.sh stops them first. Same four functions each.
STACK_LATE_SERVICES=(approvals)
REPO_ROOT="$(cd "$STACK_SCRIPTS/../.." && pwd -P)"
STACK_DIR="$REPO_ROOT/.stack"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
SECRETS_DIR="$STACK_DIR/secrets"
PORTS_FILE="$STACK_DIR/ports.env"
LAYOUT_FILE="$STACK_DIR/layout.env"
ENV_FILE="$STACK_DIR/env"
CACHE_DIR="${NOCOBASE_MAINTENANCE_CACHE:-$HOME/.cache/nocobase-maintenance}"
PGBIN=/usr/lib/postgresql/15/bin
SYS_PYTHON=/usr/bin/python3 # Debian's python: pyenv/venv pythons lack python3-aiosmtpd

# Keyed by the repo path so two clones on one machine never share state.
STACK_HASH="$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
if [ -w /run ]; then SHORT_DIR="/run/nocobase-maintenance/$STACK_HASH"; else SHORT_DIR="/tmp/nocobase-maintenance-$STACK_HASH"; fi

# Unix socket paths are limited to ~107 bytes; the longest one we put below
# the socket dir is "postgres/.s.PGSQL.NNNNN.lock" (29 chars).
if [ $((${#RUN_DIR} + 30)) -lt 100 ]; then SOCK_DIR="$RUN_DIR"; else SOCK_DIR="$SHORT_DIR"; fi

# Where the official Go tarball installs; apt's golang-go only if there is no go at all.
PATH="$PATH:/usr/local/go/bin"

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[stack %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Prints which component failed and the end of its log, so a CI failure is
# readable without digging through .stack/logs.
fail() {
  local component="$1"; shift
  printf '\n[stack] FAILED: %s: %s\n' "$component" "$*" >&2
  local file="$LOG_DIR/$component.log"
  if [ -s "$file" ]; then
    # Only this attempt: earlier runs' lines (after a "--- " marker) are noise.
    printf '[stack] last lines of %s (latest attempt):\n' "$file" >&2
    awk '/^--- /{n=0} {line[n++]=$0} END{for(i=(n>40?n-40:0);i<n;i++) print "    " line[i]}' "$file" >&2
  fi
  exit 1
}

ensure_dirs() {
  mkdir -p "$STACK_DIR" "$LOG_DIR" "$RUN_DIR" "$SHORT_DIR" "$SECRETS_DIR"
  chmod 700 "$SECRETS_DIR"
  # PostgreSQL (user postgres) may keep its socket here, whatever our umask.
  chmod 755 "$SHORT_DIR"
  [ "${SHORT_DIR#/run/}" = "$SHORT_DIR" ] || chmod 755 /run/nocobase-maintenance
}

# ---------------------------------------------------------------- packages

# Collects Debian packages for missing commands; one apt run for all of them.
MISSING_PACKAGES=()
need_command() { # need_command <command or abs path> <package>
  if [ "${1#/}" != "$1" ]; then [ -x "$1" ] && return 0; else command -v "$1" >/dev/null 2>&1 && return 0; fi
  case " ${MISSING_PACKAGES[*]-} " in *" $2 "*) ;; *) MISSING_PACKAGES+=("$2") ;; esac
}

install_missing_packages() {
  [ "${#MISSING_PACKAGES[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || fail apt "need root to install: ${MISSING_PACKAGES[*]}"
  log "installing Debian packages: ${MISSING_PACKAGES[*]} (log: $LOG_DIR/apt.log)"
  {
    DEBIAN_FRONTEND=noninteractive apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING_PACKAGES[@]}"
  } >>"$LOG_DIR/apt.log" 2>&1 || fail apt "apt-get install ${MISSING_PACKAGES[*]} failed"
}

# ------------------------------------------------------------------- ports

port_in_use() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Ports are picked once (preferred default, else the next free one) and
# persisted, so URLs and the config stay the same across down/up.
assign_port() { # assign_port VAR default
  local var="$1" port="$2"
  [ -n "${!var:-}" ] && return 0
  while port_in_use "$port" || grep -q "=$port\$" "$PORTS_FILE" 2>/dev/null; do
    port=$((port + 1))
  done
  printf '%s=%s\n' "$var" "$port" >>"$PORTS_FILE"
  printf -v "$var" '%s' "$port"
  log "picked port $port for $var"
}

# Some names (SMTP_PORT...) are also in .stack/env: values inherited from a
# sourced env, maybe another clone's, must never stand in for ours.
STACK_PORT_VARS=(TEMPORAL_PORT TEMPORAL_UI_PORT TEMPORAL_TLS_PORT REGISTRY_PORT PG_PORT LB_PORT HAPROXY_RUNTIME_PORT SMTP_PORT NODE_PORT_1 NODE_PORT_2 NODE_PORT_3
  STANDIN_LB_PORT STANDIN_NODE_PORT_1 STANDIN_NODE_PORT_2 STANDIN_NODE_PORT_3 DOCKER_TLS_PORT DOCKER_SSH_PORT CODEC_PORT NGINX_PORT
  PROMETHEUS_PORT METRICS_PORT TEST_METRICS_PORT SEAWEEDFS_MASTER_PORT SEAWEEDFS_VOLUME_PORT SEAWEEDFS_FILER_PORT SEAWEEDFS_S3_PORT
  KUBE_API_PORT ETCD_PORT ETCD_PEER_PORT KUBE_CM_PORT KUBE_SCHED_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT KUBE_PROXY_HEALTHZ_PORT KUBE_PROXY_METRICS_PORT
  JAEGER_OTLP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT)
load_ports() {
  unset "${STACK_PORT_VARS[@]}"
  if [ -f "$PORTS_FILE" ]; then . "$PORTS_FILE"; fi
}

assign_ports() {
  load_ports
  assign_port TEMPORAL_PORT 7233
  assign_port TEMPORAL_UI_PORT 8233
  assign_port TEMPORAL_TLS_PORT 7243
  assign_port REGISTRY_PORT 5000
  assign_port PG_PORT 55432
  assign_port LB_PORT 18080
  assign_port HAPROXY_RUNTIME_PORT 9999
  assign_port SMTP_PORT 2525
  assign_port CODEC_PORT 8081
  assign_port NODE_PORT_1 13001
  assign_port NODE_PORT_2 13002
  assign_port NODE_PORT_3 13003
  # The stand-in cluster (a test fixture) has its own nodes and its own frontend.
  assign_port STANDIN_LB_PORT 18090
  # Nginx in front of the same stand-in nodes (nginx.sh), as NocoBase's docs configure it.
  assign_port NGINX_PORT 18095
  assign_port STANDIN_NODE_PORT_1 13011
  assign_port STANDIN_NODE_PORT_2 13012
  assign_port STANDIN_NODE_PORT_3 13013
  # The Docker hosts reached over TLS and over SSH (remotedocker.sh).
  assign_port DOCKER_TLS_PORT 2376
  assign_port DOCKER_SSH_PORT 2222
  # Prometheus, and the worker metrics addresses it scrapes (npm start's worker, test workers).
  assign_port PROMETHEUS_PORT 9090
  assign_port METRICS_PORT 9464
  assign_port TEST_METRICS_PORT 9465
  # SeaweedFS, the S3 backup store (seaweedfs.sh); each also takes its port + 10000 for gRPC.
  assign_port SEAWEEDFS_MASTER_PORT 9333
  assign_port SEAWEEDFS_VOLUME_PORT 8380
  assign_port SEAWEEDFS_FILER_PORT 8888
  assign_port SEAWEEDFS_S3_PORT 8333
  # The stack's Kubernetes (kubernetes.sh): control plane on 127.0.0.1, the kubelet on the node's
  # bridge address.
  assign_port KUBE_API_PORT 16443
  assign_port ETCD_PORT 12379
  assign_port ETCD_PEER_PORT 12380
  assign_port KUBE_CM_PORT 10257
  assign_port KUBE_SCHED_PORT 10259
  assign_port KUBELET_PORT 10250
  assign_port KUBELET_HEALTHZ_PORT 10248
  assign_port KUBE_PROXY_HEALTHZ_PORT 10256
  assign_port KUBE_PROXY_METRICS_PORT 10249
  # Jaeger: its OTLP/HTTP receiver and its query service (HTTP API, gRPC).
  assign_port JAEGER_OTLP_PORT 4318
  assign_port JAEGER_QUERY_PORT 16686
  assign_port JAEGER_QUERY_GRPC_PORT 16685
}

# --------------------------------------------------------------- processes

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# Echoes the pid recorded for a component if that process is alive AND its
# command line still contains <marker> (a recycled pid must not count).
live_pid() { # live_pid <name> <marker>
  local file pid
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(head -n 1 "$file" 2>/dev/null | tr -dc 0-9)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  printf '%s' "$pid"
}

# Detached from our session so the daemon outlives this script and the CI
# step that ran it; stdin closed, output appended to the component's log.
# fd 9 is up.sh's lock: a daemon inheriting it would block every later up.
spawn() { # spawn <name> <command...>; records the pid unless the daemon writes its own
  local name="$1"; shift
  printf '\n--- %s starting: %s\n' "$(date -Is)" "$*" >>"$LOG_DIR/$name.log"
  setsid nohup "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
  SPAWNED_PID=$!
}

wait_for() { # wait_for <seconds> <command...>: polls until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}

# A zombie counts as dead: it only waits for its parent to reap it.
pid_alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# Like wait_for, but gives up at once when the daemon just spawned has died
# (port taken, bad flag...) instead of waiting out the timeout.
wait_spawned() { # wait_spawned <name> <pid> <seconds> <command...>
  local name="$1" pid="$2" timeout="$3" deadline=$((SECONDS + $3)); shift 3
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pid" || fail "$name" "exited right after starting"
    [ "$SECONDS" -lt "$deadline" ] || fail "$name" "no answer within ${timeout}s of starting"
    sleep 0.3
  done
}

# A persisted port taken by someone else: say who, rather than let the daemon
# fail with a bind error deep in its log.
require_free_ports() { # require_free_ports <name> <port...>
  local name="$1" port owner; shift
  for port in "$@"; do
    port_in_use "$port" || continue
    owner="$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:.*' | head -n 1)" || true
    fail "$name" "port $port (from $PORTS_FILE) is taken by another process ${owner:-}; stop it or delete that line to pick a new port"
  done
}

wait_pid_gone() { # wait_pid_gone <pid> <seconds>
  local deadline=$((SECONDS + $2))
  while pid_alive "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# TERM, then KILL after <seconds>; prints what it did for down.sh's report.
stop_pid() { # stop_pid <label> <pid> [seconds]
  local label="$1" pid="$2" grace="${3:-20}"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_pid_gone "$pid" "$grace"; then
    warn "$label (pid $pid) ignored TERM for ${grace}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10 || { warn "$label (pid $pid) survived KILL"; return 1; }
  fi
  printf 'stopped %-10s pid %s\n' "$label" "$pid"
}

# ------------------------------------------------------------- env writing

# Single-quoted so any value survives `source`; callers pass KEY VALUE pairs.
# Mode 600: the env carries dev-stack database URLs with passwords.
write_env_file() { # write_env_file <file> KEY VALUE ...; returns 0 if the file changed
  local file="$1" content line; shift
  content='# Generated by `npm run stack:up`. Do not edit: it is rewritten on every up.'$'\n'
  while [ "$#" -ge 2 ]; do
    printf -v line "export %s='%s'" "$1" "${2//\'/\'\\\'\'}"
    content+="$line"$'\n'
    shift 2
  done
  write_text "$file" "$content" 600
}

# Atomic (temp file + rename), and a no-op when the content is the same: a
# second `up` must not touch files (or even directory mtimes).
write_text() { # write_text <file> <content> [mode]; returns 0 if the file changed
  local tmp
  if [ -f "$1" ] && [ "$(cat "$1"; printf x)" = "${2}x" ]; then return 1; fi
  tmp="$(mktemp "$1.XXXXXX")"
  printf '%s' "$2" >"$tmp"
  chmod "${3:-644}" "$tmp"
  mv -f "$tmp" "$1"
}

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

ensure_secret() { # ensure_secret <file>: hex, so it is safe in URLs and SQL
  [ -s "$1" ] && return 0
  (umask 077 && random_secret >"$1.tmp" && mv -f "$1.tmp" "$1")
  chmod 600 "$1"
}
