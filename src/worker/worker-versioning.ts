import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

/**
 * Worker Versioning, off unless both variables are set. A procedure can wait at verify for days;
 * with a deployment name and a build ID, every run is PINNED to the build whose worker started it,
 * so a new release never replays a run it did not start (no `patched()` needed for those runs) and
 * the old build's workers stay until its runs have drained. Unset, the worker is unversioned and a
 * release relies on patching plus the replay test (README: "Deploying a new version of the worker").
 */
export const DEPLOYMENT_ENV = 'NOCOBASE_MAINTENANCE_DEPLOYMENT';
/** One build ID per release (e.g. the git commit): two builds with one ID would share pinned runs. */
export const BUILD_ID_ENV = 'NOCOBASE_MAINTENANCE_BUILD_ID';

/** The versioning variables name half a version: the worker refuses to start rather than guess. */
export class WorkerVersioningError extends Error {
  override name = 'WorkerVersioningError';
}

/** The version this worker is, from the environment; undefined when versioning is off. */
export function deploymentVersionFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerDeploymentVersion | undefined {
  const deploymentName = env[DEPLOYMENT_ENV]?.trim() ?? '';
  const buildId = env[BUILD_ID_ENV]?.trim() ?? '';
  if (!deploymentName && !buildId) return undefined;
  // Half a pair is a mistake, not a choice: an unversioned worker would take every new run away
  // from the versioned builds, a worker without a build ID cannot be pinned to.
  const missing = !deploymentName ? DEPLOYMENT_ENV : !buildId ? BUILD_ID_ENV : undefined;
  if (missing) {
    const [given, value] = deploymentName ? [DEPLOYMENT_ENV, deploymentName] : [BUILD_ID_ENV, buildId];
    throw new WorkerVersioningError(
      `${given}=${value} is set but ${missing} is not: Worker Versioning needs both ` +
        `(e.g. ${DEPLOYMENT_ENV}=nocobase-maintenance ${BUILD_ID_ENV}=$(git rev-parse --short HEAD)), ` +
        'or neither for an unversioned worker',
    );
  }
  return { deploymentName, buildId };
}

/** The SDK options of a versioned worker: every run stays on the build that started it. */
export function pinnedDeploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' };
}
