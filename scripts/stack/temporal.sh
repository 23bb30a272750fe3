# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# Temporal dev server + Web UI. Persists to .stack/temporal/temporal.db, so
# workflow histories survive down/up (verified: restarting start-dev on an
# existing DB with the same --search-attribute flags is accepted).

TEMPORAL_CLI_VERSION=v1.5.1 # newest tag whose go.mod has no replace line (go install refuses those)
TEMPORAL_DB="$STACK_DIR/temporal/temporal.db"

# A temporal already on PATH wins; otherwise our cached build.
temporal_bin() {
  command -v temporal 2>/dev/null || printf '%s' "$CACHE_DIR/bin/temporal"
}

temporal_packages() {
  command -v temporal >/dev/null 2>&1 && return 0
  [ -x "$CACHE_DIR/bin/temporal" ] && return 0
  need_command go golang-go
}

temporal_build() {
  local bin="$CACHE_DIR/bin/temporal"
  [ -x "$bin" ] && return 0
  command -v temporal >/dev/null 2>&1 && return 0
  # The CLI needs go >= 1.25; go >= 1.21 fetches that toolchain by itself
  # (GOTOOLCHAIN=auto), older ones (bookworm's golang-go is 1.19) cannot.
  local minor
  minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  [ "${minor:-0}" -ge 21 ] || fail temporal-build "$(command -v go) is $(go version 2>&1 | cut -d' ' -f3), too old to build the temporal CLI (needs go >= 1.21); install Go from go.dev into /usr/local/go or put a temporal binary on PATH"
  mkdir -p "$CACHE_DIR/bin"
  log "building temporal CLI $TEMPORAL_CLI_VERSION with $(command -v go) (several minutes, once per machine; log: $LOG_DIR/temporal-build.log)"
  GOBIN="$CACHE_DIR/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" \
    >>"$LOG_DIR/temporal-build.log" 2>&1 || fail temporal-build "go install of the temporal CLI failed"
}

temporal_healthy() {
  "$(temporal_bin)" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" --command-timeout 3s 2>/dev/null | grep -q SERVING &&
    curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$TEMPORAL_UI_PORT/"
}

temporal_start() {
  temporal_build
  local pid
  if pid="$(live_pid temporal "$TEMPORAL_DB")"; then
    wait_for 60 temporal_healthy || fail temporal "pid $pid is running but not answering on 127.0.0.1:$TEMPORAL_PORT"
    log "temporal already running (pid $pid)"
    return 0
  fi
  mkdir -p "$(dirname "$TEMPORAL_DB")"
  require_free_ports temporal "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
  spawn temporal "$(temporal_bin)" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$TEMPORAL_DB" --namespace default --log-level warn \
    --ui-codec-endpoint "http://127.0.0.1:$CODEC_PORT" \
    --dynamic-config-value system.enableActivityEagerExecution=true \
    --search-attribute NocobaseCluster=Keyword \
    --search-attribute NocobaseProcedure=Keyword \
    --search-attribute NocobaseStep=Keyword
  echo "$SPAWNED_PID" >"$(pid_file temporal)"
  wait_spawned temporal "$SPAWNED_PID" 90 temporal_healthy
  log "temporal started (pid $SPAWNED_PID)"
}

temporal_stop() {
  local pid
  if pid="$(live_pid temporal "$TEMPORAL_DB")"; then stop_pid temporal "$pid" 30; else echo "temporal   was not running"; fi
  rm -f "$(pid_file temporal)"
}

temporal_status() {
  local pid state=stopped rc=1
  if pid="$(live_pid temporal "$TEMPORAL_DB")" && temporal_healthy; then state=running; rc=0; fi
  printf '%-10s %-8s pid %-7s grpc 127.0.0.1:%s  ui http://127.0.0.1:%s\n' \
    temporal "$state" "${pid:--}" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
  return "$rc"
}
