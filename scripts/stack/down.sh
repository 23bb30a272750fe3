#!/usr/bin/env bash
# npm run stack:down — stops everything stack:up started (reverse order; the
# demo containers first) and checks that no process of the stack is left.
# Data in .stack/ is kept for the next up.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/stack/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1090 # the component files, named right here
for component in "${STACK_SERVICES[@]}" "${STACK_LATE_SERVICES[@]}"; do . "$here/$component.sh"; done

load_ports
docker_resolve_mode saved
postgres_resolve_layout saved

# Containers before anything they talk to (postgres, haproxy health checks).
docker_stop_containers
for ((i = ${#STACK_LATE_SERVICES[@]} - 1; i >= 0; i--)); do "${STACK_LATE_SERVICES[i]}_stop"; done
for ((i = ${#STACK_SERVICES[@]} - 1; i >= 0; i--)); do "${STACK_SERVICES[i]}_stop"; done

# Daemons of this stack carry one of these in their command line: the stack
# dir, the short runtime dir (containerd, shims) or the PostgreSQL cluster name.
leftover_pids() {
  local pattern regex
  for pattern in "$STACK_DIR/" "$SHORT_DIR/" "$PG_CLUSTER_NAME" ${PG_DATA:+"$PG_DATA"}; do
    regex="$(printf '%s' "$pattern" | sed 's/[][\.*^$+?(){}|]/\\&/g')"
    pgrep -f -- "$regex" || true
  done | sort -un | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

# Only our daemons are killed; anything else (say, a `tail -f` on a log) is
# reported and left alone.
remaining=0
for pid in $(leftover_pids); do
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || continue
  case "$comm" in
    temporal | dockerd | containerd* | docker-registry | postgres | haproxy | nginx | prometheus | weed | python3*)
      warn "leftover $comm (pid $pid): $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-160)"
      stop_pid "$comm" "$pid" 10 || remaining=1
      ;;
    *) warn "process $pid ($comm) mentions the stack but is not one of its daemons; left running" ;;
  esac
done
[ "$remaining" = 0 ] || { echo "some stack processes could not be stopped" >&2; exit 1; }
echo "stack is down (data kept in $STACK_DIR)"
