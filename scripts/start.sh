#!/usr/bin/env bash
# `npm start`: the main job on the embedded default. Brings the local stack up (Temporal dev
# server with its UI, Docker, registry, PostgreSQL, HAProxy, SMTP, the approval page the mails
# link to, the 3-node `demo` cluster of real NocoBase),
# prints how to start a procedure, then runs the worker in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/stack/up.sh
# shellcheck source=/dev/null
source .stack/env
# The worker serves its metrics where the stack's Prometheus scrapes them.
export NOCOBASE_MAINTENANCE_METRICS="${NOCOBASE_MAINTENANCE_METRICS:-$STACK_WORKER_METRICS}"
temporal=temporal
command -v temporal >/dev/null 2>&1 || temporal="$TEMPORAL_BIN"

cat <<TXT

================================================================================
 nocobase-maintenance is ready on the local stack.

 Temporal UI:     $TEMPORAL_UI_URL
 Load balancer:   $LB_URL   (503 maintenance page until the cluster is started)
 NocoBase login:  $DEMO_ROOT_EMAIL / $DEMO_ROOT_PASSWORD   (real NocoBase ${DEMO_IMAGE_V1##*:}; the 2.2.14 image is the 2.2.15 release relabelled, a test fixture)
 Mail received:   $SMTP_MAILDIR/new/
 Approval page:   $APPROVALS_URL   (the mails' Approve/Reject links open it; the stack runs it)
 Worker metrics:  http://$NOCOBASE_MAINTENANCE_METRICS/metrics   (Prometheus text format)
 Prometheus:      $PROMETHEUS_URL   (scrapes the worker every second; alert rules: deploy/prometheus/alerts.yml)

 In another terminal, first take the stack's settings (its Temporal address, and the codec
 endpoint and token: the stack encrypts payloads, so without them the CLI shows ciphertext):

   source $PWD/.stack/env

 Start the demo cluster (first start: node 1 installs NocoBase alone, then nodes 2 and 3):

   $temporal workflow start --address $TEMPORAL_ADDRESS --task-queue nocobase-maintenance --fail-existing --type firstStart --workflow-id maintenance-demo --input '{"cluster":"demo"}'

 Give it business data (a collection and 20 records, through NocoBase's API): npm run demo:data

 Then upgrade it to ${DEMO_IMAGE_V2##*:} (a human decides: the Approve link in the mail to ops@demo.test
 in $SMTP_MAILDIR/new/, or the signal below):

   $temporal workflow start --address $TEMPORAL_ADDRESS --task-queue nocobase-maintenance --fail-existing --type versionUpgrade --workflow-id maintenance-demo --input '{"cluster":"demo","image":"$DEMO_IMAGE_V2"}'
   $temporal workflow signal --address $TEMPORAL_ADDRESS --workflow-id maintenance-demo --name approve --input '{"by":"alice"}'

 Watch it:
   $temporal workflow query --address $TEMPORAL_ADDRESS --workflow-id maintenance-demo --name status
   $temporal workflow result --address $TEMPORAL_ADDRESS --workflow-id maintenance-demo

 Start over with an empty demo cluster: npm run demo:reset
================================================================================

TXT
exec bash scripts/with-deps.sh tsx src/worker/main.ts
