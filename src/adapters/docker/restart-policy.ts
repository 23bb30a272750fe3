import type Docker from 'dockerode';

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
