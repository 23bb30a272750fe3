import { ApplicationFailure, log } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../adapters/kubernetes/api';
import {
  deletePod,
  getDeployment,
  isReady,
  isTerminating,
  mainContainer,
  patchTemplate,
  configMapData,
  podLogTail,
  podsOf,
  scaleDeployment,
  type Deployment,
  type Pod,
} from '../../adapters/kubernetes/deployments';
import { isKubeConflict, isKubeNotFound } from '../../adapters/kubernetes/api';
import { FailureType } from '../../common/failure-types';
import { roleOf } from '../../common/node-order';
import type { NodeSnapshot } from '../../common/procedure-types';
import type { KubernetesConfig, KubernetesNodeConfig } from '../../config/schema';
import type { Nodes, RestoredNode, StopOutcome } from './nodes';

/**
 * The nodes adapter for NocoBase on Kubernetes. A node is replica `k` of a Deployment: it runs
 * while the Deployment has at least `k` replicas. Starting it scales the Deployment up to `k` (never
 * down), stopping it scales down to `k - 1` (never up) and waits until the pods beyond are gone —
 * deleted, not merely terminating, and killed after the grace period. Replicas of a Deployment
 * share its template, so the image is the Deployment's: replacing it is one patch of the template
 * and of an annotation that keeps the previous image under the procedure's label
 * (`nocobase-maintenance.io/pre-<label>`), written together, so a rollback finds it after any
 * crash. The image only changes while the Deployment runs no pod, so a RollingUpdate strategy never
 * surges a new-version pod beside an old one.
 */

const ANNOTATION_PREFIX = 'nocobase-maintenance.io/pre-';
const LABEL_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,58}$/;

/** Pod states that will not become ready without a person (bad image, a crash loop). */
const STUCK_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export function savedImageAnnotation(label: string): string {
  if (!LABEL_PATTERN.test(label)) {
    throw ApplicationFailure.nonRetryable(`label "${label}" cannot be part of an annotation key (letters, digits, _ . -, at most 59)`, FailureType.InvalidInput);
  }
  return `${ANNOTATION_PREFIX}${label}`;
}

export function kubernetesNodes(api: KubeApi, cluster: KubernetesConfig, as: (node: unknown) => KubernetesNodeConfig, pollMs = 500): Nodes {
  const { namespace } = cluster;

  async function deploymentOf(node: KubernetesNodeConfig): Promise<Deployment> {
    try {
      return await getDeployment(api, namespace, node.deployment);
    } catch (error) {
      if (isKubeNotFound(error)) {
        throw ApplicationFailure.nonRetryable(`node ${node.name}: Deployment ${namespace}/${node.deployment} does not exist`, FailureType.Misconfigured);
      }
      throw error;
    }
  }

  /** The pod that is replica `k` now: the k-th oldest that is not terminating. */
  async function podOf(node: KubernetesNodeConfig): Promise<Pod | undefined> {
    const pods = (await podsOf(api, await deploymentOf(node))).filter((pod) => !isTerminating(pod));
    return pods[node.replica - 1];
  }

  /** Scales down to `replicas` and waits until no more than that many pods exist; kills stragglers after `graceMs`. */
  async function scaleDownAndWait(node: KubernetesNodeConfig, replicas: number, graceMs: number): Promise<StopOutcome> {
    await scaleDeployment(api, namespace, node.deployment, (current) => Math.min(current, replicas));
    const deadline = Date.now() + graceMs;
    let killed = false;
    for (;;) {
      const deployment = await deploymentOf(node);
      const pods = await podsOf(api, deployment);
      if (pods.length <= replicas) return { gone: true, status: `${pods.length} pod(s) of ${node.deployment}`, pid: 0, killed };
      if (Date.now() > deadline + (killed ? 30_000 : 0)) {
        if (killed) return { gone: false, status: `${pods.length} pod(s) of ${node.deployment} still exist: ${pods.map((pod) => pod.metadata.name).join(', ')}`, pid: 0, killed };
        // The grace is over: kill the pods beyond `replicas` (the newest; the ReplicaSet already chose them).
        const extra = pods.filter(isTerminating);
        for (const pod of extra) await deletePod(api, namespace, pod.metadata.name, 0);
        killed = true;
      }
      await sleep(pollMs);
    }
  }

  return {
    async snapshot(config): Promise<NodeSnapshot> {
      const node = as(config);
      const deployment = await deploymentOf(node);
      const replicas = deployment.spec.replicas ?? 1;
      const running = replicas >= node.replica;
      const pod = running ? (await podsOf(api, deployment)).filter((candidate) => !isTerminating(candidate))[node.replica - 1] : undefined;
      const image = mainContainer(deployment).image;
      const imageId = pod?.status.containerStatuses?.[0]?.imageID || image;
      return {
        name: node.name,
        container: `${node.deployment}#${node.replica}`,
        image,
        imageId,
        state: !running ? 'scaled-down' : pod ? (isReady(pod) ? 'running' : 'starting') : 'pending',
        running,
        role: roleOf(node),
      };
    },

    async start(config) {
      const node = as(config);
      const { before, after } = await scaleDeployment(api, namespace, node.deployment, (current) => Math.max(current, node.replica));
      if (after !== before) log.info('deployment scaled up', { node: node.name, deployment: node.deployment, from: before, to: after });
    },

    async stop(config, timeoutMs) {
      const node = as(config);
      const outcome = await scaleDownAndWait(node, node.replica - 1, timeoutMs);
      log.info('deployment scaled down', { node: node.name, deployment: node.deployment, replicas: node.replica - 1, ...outcome });
      return outcome;
    },

    async replaceImage(config, image, label) {
      const node = as(config);
      const key = savedImageAnnotation(label);
      for (;;) {
        const deployment = await deploymentOf(node);
        const current = mainContainer(deployment).image;
        const saved = deployment.metadata.annotations?.[key];
        const result = (previousImage: string, savedAs: string | null, changed: boolean) =>
          ({ node: node.name, container: node.deployment, previousImage, image, savedAs, changed });
        if (current === image) {
          if (saved !== undefined && saved !== image) return result(saved, key, true);
          return result(image, saved === undefined ? null : key, false);
        }
        if (saved !== undefined) {
          throw ApplicationFailure.nonRetryable(
            `node ${node.name}: Deployment ${node.deployment} already keeps ${saved} under label "${label}" while it runs ${current}; restore or discard it first`,
            FailureType.ContainerReplaceFailed,
          );
        }
        const pods = await podsOf(api, deployment);
        if ((deployment.spec.replicas ?? 1) > 0 || pods.length > 0) {
          // The template is every replica's: changing it while any pod runs would roll them all.
          throw ApplicationFailure.nonRetryable(
            `node ${node.name}: Deployment ${node.deployment} still has ${deployment.spec.replicas ?? 1} replica(s) and ${pods.length} pod(s); stop every node of it before replacing its image`,
            FailureType.NodeNotStopped,
          );
        }
        try {
          await patchTemplate(api, deployment, { image, annotations: { [key]: current } });
        } catch (error) {
          if (isKubeConflict(error)) continue;
          throw error;
        }
        log.info('deployment image replaced', { node: node.name, deployment: node.deployment, from: current, to: image });
        return result(current, key, true);
      }
    },

    async restoreImage(config, label, stopTimeoutMs): Promise<RestoredNode> {
      const node = as(config);
      const key = savedImageAnnotation(label);
      for (;;) {
        const deployment = await deploymentOf(node);
        const current = mainContainer(deployment).image;
        const saved = deployment.metadata.annotations?.[key];
        if (saved === undefined) return { node: node.name, container: node.deployment, image: current, restored: false };
        if (saved !== current) {
          // Every replica shares the template: none may keep running on the image being taken back.
          const outcome = await scaleDownAndWait(node, 0, stopTimeoutMs);
          if (!outcome.gone) throw ApplicationFailure.retryable(`node ${node.name}: ${outcome.status}`, FailureType.NodeNotStopped);
        }
        try {
          await patchTemplate(api, await deploymentOf(node), { ...(saved !== current ? { image: saved } : {}), annotations: { [key]: null } });
        } catch (error) {
          if (isKubeConflict(error)) continue;
          throw error;
        }
        log.info('deployment image restored', { node: node.name, deployment: node.deployment, image: saved });
        return { node: node.name, container: node.deployment, image: saved, restored: true };
      }
    },

    async discardSaved(config, label) {
      const node = as(config);
      const key = savedImageAnnotation(label);
      for (;;) {
        const deployment = await deploymentOf(node);
        if (deployment.metadata.annotations?.[key] === undefined) return { removed: false };
        try {
          await patchTemplate(api, deployment, { annotations: { [key]: null } });
          return { removed: true };
        } catch (error) {
          if (!isKubeConflict(error)) throw error;
        }
      }
    },

    // A Deployment has no restart policy to hold: its controller keeps spec.replicas pods, which
    // the procedure itself holds at what it wants. Nothing is suspended, so nothing is given back.
    async suspendRestartPolicy(config, earlier) {
      const node = as(config);
      return { node: node.name, container: node.deployment, policy: earlier ?? { name: 'no' }, changed: false };
    },

    async restoreRestartPolicy(config, policy) {
      const node = as(config);
      return { node: node.name, container: node.deployment, policy, changed: false };
    },

    async healthUrl(config) {
      const node = as(config);
      const ip = (await podOf(node))?.status.podIP;
      return ip ? `http://${ip.includes(':') ? `[${ip}]` : ip}:${cluster.appPort}/api/__health_check` : null;
    },

    async exited(config) {
      const node = as(config);
      const pod = await podOf(node);
      const status = pod?.status.containerStatuses?.[0];
      if (!pod || !status) return null;
      const waiting = status.state?.waiting;
      const terminated = status.state?.terminated;
      if (terminated || (waiting?.reason && STUCK_REASONS.has(waiting.reason))) {
        const exitCode = terminated?.exitCode ?? status.lastState?.terminated?.exitCode ?? null;
        const why = terminated ? `terminated (${terminated.reason ?? 'exit'})` : `${waiting?.reason}${waiting?.message ? `: ${waiting.message}` : ''}`;
        return { state: `pod ${pod.metadata.name} is ${why}`, exitCode, logTail: await podLogTail(api, namespace, pod.metadata.name, 15) };
      }
      return null;
    },

    async environment(config) {
      const node = as(config);
      const deployment = await deploymentOf(node);
      const container = deployment.spec.template.spec.containers[0];
      const env: string[] = [];
      // envFrom first, then env, as the kubelet resolves them (a later name wins). Secrets are not read.
      for (const source of container?.envFrom ?? []) {
        if (!source.configMapRef?.name) continue;
        const map = await configMapData(api, namespace, source.configMapRef.name);
        for (const [name, value] of Object.entries(map)) env.push(`${source.prefix ?? ''}${name}=${value}`);
      }
      for (const variable of container?.env ?? []) if (variable.value !== undefined) env.push(`${variable.name}=${variable.value}`);
      return { image: mainContainer(deployment).image, env };
    },

    async platformProblems(configs) {
      const listed = new Map<string, number>();
      for (const node of configs.map(as)) listed.set(node.deployment, Math.max(listed.get(node.deployment) ?? 0, node.replica));
      const problems: string[] = [];
      for (const [name, count] of listed) {
        const deployment = await deploymentOf({ name, deployment: name, replica: 1 });
        const replicas = deployment.spec.replicas ?? 1;
        if (replicas > count) {
          problems.push(
            `Deployment ${name} has ${replicas} replicas but the configuration lists ${count}: the ${replicas - count} beyond would go on serving the old version beside the new; list replicas 1..${replicas}, or scale it to ${count}`,
          );
        }
        // Helm keeps its own record of the release: say where a procedure's image change must go.
        if (deployment.metadata.labels?.['app.kubernetes.io/managed-by'] === 'Helm') {
          log.info('deployment managed by Helm: carry a procedure\'s image into the release values', { deployment: name, release: deployment.metadata.annotations?.['meta.helm.sh/release-name'] });
        }
      }
      return problems;
    },

    async execIn(config) {
      const node = as(config);
      const pod = await podOf(node);
      if (!pod || pod.status.phase !== 'Running') {
        throw ApplicationFailure.retryable(`node ${node.name}: replica ${node.replica} of ${node.deployment} has no running pod to run a command in`, FailureType.NodeNotReady);
      }
      const name = pod.metadata.name;
      return {
        where: `pod ${name}`,
        exec: async (argv) => {
          const result = await api.exec(namespace, name, argv);
          // Interleaving is lost over the API's channels: stdout, then stderr, cut to the last 16 KiB.
          return { exitCode: result.exitCode, output: `${result.stdout.toString('utf8')}${result.stderr}`.slice(-16 * 1024) };
        },
      };
    },

    async logTail(config, lines) {
      const pod = await podOf(as(config));
      return pod ? podLogTail(api, namespace, pod.metadata.name, lines) : '';
    },
  };
}
