import { patched } from '@temporalio/workflow';
import { LOCAL_STEPS_PATCH } from './activity-options';

/**
 * Every patch a procedure checks anywhere, by ID (test/unit/patches.test.ts keeps this list
 * complete).
 *
 * `patched()` answers from what the history of the CURRENT workflow task shows. With local
 * activities, where one task ends is no longer fixed by the code: a local activity's result may
 * be recorded at the end of one task and the code after it run in the next (seen after a worker
 * restart), while a replay hands the result over inside the first task. A patch checked right
 * after a local activity would then be asked in a task whose history does not show it: it
 * answers false, and the replay fails on the marker it then meets. So runs that take local
 * activities record every patch at their start, before any activity, and every later check of
 * it answers true, in the original run and in any replay alike.
 */
export const PATCHES: readonly string[] = [
  'approval-open-before-mail',
  'approval-signed-links',
  'approval-token-verify',
  'fast-failover',
  'finish-after-point-of-no-return',
  'hold-load-balancer',
  'in-app-backup-checked',
  'in-app-holds-restart-policies',
  'let-go-of-watch-lazily',
  'maintenance-done-checked',
  'point-of-no-return-before-switch',
  'preflight-reads-in-parallel',
  'preflight-refuses-leftovers',
  'prune-backups-after-run',
  'restart-policies-every-ending',
  'restart-kept-node-after-pm-add',
  'signed-every-decision',
  'structured-parallel-steps',
  'suspend-restart-policies',
  'two-person-needs-two-approvers',
  'undo-needs-first',
  'wait-cancellation-completed',
  'worker-nodes-last',
];

/**
 * Called first thing by every procedure: in runs with local activities, records every patch now.
 * Runs recorded before local activities (no LOCAL_STEPS_PATCH marker) check each patch where
 * they always did.
 */
export function takePatchesUpFront(): void {
  if (!patched(LOCAL_STEPS_PATCH)) return;
  for (const id of PATCHES) patched(id);
}
