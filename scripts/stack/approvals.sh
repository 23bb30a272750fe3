# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# The approval page the mails' Approve/Reject links open (src/approval-page), on the address the
# stack's clusters.yaml gives as `approvals.pageUrl` and `listen` (config.sh: APPROVALS_PORT). A
# late service: it reads that file, so up.sh starts it after the config is written (STACK_LATE_SERVICES),
# and `npm start` (which runs up.sh) and `npm test` get it with the rest of the stack. Its Temporal
# client reads the stack's payloads with the stack's codec key, as the worker does.

APPROVALS_PORT="${STACK_APPROVALS_PORT:-18190}"
APPROVALS_SCRIPT="$REPO_ROOT/src/approval-page/main.ts"

approvals_packages() { :; } # node: a prerequisite of the repo (README)

approvals_url() { printf 'http://127.0.0.1:%s' "$APPROVALS_PORT"; }
approvals_answers() { curl -fsS -o /dev/null --max-time 3 "$(approvals_url)/health"; }

approvals_start() {
  local pid
  if pid="$(live_pid approvals "$APPROVALS_SCRIPT")"; then
    wait_for 20 approvals_answers || fail approvals "pid $pid is running but $(approvals_url) does not answer"
    log "approval page already running (pid $pid)"
    return 0
  fi
  bash "$REPO_ROOT/scripts/with-deps.sh" true >>"$LOG_DIR/approvals.log" 2>&1 || fail approvals "npm dependencies could not be installed"
  require_free_ports approvals "$APPROVALS_PORT"
  # node itself with tsx's loader (not the tsx wrapper): one process, so TERM reaches the server.
  spawn approvals env \
    NOCOBASE_MAINTENANCE_CONFIG="$CLUSTERS_FILE" \
    TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" \
    TEMPORAL_NAMESPACE=default \
    NOCOBASE_MAINTENANCE_CODEC_KEYS="$(codec_keys_setting)" \
    APPROVALS_LISTEN="127.0.0.1:$APPROVALS_PORT" \
    node --import "$REPO_ROOT/node_modules/tsx/dist/loader.mjs" "$APPROVALS_SCRIPT"
  echo "$SPAWNED_PID" >"$(pid_file approvals)"
  wait_spawned approvals "$SPAWNED_PID" 30 approvals_answers
  log "approval page started (pid $SPAWNED_PID) at $(approvals_url)"
}

approvals_stop() {
  local pid
  if pid="$(live_pid approvals "$APPROVALS_SCRIPT")"; then stop_pid approvals "$pid" 10; else echo "approvals  was not running"; fi
  rm -f "$(pid_file approvals)"
}

approvals_status() {
  local pid state=stopped rc=1
  if pid="$(live_pid approvals "$APPROVALS_SCRIPT")" && approvals_answers; then state=running rc=0; fi
  printf '%-10s %-8s pid %-7s %s  (the approval mails'"'"' links)\n' approvals "$state" "${pid:--}" "$(approvals_url)"
  return "$rc"
}
