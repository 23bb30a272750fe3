/** The task queue every worker polls and every client starts procedures on. Public contract. */
export const TASK_QUEUE = 'nocobase-maintenance';

/**
 * Every procedure on a cluster runs under this one workflow ID. Temporal refuses to start a
 * second workflow with the ID of a running one, so two procedures of any kind can never run on
 * one cluster at once — the server enforces it, not a lock of ours.
 */
export function procedureWorkflowId(cluster: string): string {
  return `maintenance-${cluster}`;
}
