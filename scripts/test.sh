#!/usr/bin/env bash
# `npm test`: everything a fresh machine needs, then every suite. Brings the local stack up
# (installing what is missing); if this run started it, this run also stops it again.
set -euo pipefail
cd "$(dirname "$0")/.."

started_stack=false
if ! bash scripts/stack/status.sh >/dev/null 2>&1; then
  started_stack=true
  trap 'bash scripts/stack/down.sh >/dev/null 2>&1 || true' EXIT
fi
bash scripts/stack/up.sh
# shellcheck source=/dev/null
source .stack/env

run() { bash scripts/with-deps.sh "$@"; }
echo "== type check"; run tsc --noEmit -p tsconfig.json
echo "== lint";       run eslint .
echo "== tests (unit, integration, e2e) against the local stack"
files=()
for suite in unit integration e2e; do
  mapfile -t -O "${#files[@]}" files < <(find "test/$suite" -name '*.test.ts' | sort)
done
# One process per file, one file at a time: integration and e2e tests share the stack's clusters.
status=0
report="$(mktemp)"
run node --import tsx --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$report" || status=$?
# Whatever the tests left, `npm start` afterwards finds both clusters empty, as after stack:up.
for cluster in demo standin; do
  run tsx scripts/stack/demo-cluster.ts reset "$cluster" >/dev/null 2>&1 || echo "warning: could not reset the $cluster cluster" >&2
done
if [ "$started_stack" = true ]; then echo "(stopping the stack this run started)"; fi
# The runner's own totals, repeated as the last line so they are not lost above the clean-up.
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$report" | tail -1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$report" | tail -1)
# A file that hits --test-timeout counts as cancelled, not failed: say so, or "0 failed" misleads.
cancelled=$(sed -n 's/^ℹ cancelled \([0-9]*\)$/\1/p' "$report" | tail -1)
rm -f "$report"
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${cancelled:-0} cancelled"
exit "$status"
