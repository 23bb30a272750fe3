#!/usr/bin/env bash
# npm run stack:status — one line per component; exit 0 only if all are up.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/stack/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1090 # the component files, named right here
for component in "${STACK_SERVICES[@]}" "${STACK_LATE_SERVICES[@]}" demo; do . "$here/$component.sh"; done

if [ ! -f "$PORTS_FILE" ]; then
  echo "stack not set up ($PORTS_FILE missing): run npm run stack:up"
  exit 1
fi
load_ports
docker_resolve_mode saved
postgres_resolve_layout saved

rc=0
for component in "${STACK_SERVICES[@]}" "${STACK_LATE_SERVICES[@]}" demo; do
  "${component}_status" || rc=1
done
exit "$rc"
