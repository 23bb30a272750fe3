import type Docker from 'dockerode';
import { nullIfNotFound } from './errors';

/**
 * A container's restart policy, which the Engine applies when dockerd (re)starts: `always`
 * starts even a container that was stopped by hand. A node a procedure holds stopped, or the
 * saved previous container, must therefore not keep it while its data is being upgraded.
 */

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** Only for `on-failure`: how many restarts before giving up (0: no limit). */
  maximumRetryCount?: number;
}

export const RESTART_POLICY_NAMES: readonly RestartPolicyName[] = ['no', 'always', 'unless-stopped', 'on-failure'];

/** The policy as the Engine reports it (`""` is the Engine's spelling of `no`). */
export function restartPolicyFrom(host: Docker.HostConfig | undefined): RestartPolicy {
  const name = host?.RestartPolicy?.Name;
  const known = RESTART_POLICY_NAMES.find((candidate) => candidate === name) ?? 'no';
  if (known === 'on-failure') return { name: known, maximumRetryCount: host?.RestartPolicy?.MaximumRetryCount ?? 0 };
  return { name: known };
}

export function sameRestartPolicy(a: RestartPolicy, b: RestartPolicy): boolean {
  return a.name === b.name && (a.name !== 'on-failure' || (a.maximumRetryCount ?? 0) === (b.maximumRetryCount ?? 0));
}

/** Sets the policy of an existing container, running or not, without restarting it. */
export async function setRestartPolicy(docker: Docker, container: string, policy: RestartPolicy): Promise<void> {
  await docker.getContainer(container).update({
    RestartPolicy: { Name: policy.name, MaximumRetryCount: policy.name === 'on-failure' ? (policy.maximumRetryCount ?? 0) : 0 },
  });
}

/*
 * The durable record of a suspended policy. A container's labels cannot change after it is
 * created, and a worker-local file is not there for another worker or the next run; so the record
 * is an empty volume on the node's own Docker host, named after the container and labelled with
 * the policy to give back. `docker volume inspect <container>-held-restart-policy` shows it to a
 * person; findLeftovers shows it to the next run's pre-flight. It holds no data.
 */
const HELD_LABEL = 'nocobase-maintenance.held-restart-policy';
const RETRIES_LABEL = 'nocobase-maintenance.maximum-retry-count';
const CONTAINER_LABEL = 'nocobase-maintenance.container';

export function heldPolicyRecordName(container: string): string {
  return `${container}-held-restart-policy`;
}

/** The policy recorded for `container` by a suspension not yet given back, or undefined. */
export async function readHeldPolicy(docker: Docker, container: string): Promise<RestartPolicy | undefined> {
  const volume = await nullIfNotFound(docker.getVolume(heldPolicyRecordName(container)).inspect());
  const labels = volume?.Labels ?? {};
  const name = RESTART_POLICY_NAMES.find((candidate) => candidate === labels[HELD_LABEL]);
  if (!name) return undefined;
  return name === 'on-failure' ? { name, maximumRetryCount: Number(labels[RETRIES_LABEL] ?? 0) } : { name };
}

/** Records `policy` as the one to give back; a record that says otherwise is replaced. Idempotent. */
export async function recordHeldPolicy(docker: Docker, container: string, policy: RestartPolicy): Promise<void> {
  const recorded = await readHeldPolicy(docker, container);
  if (recorded && sameRestartPolicy(recorded, policy)) return;
  if (recorded) await forgetHeldPolicy(docker, container);
  const labels: Record<string, string> = { [HELD_LABEL]: policy.name, [CONTAINER_LABEL]: container };
  if (policy.name === 'on-failure') labels[RETRIES_LABEL] = String(policy.maximumRetryCount ?? 0);
  await docker.createVolume({ Name: heldPolicyRecordName(container), Labels: labels });
}

/** Removes the record once the policy is given back. Idempotent. */
export async function forgetHeldPolicy(docker: Docker, container: string): Promise<void> {
  await nullIfNotFound(docker.getVolume(heldPolicyRecordName(container)).remove());
}

/** The `docker update` line that gives `policy` back, for recovery texts. */
export function restartFlag(policy: RestartPolicy): string {
  return policy.name === 'on-failure' && policy.maximumRetryCount ? `on-failure:${policy.maximumRetryCount}` : policy.name;
}
