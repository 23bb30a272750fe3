# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# SMTP sink (aiosmtpd's Mailbox handler): every message the workflows send is
# stored as a Maildir file under .stack/mail/new/, where tests read it.

SMTP_MAILDIR="$STACK_DIR/mail"

smtp_packages() {
  need_command "$SYS_PYTHON" python3
  # The approval mails' links are opened in Debian's Chromium by test/e2e/approval-page.test.ts.
  need_command chromium chromium
  "$SYS_PYTHON" -c 'import aiosmtpd' 2>/dev/null || MISSING_PACKAGES+=(python3-aiosmtpd)
}

smtp_answers() { # the 220 greeting, not just an open port
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 3 <&3' _ "$SMTP_PORT" | grep -q 220
}

smtp_start() {
  local pid
  if pid="$(live_pid smtp "$SMTP_MAILDIR")"; then
    wait_for 20 smtp_answers || fail smtp "pid $pid is running but 127.0.0.1:$SMTP_PORT does not greet"
    log "smtp already running (pid $pid)"
    return 0
  fi
  # All three subdirs: Python's Maildir only creates them for a missing root,
  # and tests may list new/ before the first message arrives.
  mkdir -p "$SMTP_MAILDIR/new" "$SMTP_MAILDIR/cur" "$SMTP_MAILDIR/tmp"
  # -n: no setuid to "nobody", who could not write to .stack/mail.
  require_free_ports smtp "$SMTP_PORT"
  spawn smtp "$SYS_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR"
  echo "$SPAWNED_PID" >"$(pid_file smtp)"
  wait_spawned smtp "$SPAWNED_PID" 20 smtp_answers
  log "smtp started (pid $SPAWNED_PID)"
}

smtp_stop() {
  local pid
  if pid="$(live_pid smtp "$SMTP_MAILDIR")"; then stop_pid smtp "$pid" 10; else echo "smtp       was not running"; fi
  rm -f "$(pid_file smtp)"
}

smtp_status() {
  local pid state=stopped rc=1
  if pid="$(live_pid smtp "$SMTP_MAILDIR")" && smtp_answers; then state=running rc=0; fi
  printf '%-10s %-8s pid %-7s smtp://127.0.0.1:%s  maildir %s\n' smtp "$state" "${pid:--}" "$SMTP_PORT" "$SMTP_MAILDIR"
  return "$rc"
}
