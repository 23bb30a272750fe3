import type { WorkerDeploymentVersion } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { connectionFailure, connectionOptions, type TemporalEndpoint } from '../client/connect';
import { dataConverterFromEnv } from '../client/data-converter';
import { TASK_QUEUE } from '../common/task-queue';
import type { Tracing } from '../tracing/provider';
import type { WorkerDeps } from './deps';
import { activityTimingsFromEnv } from './activity-timings';
import { livenessHeartbeat } from './liveness-heartbeat';
import { procedureLogAttributes } from './log-attributes';
import { workerTracing } from './tracing';
import { cachedWorkflowBundle } from './workflow-bundle';
import { pinnedDeploymentOptions } from './worker-versioning';

/** How long a stopping worker lets its running activities finish (README: "Deploying a new version of the worker"). */
export const SHUTDOWN_GRACE = '10s';
/** After this the stopping worker exits whatever still runs (a stuck activity is then retried after its heartbeat timeout). */
export const SHUTDOWN_FORCE = '25s';

export interface CreateWorkerOptions {
  endpoint: TemporalEndpoint;
  deps: WorkerDeps;
  taskQueue?: string;
  /**
   * A prebuilt bundle (tests build one per run); otherwise the one cached for this source
   * (src/worker/workflow-bundle.ts: built at image build time, or by the first start on a machine).
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Worker Versioning (src/worker/worker-versioning.ts): runs stay on this build. Unset: unversioned. */
  deployment?: WorkerDeploymentVersion;
  /** Concurrency and cache limits over the SDK's defaults (bench/fleet.ts measures them). */
  tuning?: WorkerTuning;
  /** Traces (src/tracing/provider.ts): spans of workflows and activities. Unset: none. */
  tracing?: Tracing;
}

export type WorkerTuning = Partial<Pick<WorkerOptions,
  'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows' | 'workflowThreadPoolSize' | 'stickyQueueScheduleToStartTimeout'>>;

/** Registers the workflows and the activities built from `deps` on the task queue. */
export async function createWorker(options: CreateWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(connectionOptions(options.endpoint));
  } catch (error) {
    throw connectionFailure(options.endpoint, error);
  }
  const dataConverter = dataConverterFromEnv();
  const tracing = options.tracing ? workerTracing(options.tracing) : undefined;
  const worker = await Worker.create({
    ...(dataConverter ? { dataConverter } : {}),
    connection,
    namespace: options.endpoint.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: createActivities(options.deps),
    workflowBundle: options.workflowBundle ?? (await cachedWorkflowBundle({ tracing: options.tracing !== undefined })).bundle,
    // A cancelled parallel step waits until its activities have stopped, and a waiting activity
    // learns of the cancellation from its next heartbeat: send them often enough that an undo
    // starts within seconds, not the default 80 % of the 30 s heartbeat timeout. Each second: the
    // liveness heartbeat's pace, so a 3 s heartbeat timeout has two seconds of margin.
    maxHeartbeatThrottleInterval: '1s',
    // A workflow cached by a worker that died waits this long on that worker's sticky queue before
    // any worker takes its next task (the SDK's default is 10 s, all of it 503 time during an
    // upgrade). A busy live worker that misses it only costs a replay elsewhere.
    stickyQueueScheduleToStartTimeout: '2s',
    // SIGTERM (a redeploy, `docker stop`): the worker stops polling at once, lets running
    // activities finish for SHUTDOWN_GRACE, then cancels the rest, which hands each back to the
    // server as a failed attempt, retried at once by another worker (resuming from its heartbeat
    // details), instead of waiting out a heartbeat timeout. SHUTDOWN_FORCE ends the process even if
    // an activity ignores its cancellation: before docker-compose.yml's stop_grace_period (30 s).
    shutdownGraceTime: SHUTDOWN_GRACE,
    shutdownForceTime: SHUTDOWN_FORCE,
    // Tracing first: its RunActivity span then covers what the others do, and their log lines carry the trace ID.
    interceptors: { activity: [...(tracing?.activity ?? []), procedureLogAttributes, ...activityTimingsFromEnv(), livenessHeartbeat] },
    ...(tracing ? { sinks: tracing.sinks } : {}),
    ...(options.deployment ? { workerDeploymentOptions: pinnedDeploymentOptions(options.deployment) } : {}),
    ...options.tuning,
  });
  return { worker, connection };
}
