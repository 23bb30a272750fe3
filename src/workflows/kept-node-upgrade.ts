import { patched } from '@temporalio/workflow';
import { leavesUpgradePending, type MaintenanceOperation } from '../procedures/in-app-maintenance';
import { quick } from './activity-options';
import { bringUp, restoreTraffic, stopNodes } from './node-rollout';
import type { ProcedureTracker } from './procedure-tracker';

/**
 * The upgrade `pm add` leaves behind during in-app maintenance. NocoBase's `pm add` writes
 * `storage/.upgrading` on the shared storage, so the NEXT start of any node runs the upgrade
 * (migrations), and no lock keeps two nodes from running it at once on one database. So once an
 * add ran (or was tried), the kept node is restarted ALONE and its upgrade awaited before any
 * other node starts, on the way forward and in the undo alike; its upgrade removes the marker,
 * and the others then start as they always do.
 */
export class KeptNodeUpgrade {
  private pending = false;

  constructor(private readonly cluster: string) {}

  /** Called before each operation runs. */
  noteOperation(operation: MaintenanceOperation): void {
    if (this.pending || !leavesUpgradePending(operation)) return;
    // Runs recorded before this rule replay without the restart, as they ran.
    this.pending = patched('restart-kept-node-after-pm-add');
  }

  /** The kept node was restarted alone and became ready another way (a restore): nothing is left to run. */
  settled(): void {
    this.pending = false;
  }

  /**
   * When an upgrade is pending: the maintenance page goes on (the only serving node goes away),
   * the kept node is stopped, started alone and awaited until health 200, `app:getInfo` and the
   * database agree on `version` (when known) with its plugins enabled, then it gets traffic back
   * and the page goes off. A failed upgrade fails here (NodeFailed at `APP_ERROR`), before any
   * other node could run it too. Idempotent: stop and start are, and a settled upgrade is a no-op.
   */
  async runAlone(node: string, version: string | null, tracker: ProcedureTracker): Promise<void> {
    if (!this.pending) return;
    const { cluster } = this;
    tracker.waitingFor(`${node} to restart alone and run the upgrade pm add left pending`);
    await tracker.watchesStopped();
    await quick.setMaintenanceMode({ cluster, on: true });
    await stopNodes(cluster, [node], tracker);
    await bringUp(cluster, node, tracker, { requirePlugins: true, expectVersion: version });
    await restoreTraffic(tracker, cluster, [node]);
    this.pending = false;
    tracker.waitingFor(undefined);
  }
}
