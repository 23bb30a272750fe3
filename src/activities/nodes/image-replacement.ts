import { ApplicationFailure, log } from '@temporalio/activity';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import type { NodeConfig } from '../../config/schema';
import { getCluster, getNode, missingContainer } from '../cluster/lookup';
import { networkAttachments, replacementSpec, type ImageDefaults, type ReplacementSpec } from '../../adapters/docker/container-definition';
import type { ActivityDeps } from '../deps';
import { inspectContainer, removeContainer, stopContainer } from '../../adapters/docker/containers';
import { dockerStatus, isNotFound } from '../../adapters/docker/errors';
import { imagePresent } from '../../adapters/docker/image-pull';

// Design: a container's definition holds secrets (DB_PASSWORD in its env), so it must never be an
// activity result, which lands in workflow history. Rollback therefore keeps the previous
// container itself, renamed to `<container>-pre-<label>`, instead of recording what it was.

export interface NodeImageInput {
  cluster: string;
  node: string;
  /** Names the saved container, `<container>-pre-<label>`; one per procedure (e.g. the target version). */
  label: string;
}

export interface ReplacedNode {
  node: string;
  container: string;
  /** The image reference the node ran before this replacement. */
  previousImage: string;
  image: string;
  /** The saved previous container, or null when there is none under this label. */
  savedAs: string | null;
  /** True when the node's container is a replacement made under this label (also on a retry). */
  changed: boolean;
}

export interface RestoredNode {
  node: string;
  container: string;
  /** The image the node's container runs from now. */
  image: string;
  /** False when there was nothing saved to put back. */
  restored: boolean;
}

/** Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; the label becomes part of one. */
const LABEL_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function savedContainerName(container: string, label: string): string {
  return `${container}-pre-${label}`;
}

export function createNodeImageActivities(deps: ActivityDeps) {
  function locate(input: NodeImageInput): { node: NodeConfig; docker: Docker; saved: string } {
    if (!LABEL_PATTERN.test(input.label)) {
      throw ApplicationFailure.nonRetryable(`label "${input.label}" cannot be part of a container name (letters, digits, _ . -)`, FailureType.InvalidInput);
    }
    const node = getNode(deps, input.cluster, input.node);
    return { node, docker: deps.docker(node.dockerHost), saved: savedContainerName(node.container, input.label) };
  }

  /** Reads the create spec before anything changes, so every refusal leaves the node untouched. */
  async function prepare(docker: Docker, node: NodeConfig, source: Docker.ContainerInspectInfo, image: string): Promise<ReplacementSpec> {
    if (!(await imagePresent(docker, image))) {
      throw ApplicationFailure.nonRetryable(`image ${image} is not on ${node.dockerHost}: pull it first (ensureImages)`, FailureType.ImageUnavailable);
    }
    let oldImage: ImageDefaults;
    try {
      oldImage = (await docker.getImage(source.Image).inspect()).Config;
    } catch (error) {
      // Without the old image, inherited values (PATH, the version label) look like the
      // container's own and would be frozen into the new container: refuse rather than guess.
      if (isNotFound(error)) {
        throw ApplicationFailure.nonRetryable(
          `node ${node.name}: image ${source.Config.Image} (${source.Image}) that "${node.container}" was created from is gone from ${node.dockerHost}`,
          FailureType.ContainerReplaceFailed,
        );
      }
      throw error;
    }
    return replacementSpec(source, oldImage, { name: node.container, image });
  }

  async function create(docker: Docker, spec: ReplacementSpec): Promise<void> {
    try {
      await docker.createContainer(spec.create);
    } catch (error) {
      // 409: an earlier attempt's create did reach the Engine; connecting below finishes it.
      if (dockerStatus(error) !== 409) throw error;
    }
  }

  /** Idempotent: attaches only the networks the container is not on yet. */
  async function connectNetworks(docker: Docker, container: string, extra: ReplacementSpec['extraNetworks']): Promise<void> {
    if (extra.length === 0) return;
    const info = await docker.getContainer(container).inspect();
    for (const { network, endpoint } of extra) {
      if (info.NetworkSettings.Networks[network]) continue;
      await docker.getNetwork(network).connect({ Container: info.Id, EndpointConfig: endpoint });
    }
  }

  return {
    /**
     * Replaces a stopped node's container by one on `image` with the same definition (env, labels,
     * command, HostConfig, networks); values it only inherited from its old image are left to the
     * new image. The previous container is kept, renamed to `<container>-pre-<label>`, for
     * restoreNodeImage. Refuses a running container (NodeNotStopped), an image not on the host
     * (ImageUnavailable) and a saved container already in the way (ContainerReplaceFailed).
     * Safe to retry: a retry after the rename only creates, one after the create finds the work
     * done and returns the same result; a node already on `image` is left alone (`changed: false`).
     */
    async replaceNodeImage(input: NodeImageInput & { image: string }): Promise<ReplacedNode> {
      const { node, docker, saved } = locate(input);
      const current = await inspectContainer(docker, node.container);
      let previous = await inspectContainer(docker, saved);
      const result = (previousImage: string, savedAs: string | null, changed: boolean): ReplacedNode =>
        ({ node: node.name, container: node.container, previousImage, image: input.image, savedAs, changed });

      if (current?.Config.Image === input.image) {
        if (previous && previous.Config.Image !== input.image) {
          // Done by an earlier attempt, perhaps up to the create: finish connecting networks.
          await connectNetworks(docker, node.container, networkAttachments(previous).extra);
          return result(previous.Config.Image, saved, true);
        }
        return result(input.image, previous ? saved : null, false);
      }
      if (current && previous) {
        throw ApplicationFailure.nonRetryable(
          `node ${node.name}: "${saved}" (${previous.Config.Image}) is already saved under label "${input.label}" while "${node.container}" runs ${current.Config.Image}; restore or discard it first`,
          FailureType.ContainerReplaceFailed,
        );
      }
      if (current) {
        if (current.State.Running) {
          throw ApplicationFailure.nonRetryable(`node ${node.name}: container "${node.container}" is running; stop the node before replacing its image`, FailureType.NodeNotStopped);
        }
        const spec = await prepare(docker, node, current, input.image);
        // Renamed, not re-created: the saved container keeps its exact definition for a rollback.
        await docker.getContainer(current.Id).rename({ name: saved });
        log.info('node container saved', { cluster: input.cluster, node: node.name, savedAs: saved, image: current.Config.Image });
        previous = current;
        await create(docker, spec);
        await connectNetworks(docker, node.container, spec.extraNetworks);
      } else if (previous) {
        // An earlier attempt renamed and stopped short of creating.
        const spec = await prepare(docker, node, previous, input.image);
        await create(docker, spec);
        await connectNetworks(docker, node.container, spec.extraNetworks);
      } else {
        throw missingContainer(node);
      }
      log.info('node container replaced', { cluster: input.cluster, node: node.name, from: previous.Config.Image, to: input.image });
      return result(previous.Config.Image, saved, true);
    },

    /**
     * Puts the container saved by replaceNodeImage back as the node's container: stops (with the
     * cluster's nodeStop timeout) and removes the replacement, then renames the saved one back.
     * The restored container is left stopped; starting it is the workflow's next step. Volumes are
     * never removed. Safe to retry and to call when nothing was replaced (`restored: false`),
     * also after a partial restore.
     */
    async restoreNodeImage(input: NodeImageInput): Promise<RestoredNode> {
      const { node, docker, saved } = locate(input);
      const previous = await inspectContainer(docker, saved);
      const current = await inspectContainer(docker, node.container);
      if (!previous) {
        if (!current) throw missingContainer(node);
        return { node: node.name, container: node.container, image: current.Config.Image, restored: false };
      }
      if (current) {
        await stopContainer(docker, current.Id, Math.ceil(getCluster(deps, input.cluster).timeouts.nodeStop / 1000), true);
        // Volumes are kept: the saved container may share them (anonymous ones carried over).
        await removeContainer(docker, current.Id, true);
        log.info('replacement removed', { cluster: input.cluster, node: node.name, image: current.Config.Image });
      }
      await docker.getContainer(previous.Id).rename({ name: node.container });
      log.info('node container restored', { cluster: input.cluster, node: node.name, image: previous.Config.Image });
      return { node: node.name, container: node.container, image: previous.Config.Image, restored: true };
    },

    /**
     * Removes the container saved under `label` once the upgrade is accepted; its volumes stay.
     * Never touches the live container, and refuses (ContainerReplaceFailed) while the node has no
     * live container, since the saved one is then the node's only copy. Safe to retry: a missing
     * saved container gives `removed: false`.
     */
    async discardSavedNode(input: NodeImageInput): Promise<{ removed: boolean }> {
      const { node, docker, saved } = locate(input);
      const previous = await inspectContainer(docker, saved);
      if (!previous) return { removed: false };
      if (!(await inspectContainer(docker, node.container))) {
        throw ApplicationFailure.nonRetryable(
          `node ${node.name}: "${node.container}" does not exist, so "${saved}" is the node's only container; restore it instead of discarding it`,
          FailureType.ContainerReplaceFailed,
        );
      }
      if (previous.State.Running) {
        throw ApplicationFailure.nonRetryable(`node ${node.name}: saved container "${saved}" is running; someone is using it`, FailureType.NodeNotStopped);
      }
      // By ID: the name is only what we looked up, the ID is what we checked.
      if (!(await removeContainer(docker, previous.Id, false))) return { removed: false };
      log.info('saved node container discarded', { cluster: input.cluster, node: node.name, container: saved });
      return { removed: true };
    },
  };
}
