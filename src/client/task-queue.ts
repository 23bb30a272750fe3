import { TASK_QUEUE } from '../common/task-queue';

/**
 * Unset in production, where every worker polls and every client starts procedures on the
 * contract queue TASK_QUEUE. Set for a test lane that runs its own worker beside another lane's
 * (`npm test` runs the real-NocoBase tier and the stand-in tier at once; the worker image's test
 * runs a worker in a container): on a queue of their own, neither takes the other's tasks, and a
 * worker stopped at the end of one suite never cancels the other suite's activities.
 */
export const TASK_QUEUE_ENV = 'NOCOBASE_MAINTENANCE_TASK_QUEUE';

/** The queue this process's worker polls and its clients start procedures on. */
export function taskQueue(): string {
  return process.env[TASK_QUEUE_ENV] || TASK_QUEUE;
}
