import { ApplicationFailure } from '@temporalio/activity';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { isKubeNotFound, type KubeApi } from '../../adapters/kubernetes/api';
import { withHelperJob } from '../../adapters/kubernetes/jobs';
import { fileSlug } from '../../adapters/backup-files/file-slug';
import type { FailureType } from '../../common/failure-types';
import type { KubernetesStorageConfig } from '../../config/schema';
import type { StorageVolume } from './storage-volume';

const ROOT = '/storage';
/** How long a helper Job may live; the worker deletes it as soon as its step is done. */
const HELPER_DEADLINE_SECONDS = 3600;

/** A Job name: at most 63 characters, lower-case letters, digits and dashes. */
export function helperJobName(cluster: string, label: string, purpose: string): string {
  const slug = fileSlug(label).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  const name = `${cluster}-storage-${purpose}-${slug}`.replace(/-+/g, '-').slice(0, 63).replace(/-+$/, '');
  return name;
}

/**
 * A ReadWriteMany PVC on Kubernetes, reached by helper Jobs from the tool image that mount it (at
 * /storage) while the worker execs tar and sh in them through the API: the archive streams from
 * the pod's stdout into the backup store, and back through its stdin on a restore.
 */
export function kubernetesVolume(api: KubeApi, namespace: string, cluster: string, storage: KubernetesStorageConfig, toolImage: string, waitMs = 300_000): StorageVolume {
  const helper = (label: string, purpose: string, readOnly: boolean) => ({
    namespace,
    name: helperJobName(cluster, label, purpose),
    image: toolImage,
    claim: storage.pvc,
    readOnly,
    mountPath: ROOT,
    deadlineSeconds: HELPER_DEADLINE_SECONDS,
  });
  const source = `pvc:${namespace}/${storage.pvc}` as const;

  return {
    source,

    async ensureReady(failure: FailureType) {
      try {
        const claim = await api.get<{ status?: { phase?: string } }>(`/api/v1/namespaces/${namespace}/persistentvolumeclaims/${storage.pvc}`);
        if (claim.status?.phase !== 'Bound') throw ApplicationFailure.nonRetryable(`storage ${source} is ${claim.status?.phase ?? 'not bound'}, not Bound`, failure);
      } catch (error) {
        if (isKubeNotFound(error)) throw ApplicationFailure.nonRetryable(`storage ${source} does not exist`, failure);
        throw error;
      }
    },

    archive(label, sink) {
      return withHelperJob(api, helper(label, 'backup', true), waitMs, async (pod) => {
        const tar = new PassThrough();
        const consumed = sink(tar);
        const exec = api
          .exec(namespace, pod, ['tar', '-C', ROOT, '-cf', '-', '.'], {
            onStdout: async (chunk) => {
              if (!tar.write(chunk)) await once(tar, 'drain');
            },
          })
          .then((result) => {
            if (result.exitCode !== 0) throw new Error(`tar in ${pod} exited with ${result.exitCode}: ${result.stderr.trim()}`);
            tar.end();
          })
          .catch((error: unknown) => {
            // The consumer sees a broken stream, never a short archive that looks whole.
            tar.destroy(error as Error);
            throw error;
          });
        const [value] = await Promise.all([consumed, exec]);
        return value;
      });
    },

    run(label, purpose, command) {
      return withHelperJob(api, helper(label, purpose, false), waitMs, async (pod) => {
        const result = await api.exec(namespace, pod, command);
        return { exitCode: result.exitCode, output: `${result.stdout.toString('utf8')}${result.stderr}` };
      });
    },

    async unpack(label, into, tar: Readable) {
      if (into.includes('..')) throw ApplicationFailure.nonRetryable(`unpack target ${into} leaves the storage`, 'InvalidInput');
      await withHelperJob(api, helper(label, 'restore', false), waitMs, async (pod) => {
        const result = await api.exec(namespace, pod, ['tar', '-C', `${ROOT}/${into}`, '-xf', '-'], { stdin: tar });
        if (result.exitCode !== 0) throw new Error(`tar -x in ${pod} exited with ${result.exitCode}: ${result.stderr.trim()}`);
      });
    },
  };
}
