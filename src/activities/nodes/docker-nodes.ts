import { ApplicationFailure, log } from '@temporalio/activity';
import type Docker from 'dockerode';
import { networkAttachments, replacementSpec, type ImageDefaults, type ReplacementSpec } from '../../adapters/docker/container-definition';
import { containerLogTail, inspectContainer, removeContainer, startContainer, stopContainer, stopContainerUntilGone } from '../../adapters/docker/containers';
import { dockerStatus, isNotFound } from '../../adapters/docker/errors';
import { imagePresent } from '../../adapters/docker/image-pull';
import { execInContainer } from '../../adapters/docker/exec';
import {
  forgetHeldPolicy,
  readHeldPolicy,
  recordHeldPolicy,
  restartPolicyFrom,
  sameRestartPolicy,
  setRestartPolicy,
  type RestartPolicy,
} from '../../adapters/docker/restart-policy';
import { FailureType } from '../../common/failure-types';
import { roleOf } from '../../common/node-order';
import type { NodeSnapshot } from '../../common/procedure-types';
import type { DockerNodeConfig } from '../../config/schema';
import type { Nodes, ReplacedNode, RestartPolicyChange } from './nodes';

// Design: a container's definition holds secrets (DB_PASSWORD in its env), so it must never be an
// activity result, which lands in workflow history. Rollback therefore keeps the previous
// container itself, renamed to `<container>-pre-<label>`, instead of recording what it was.

const NO: RestartPolicy = { name: 'no' };

export function savedContainerName(container: string, label: string): string {
  return `${container}-pre-${label}`;
}

export function missingContainer(node: DockerNodeConfig): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`node ${node.name}: container "${node.container}" does not exist on ${node.dockerHost}`, FailureType.Misconfigured);
}

/** A node's container as its Docker host sees it; a missing one is Misconfigured. */
export async function inspectDockerNode(docker: Docker, node: DockerNodeConfig): Promise<Docker.ContainerInspectInfo> {
  const info = await inspectContainer(docker, node.container);
  if (!info) throw missingContainer(node);
  return info;
}

/** The nodes adapter for named containers on Docker hosts. */
export function dockerNodes(dockerOf: (dockerHost: string) => Docker, as: (node: unknown) => DockerNodeConfig): Nodes {
  const dockerFor = (node: DockerNodeConfig) => dockerOf(node.dockerHost);

  async function snapshot(config: unknown): Promise<NodeSnapshot> {
    const node = as(config);
    const info = await inspectDockerNode(dockerFor(node), node);
    return {
      name: node.name,
      container: node.container,
      image: info.Config.Image,
      imageId: info.Image,
      state: info.State.Status,
      running: info.State.Running,
      role: roleOf(node),
    };
  }

  /** Reads the create spec before anything changes, so every refusal leaves the node untouched. */
  async function prepare(docker: Docker, node: DockerNodeConfig, source: Docker.ContainerInspectInfo, image: string): Promise<ReplacementSpec> {
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

  async function policyOf(node: DockerNodeConfig) {
    const docker = dockerFor(node);
    const info = await inspectContainer(docker, node.container);
    if (!info) throw missingContainer(node);
    return { docker, current: restartPolicyFrom(info.HostConfig), running: info.State?.Running === true };
  }

  return {
    snapshot,

    async start(config) {
      const node = as(config);
      await startContainer(dockerFor(node), node.container);
    },

    async stop(config, timeoutMs) {
      const node = as(config);
      return stopContainerUntilGone(dockerFor(node), node.container, Math.ceil(timeoutMs / 1000));
    },

    async replaceImage(config, image, label): Promise<ReplacedNode> {
      const node = as(config);
      const docker = dockerFor(node);
      const saved = savedContainerName(node.container, label);
      const current = await inspectContainer(docker, node.container);
      let previous = await inspectContainer(docker, saved);
      const result = (previousImage: string, savedAs: string | null, changed: boolean): ReplacedNode =>
        ({ node: node.name, container: node.container, previousImage, image, savedAs, changed });

      if (current?.Config.Image === image) {
        if (previous && previous.Config.Image !== image) {
          // Done by an earlier attempt, perhaps up to the create: finish connecting networks.
          await connectNetworks(docker, node.container, networkAttachments(previous).extra);
          return result(previous.Config.Image, saved, true);
        }
        return result(image, previous ? saved : null, false);
      }
      if (current && previous) {
        throw ApplicationFailure.nonRetryable(
          `node ${node.name}: "${saved}" (${previous.Config.Image}) is already saved under label "${label}" while "${node.container}" runs ${current.Config.Image}; restore or discard it first`,
          FailureType.ContainerReplaceFailed,
        );
      }
      if (current) {
        if (current.State.Running) {
          throw ApplicationFailure.nonRetryable(`node ${node.name}: container "${node.container}" is running; stop the node before replacing its image`, FailureType.NodeNotStopped);
        }
        const spec = await prepare(docker, node, current, image);
        // Renamed, not re-created: the saved container keeps its exact definition for a rollback.
        await docker.getContainer(current.Id).rename({ name: saved });
        log.info('node container saved', { node: node.name, savedAs: saved, image: current.Config.Image });
        previous = current;
        await create(docker, spec);
        await connectNetworks(docker, node.container, spec.extraNetworks);
      } else if (previous) {
        // An earlier attempt renamed and stopped short of creating.
        const spec = await prepare(docker, node, previous, image);
        await create(docker, spec);
        await connectNetworks(docker, node.container, spec.extraNetworks);
      } else {
        throw missingContainer(node);
      }
      log.info('node container replaced', { node: node.name, from: previous.Config.Image, to: image });
      return result(previous.Config.Image, saved, true);
    },

    async restoreImage(config, label, stopTimeoutMs) {
      const node = as(config);
      const docker = dockerFor(node);
      const saved = savedContainerName(node.container, label);
      const previous = await inspectContainer(docker, saved);
      const current = await inspectContainer(docker, node.container);
      if (!previous) {
        if (!current) throw missingContainer(node);
        return { node: node.name, container: node.container, image: current.Config.Image, restored: false };
      }
      if (current) {
        await stopContainer(docker, current.Id, Math.ceil(stopTimeoutMs / 1000), true);
        // Volumes are kept: the saved container may share them (anonymous ones carried over).
        await removeContainer(docker, current.Id, true);
        log.info('replacement removed', { node: node.name, image: current.Config.Image });
      }
      await docker.getContainer(previous.Id).rename({ name: node.container });
      log.info('node container restored', { node: node.name, image: previous.Config.Image });
      return { node: node.name, container: node.container, image: previous.Config.Image, restored: true };
    },

    async discardSaved(config, label) {
      const node = as(config);
      const docker = dockerFor(node);
      const saved = savedContainerName(node.container, label);
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
      log.info('saved node container discarded', { node: node.name, container: saved });
      return { removed: true };
    },

    async suspendRestartPolicy(config, earlier): Promise<RestartPolicyChange> {
      const node = as(config);
      const { docker, current } = await policyOf(node);
      if (current.name === 'no') {
        const recorded = (await readHeldPolicy(docker, node.container)) ?? earlier;
        return { node: node.name, container: node.container, policy: recorded ?? current, changed: false };
      }
      await recordHeldPolicy(docker, node.container, current);
      await setRestartPolicy(docker, node.container, NO);
      log.info('restart policy suspended', { node: node.name, previous: current.name });
      return { node: node.name, container: node.container, policy: current, changed: true };
    },

    async restoreRestartPolicy(config, policy, ifRunning): Promise<RestartPolicyChange> {
      const node = as(config);
      const { docker, current, running } = await policyOf(node);
      if (ifRunning && !running) return { node: node.name, container: node.container, policy: current, changed: false };
      const same = sameRestartPolicy(current, policy);
      if (!same) await setRestartPolicy(docker, node.container, policy);
      await forgetHeldPolicy(docker, node.container);
      if (same) return { node: node.name, container: node.container, policy: current, changed: false };
      log.info('restart policy restored', { node: node.name, policy: policy.name });
      return { node: node.name, container: node.container, policy, changed: true };
    },

    async healthUrl(config) {
      return as(config).healthUrl;
    },

    async exited(config) {
      const node = as(config);
      const docker = dockerFor(node);
      const info = await docker.getContainer(node.container).inspect();
      if (info.State.Running) return null;
      return { state: `container ${node.container} is ${info.State.Status}`, exitCode: info.State.ExitCode, logTail: await containerLogTail(docker.getContainer(node.container), 15) };
    },

    async environment(config) {
      const node = as(config);
      const info = await inspectDockerNode(dockerFor(node), node);
      return { image: info.Config.Image, env: info.Config.Env ?? [] };
    },

    async platformProblems() {
      // A container is a node: nothing runs that the configuration does not name.
      return [];
    },

    async execIn(config) {
      const node = as(config);
      const docker = dockerFor(node);
      return { where: node.container, exec: (argv, hooks) => execInContainer(docker, node.container, argv, hooks) };
    },

    async logTail(config, lines) {
      const node = as(config);
      return containerLogTail(dockerFor(node).getContainer(node.container), lines);
    },
  };
}
