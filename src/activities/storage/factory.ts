import { ApplicationFailure } from '@temporalio/activity';
import type { Hooks } from '../../adapters/hooks';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig } from '../../config/schema';
import type { ActivityDeps } from '../deps';
import { dockerVolume } from './docker-volume';
import { kubernetesVolume } from './kubernetes-volume';
import type { StorageVolume } from './storage-volume';

/** The one place that picks the storage's adapter: a PVC on Kubernetes, else a Docker volume or host path. */
export function storageVolume(deps: ActivityDeps, clusterName: string, cluster: ClusterConfig, hooks: Hooks): StorageVolume | null {
  const storage = cluster.storage;
  if (!storage) return null;
  if ('pvc' in storage) {
    if (!cluster.kubernetes || !deps.kubernetes) {
      throw ApplicationFailure.nonRetryable(`cluster ${clusterName}: storage on PVC ${storage.pvc} needs the cluster's kubernetes: section`, FailureType.Misconfigured);
    }
    return kubernetesVolume(deps.kubernetes(clusterName), cluster.kubernetes.namespace, clusterName, storage, cluster.kubernetes.toolImage ?? cluster.backup.toolImage);
  }
  return dockerVolume(deps.docker(storage.dockerHost), clusterName, storage, cluster.backup.toolImage, hooks);
}
