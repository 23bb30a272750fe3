import { ApplicationFailure } from '@temporalio/activity';
import { ensureImage, imagePresent } from '../../adapters/docker/image-pull';
import { isNotFound } from '../../adapters/docker/errors';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig } from '../../config/schema';
import { activityHooks } from '../activity-context';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { registryImageLabels } from '../../adapters/registry/image-labels';

export interface ImagePresence {
  dockerHost: string;
  image: string;
  pulled: boolean;
}

/** Every (host, image) pair of the cluster, each once: nodes often share a Docker host. */
function hostImagePairs(cluster: ClusterConfig, images: string[]): { dockerHost: string; image: string }[] {
  // Kubernetes nodes have no Docker host here: their kubelet pulls the image when a pod starts.
  const hosts = [...new Set(cluster.nodes.flatMap((node) => ('dockerHost' in node ? [node.dockerHost] : [])))];
  return hosts.flatMap((dockerHost) => [...new Set(images)].map((image) => ({ dockerHost, image })));
}

export function createImageActivities(deps: ActivityDeps) {
  return {
    /**
     * The application version an image carries in its `org.opencontainers.image.version` label,
     * or null when it has none. Read-only; safe to retry; the image must be on the first node's
     * host already (ImageUnavailable, non-retryable, otherwise).
     */
    async imageVersion(input: { cluster: string; image: string }): Promise<string | null> {
      const [first] = getCluster(deps, input.cluster).nodes;
      if (!first) return null;
      if (!('dockerHost' in first)) {
        // A Kubernetes node has no Docker host to ask: the image's registry says it.
        try {
          return (await registryImageLabels(input.image))['org.opencontainers.image.version'] ?? null;
        } catch (error) {
          throw ApplicationFailure.nonRetryable(`image ${input.image}: ${(error as Error).message}`, FailureType.ImageUnavailable);
        }
      }
      try {
        const info = await deps.docker(first.dockerHost).getImage(input.image).inspect();
        return info.Config.Labels?.['org.opencontainers.image.version'] ?? null;
      } catch (error) {
        if (isNotFound(error)) throw ApplicationFailure.nonRetryable(`image ${input.image} is not on ${first.dockerHost}`, FailureType.ImageUnavailable);
        throw error;
      }
    },

    /** Whether each image is on each of the cluster's Docker hosts, without pulling. Read-only; safe to retry. */
    async inspectImages(input: { cluster: string; images: string[] }): Promise<{ dockerHost: string; image: string; present: boolean }[]> {
      const found: { dockerHost: string; image: string; present: boolean }[] = [];
      for (const { dockerHost, image } of hostImagePairs(getCluster(deps, input.cluster), input.images)) {
        found.push({ dockerHost, image, present: await imagePresent(deps.docker(dockerHost), image) });
      }
      return found;
    },

    /**
     * Makes sure each image is on every Docker host of the cluster, pulling what is missing before
     * anything else is touched; heartbeats pull progress. Side effect: images pulled onto the
     * hosts. Idempotent and safe to retry: present images are not pulled again. A tag or
     * repository the registry does not have fails ImageUnavailable, non-retryable.
     */
    async ensureImages(input: { cluster: string; images: string[] }): Promise<ImagePresence[]> {
      const hooks = activityHooks();
      const results: ImagePresence[] = [];
      for (const { dockerHost, image } of hostImagePairs(getCluster(deps, input.cluster), input.images)) {
        hooks.progress?.({ image, dockerHost, status: 'checking' });
        const pulled = await ensureImage(deps.docker(dockerHost), image, { dockerHost, hooks });
        results.push({ dockerHost, image, pulled });
      }
      return results;
    },
  };
}
