import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { isNotFound } from '../../adapters/docker/errors';

export interface ImagePresence {
  dockerHost: string;
  image: string;
  pulled: boolean;
}

/** Registry answers that will not change on a retry. */
const PERMANENT_PULL_ERROR = /manifest unknown|not found|repository does not exist|invalid reference|unauthorized/i;

export function createImageActivities(deps: ActivityDeps) {
  async function pull(docker: Docker, image: string): Promise<void> {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: { status?: string; id?: string; progress?: string; error?: string }) => {
          // Heartbeats carry pull progress so the UI shows movement and a stuck pull times out.
          Context.current().heartbeat({ image, status: event.status, layer: event.id, progress: event.progress });
        },
      );
    });
  }

  return {
    /**
     * The application version an image carries in its `org.opencontainers.image.version` label,
     * or null when it has none. Read-only; the image must be on the first node's host already.
     */
    async imageVersion(input: { cluster: string; image: string }): Promise<string | null> {
      const [first] = getCluster(deps, input.cluster).nodes;
      if (!first) return null;
      try {
        const info = await deps.docker(first.dockerHost).getImage(input.image).inspect();
        return info.Config.Labels?.['org.opencontainers.image.version'] ?? null;
      } catch (error) {
        if (isNotFound(error)) throw ApplicationFailure.nonRetryable(`image ${input.image} is not on ${first.dockerHost}`, FailureType.ImageUnavailable);
        throw error;
      }
    },

    /** Whether each image is on each of the cluster's Docker hosts, without pulling. Read-only. */
    async inspectImages(input: { cluster: string; images: string[] }): Promise<{ dockerHost: string; image: string; present: boolean }[]> {
      const cluster = getCluster(deps, input.cluster);
      const hosts = [...new Set(cluster.nodes.map((node) => node.dockerHost))];
      const found: { dockerHost: string; image: string; present: boolean }[] = [];
      for (const dockerHost of hosts) {
        for (const image of [...new Set(input.images)]) {
          const present = await deps
            .docker(dockerHost)
            .getImage(image)
            .inspect()
            .then(
              () => true,
              (error: unknown) => {
                if (isNotFound(error)) return false;
                throw error;
              },
            );
          found.push({ dockerHost, image, present });
        }
      }
      return found;
    },

    /**
     * Makes sure each image is on every Docker host of the cluster, pulling what is missing before
     * anything else is touched. Idempotent: present images are not pulled again.
     */
    async ensureImages(input: { cluster: string; images: string[] }): Promise<ImagePresence[]> {
      const cluster = getCluster(deps, input.cluster);
      const hosts = [...new Set(cluster.nodes.map((node) => node.dockerHost))];
      const results: ImagePresence[] = [];
      for (const dockerHost of hosts) {
        const docker = deps.docker(dockerHost);
        for (const image of [...new Set(input.images)]) {
          Context.current().heartbeat({ image, dockerHost, status: 'checking' });
          try {
            await docker.getImage(image).inspect();
            results.push({ dockerHost, image, pulled: false });
            continue;
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
          log.info('pulling image', { image, dockerHost });
          try {
            await pull(docker, image);
          } catch (error) {
            const message = `image ${image} cannot be pulled onto ${dockerHost}: ${(error as Error).message}`;
            if (PERMANENT_PULL_ERROR.test((error as Error).message)) {
              throw ApplicationFailure.nonRetryable(message, FailureType.ImageUnavailable);
            }
            throw ApplicationFailure.retryable(message, FailureType.ImageUnavailable);
          }
          results.push({ dockerHost, image, pulled: true });
        }
      }
      return results;
    },
  };
}
