# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# Payload encryption for the stack: a 32-byte AES key and a bearer token made once under
# .stack/secrets (0600), and the codec server (scripts/codec-server.ts) on 127.0.0.1:$CODEC_PORT.
# write_stack_env exports the key config (NOCOBASE_MAINTENANCE_CODEC_KEYS) for the worker and every
# client, and TEMPORAL_CODEC_ENDPOINT / TEMPORAL_CODEC_AUTH, which the temporal CLI reads, so the
# README's `temporal` lines show readable payloads. The dev server's Web UI calls the codec server
# from the browser and cannot send a token (it has no login): the UI's origins are served without
# one, which the codec server allows only on loopback (src/codec-server/config.ts).

CODEC_KEY_ID=stack-1
CODEC_KEY_FILE="$SECRETS_DIR/codec-key-$CODEC_KEY_ID"
CODEC_TOKEN_FILE="$SECRETS_DIR/codec-server-token"
CODEC_SERVER_SCRIPT="$REPO_ROOT/scripts/codec-server.ts"

codec_packages() { need_command openssl openssl; } # node: a prerequisite of the repo (README)

codec_url() { printf 'http://127.0.0.1:%s' "$CODEC_PORT"; }
codec_keys_setting() { printf '%s=file:%s' "$CODEC_KEY_ID" "$CODEC_KEY_FILE"; }
codec_ui_origins() { printf 'http://127.0.0.1:%s,http://localhost:%s' "$TEMPORAL_UI_PORT" "$TEMPORAL_UI_PORT"; }

codec_answers() { curl -fsS -o /dev/null --max-time 3 "$(codec_url)/health"; }

codec_secrets() { # once: a second up keeps them, or histories written before could not be read
  if [ ! -s "$CODEC_KEY_FILE" ]; then
    (umask 077 && openssl rand -hex 32 >"$CODEC_KEY_FILE.tmp" && mv -f "$CODEC_KEY_FILE.tmp" "$CODEC_KEY_FILE") ||
      fail codec "could not write $CODEC_KEY_FILE"
  fi
  ensure_secret "$CODEC_TOKEN_FILE"
}

codec_start() {
  local pid
  codec_secrets
  if pid="$(live_pid codec "$CODEC_SERVER_SCRIPT")"; then
    wait_for 20 codec_answers || fail codec "pid $pid is running but $(codec_url) does not answer"
    log "codec server already running (pid $pid)"
    return 0
  fi
  # node_modules (tsx) present: the same install the worker uses.
  bash "$REPO_ROOT/scripts/with-deps.sh" true >>"$LOG_DIR/codec.log" 2>&1 || fail codec "npm dependencies could not be installed"
  require_free_ports codec "$CODEC_PORT"
  # node itself with tsx's loader (not the tsx wrapper): one process, so TERM reaches the server.
  spawn codec env \
    NOCOBASE_MAINTENANCE_CODEC_KEYS="$(codec_keys_setting)" \
    NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS="127.0.0.1:$CODEC_PORT" \
    NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN="file:$CODEC_TOKEN_FILE" \
    NOCOBASE_MAINTENANCE_CODEC_SERVER_CORS_ORIGINS="$(codec_ui_origins)" \
    NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKENLESS_ORIGINS="$(codec_ui_origins)" \
    node --import "$REPO_ROOT/node_modules/tsx/dist/loader.mjs" "$CODEC_SERVER_SCRIPT"
  echo "$SPAWNED_PID" >"$(pid_file codec)"
  wait_spawned codec "$SPAWNED_PID" 30 codec_answers
  log "codec server started (pid $SPAWNED_PID)"
}

codec_stop() {
  local pid
  if pid="$(live_pid codec "$CODEC_SERVER_SCRIPT")"; then stop_pid codec "$pid" 10; else echo "codec      was not running"; fi
  rm -f "$(pid_file codec)"
}

codec_status() {
  local pid state=stopped rc=1
  if pid="$(live_pid codec "$CODEC_SERVER_SCRIPT")" && codec_answers; then state=running rc=0; fi
  printf '%-10s %-8s pid %-7s %s  key %s\n' codec "$state" "${pid:--}" "$(codec_url)" "$CODEC_KEY_ID"
  return "$rc"
}
