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
  mapfile -t -O "${#files[@]}" files < <(find "test/$suite" -name '*.test.ts' | sort | grep -E "${NOCOBASE_MAINTENANCE_TESTS:-.}")
done
# (NOCOBASE_MAINTENANCE_TESTS, a regular expression over the files' paths, runs only those.)
# Five lanes. A file's first lines may name its lane (`// test-lane: nocobase|standin|kubernetes|exclusive`):
# - nocobase: the real-NocoBase tier (the demo cluster, the README), on the contract task queue;
# - standin:  integration and the stand-in cluster, at the same time, with a worker on a queue of
#             its own so neither lane's worker takes or cancels the other's work;
# - unit:     test/unit (its own Temporal dev servers, no cluster), at the same time: these tests
#             mostly wait on timers and servers (measured: 4.4 min wall, 2 min CPU), so a lane of
#             their own shortens the run more than it slows the others;
# - kubernetes: real NocoBase on the stack's Kubernetes (its own cluster, database and PVC), with a
#             worker on a queue of its own, at the same time as the others;
# - exclusive: files that restart a daemon every lane uses (dockerd, HAProxy), alone, afterwards.
# Within a lane one file at a time: its integration and e2e files share that lane's cluster.
lanes=(nocobase standin unit kubernetes exclusive)
declare -A lane_files=()
for file in "${files[@]}"; do
  lane=$(sed -n '1,5s|^// test-lane: \([a-z]*\)$|\1|p' "$file" | head -1)
  if [ -z "$lane" ]; then case "$file" in test/unit/*) lane=unit ;; *) lane=standin ;; esac; fi
  lane_files[$lane]+="$file "
done
reports="$(mktemp -d)"
run_lane() { # lane, then extra environment; its log and exit status in $reports
  local lane=$1 code=0; shift
  # A lane with no files (a subset run) runs nothing: `node --test` without files would run
  # every test file it finds, the fixtures' own included.
  if [ -z "${lane_files[$lane]:-}" ]; then echo 0 >"$reports/$lane.status"; return 0; fi
  : >"$reports/$lane.log"
  tail -n +1 -F "$reports/$lane.log" 2>/dev/null | sed -u "s/^/[$lane] /" &
  local follower=$!
  # shellcheck disable=SC2086
  env "$@" bash scripts/with-deps.sh node --import tsx --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec ${lane_files[$lane]:-} \
    >>"$reports/$lane.log" 2>&1 || code=$?
  sleep 1; kill "$follower" 2>/dev/null || true
  echo "$code" >"$reports/$lane.status"
}
own_queue=(NOCOBASE_MAINTENANCE_TASK_QUEUE=nocobase-maintenance-standin-lane)
run_lane nocobase NOCOBASE_MAINTENANCE_TEST_LANE=nocobase & nocobase_lane=$!
run_lane standin NOCOBASE_MAINTENANCE_TEST_LANE=standin "${own_queue[@]}" & standin_lane=$!
run_lane unit NOCOBASE_MAINTENANCE_TEST_LANE=unit NOCOBASE_MAINTENANCE_TASK_QUEUE=nocobase-maintenance-unit-lane & unit_lane=$!
run_lane kubernetes NOCOBASE_MAINTENANCE_TEST_LANE=kubernetes NOCOBASE_MAINTENANCE_TASK_QUEUE=nocobase-maintenance-kubernetes-lane & kubernetes_lane=$!
wait "$nocobase_lane" "$standin_lane" "$unit_lane" "$kubernetes_lane"
if [ -n "${lane_files[exclusive]:-}" ]; then run_lane exclusive NOCOBASE_MAINTENANCE_TEST_LANE=exclusive "${own_queue[@]}"; fi
total() { # the runner's own figure, summed over the lanes
  cat "$reports"/*.log | sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" | awk '{ sum += $1 } END { print sum + 0 }'
}
status=0
for lane in "${lanes[@]}"; do
  if [ -f "$reports/$lane.status" ] && [ "$(cat "$reports/$lane.status")" != 0 ]; then status=1; fi
done
passed=$(total pass); failed=$(total fail); cancelled=$(total cancelled)
# Whatever the tests left, `npm start` afterwards finds both clusters empty, as after stack:up.
for cluster in demo standin; do
  run tsx scripts/stack/demo-cluster.ts reset "$cluster" >/dev/null 2>&1 || echo "warning: could not reset the $cluster cluster" >&2
done
if [ "$started_stack" = true ]; then echo "(stopping the stack this run started)"; fi
# The runner's own totals, repeated as the last line so they are not lost above the clean-up.
rm -rf "$reports"
# A file that hits --test-timeout counts as cancelled, not failed: say so, or "0 failed" misleads.
echo "tests: ${passed} passed, ${failed} failed, ${cancelled} cancelled"
exit "$status"
