import { setTimeout as sleep } from 'node:timers/promises';
import { isKubeConflict, isKubeNotFound, type KubeApi } from './api';
import type { Pod } from './deployments';

/**
 * A helper Job whose one pod mounts a PVC and waits (`sleep`) while the worker execs into it, then
 * is deleted with its pod. A Job, not a bare pod: its controller records what ran, and
 * `activeDeadlineSeconds` ends a helper that a dead worker left behind.
 */

export const HELPER_LABEL = 'nocobase-maintenance.io/helper';

export interface HelperJobSpec {
  namespace: string;
  name: string;
  image: string;
  claim: string;
  readOnly: boolean;
  mountPath: string;
  /** How long the helper may live at most (a worker that died mid-way leaves it to this). */
  deadlineSeconds: number;
}

function jobBody(spec: HelperJobSpec): unknown {
  const labels = { [HELPER_LABEL]: 'storage', 'app.kubernetes.io/managed-by': 'nocobase-maintenance' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: spec.name, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: spec.deadlineSeconds,
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          automountServiceAccountToken: false,
          containers: [{
            name: 'tool',
            image: spec.image,
            command: ['sh', '-c', `sleep ${spec.deadlineSeconds}`],
            volumeMounts: [{ name: 'storage', mountPath: spec.mountPath, readOnly: spec.readOnly }],
          }],
          volumes: [{ name: 'storage', persistentVolumeClaim: { claimName: spec.claim, readOnly: spec.readOnly } }],
        },
      },
    },
  };
}

const jobPath = (namespace: string, name: string) => `/apis/batch/v1/namespaces/${namespace}/jobs/${name}`;

export async function deleteJob(api: KubeApi, namespace: string, name: string): Promise<boolean> {
  return api.delete(jobPath(namespace, name), { propagationPolicy: 'Foreground', gracePeriodSeconds: 0 });
}

async function podOfJob(api: KubeApi, namespace: string, name: string): Promise<Pod | undefined> {
  const { items } = await api.get<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`job-name=${name}`)}`);
  return items.find((pod) => pod.metadata.deletionTimestamp === undefined);
}

/**
 * Creates the helper (after removing a leftover of an earlier attempt under the same name), waits
 * until its pod runs, hands the pod's name to `work`, and deletes the Job whatever happened.
 */
export async function withHelperJob<T>(api: KubeApi, spec: HelperJobSpec, waitMs: number, work: (pod: string) => Promise<T>): Promise<T> {
  const { namespace, name } = spec;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await api.create(`/apis/batch/v1/namespaces/${namespace}/jobs`, jobBody(spec));
      break;
    } catch (error) {
      if (!isKubeConflict(error) || attempt > 30) throw error;
      // A leftover of an earlier attempt (maybe still terminating): remove it and try again.
      await deleteJob(api, namespace, name);
      await sleep(1000);
    }
  }
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const pod = await podOfJob(api, namespace, name);
      const waiting = pod?.status.containerStatuses?.[0]?.state?.waiting;
      if (pod?.status.phase === 'Running') return await work(pod.metadata.name);
      if (pod?.status.phase === 'Failed' || pod?.status.phase === 'Succeeded') throw new Error(`helper pod ${pod.metadata.name} ended (${pod.status.phase}) before it was used`);
      if (waiting?.reason && /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError/.test(waiting.reason)) {
        throw new Error(`helper pod ${pod?.metadata.name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
      }
      if (Date.now() > deadline) throw new Error(`helper Job ${namespace}/${name} has no running pod after ${Math.round(waitMs / 1000)}s (${pod ? pod.status.phase : 'no pod'})`);
      await sleep(500);
    }
  } finally {
    await deleteJob(api, namespace, name);
    // Until it is gone with its pod (a few seconds): no helper outlives its step holding the PVC.
    for (let i = 0; i < 60; i += 1) {
      const gone = await api.get(jobPath(namespace, name)).then(() => false, (error: unknown) => isKubeNotFound(error));
      if (gone) break;
      await sleep(500);
    }
  }
}
