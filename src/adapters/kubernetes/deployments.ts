import { isKubeConflict, isKubeNotFound, type KubeApi } from './api';

/**
 * Deployments and their pods, as the nodes adapter needs them: read, scale with optimistic
 * concurrency (two parallel stops of one Deployment both land), change the image and an
 * annotation in one patch, list the pods (also those still terminating), read a pod's log tail.
 */

export interface Deployment {
  metadata: { name: string; namespace: string; resourceVersion: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string> };
    template: {
      spec: {
        containers: {
          name: string;
          image: string;
          env?: { name: string; value?: string }[];
          envFrom?: { prefix?: string; configMapRef?: { name: string }; secretRef?: { name: string } }[];
        }[];
      };
    };
  };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
}

export interface Pod {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { containers: { name: string; image: string }[] };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      imageID?: string;
      restartCount?: number;
      state?: { running?: object; waiting?: { reason?: string; message?: string }; terminated?: { exitCode: number; reason?: string } };
      lastState?: { terminated?: { exitCode: number; reason?: string } };
    }[];
  };
}

const deploymentPath = (namespace: string, name: string) => `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;

export function getDeployment(api: KubeApi, namespace: string, name: string): Promise<Deployment> {
  return api.get<Deployment>(deploymentPath(namespace, name));
}

export function mainContainer(deployment: Deployment): { name: string; image: string } {
  const container = deployment.spec.template.spec.containers[0];
  if (!container) throw new Error(`Deployment ${deployment.metadata.name} has no container`);
  return container;
}

/**
 * Sets spec.replicas to `wanted(current)` unless it already is, retrying on a conflict with a
 * concurrent change (a parallel start or stop of another replica of the same Deployment).
 */
export async function scaleDeployment(api: KubeApi, namespace: string, name: string, wanted: (current: number) => number): Promise<{ before: number; after: number }> {
  for (let attempt = 0; ; attempt += 1) {
    const deployment = await getDeployment(api, namespace, name);
    const before = deployment.spec.replicas ?? 1;
    const after = wanted(before);
    if (after === before) return { before, after };
    try {
      await api.mergePatch(deploymentPath(namespace, name), { metadata: { resourceVersion: deployment.metadata.resourceVersion }, spec: { replicas: after } });
      return { before, after };
    } catch (error) {
      if (!isKubeConflict(error) || attempt >= 20) throw error;
    }
  }
}

/**
 * Changes the main container's image and the Deployment's annotations in one patch, guarded by
 * the resourceVersion it was read at (a conflict means someone changed it meanwhile: the caller reads again).
 */
export async function patchTemplate(api: KubeApi, deployment: Deployment, change: { image?: string; annotations?: Record<string, string | null> }): Promise<void> {
  const container = mainContainer(deployment);
  await api.request('PATCH', deploymentPath(deployment.metadata.namespace, deployment.metadata.name), {
    metadata: { resourceVersion: deployment.metadata.resourceVersion, ...(change.annotations ? { annotations: change.annotations } : {}) },
    ...(change.image ? { spec: { template: { spec: { containers: [{ name: container.name, image: change.image }] } } } } : {}),
  }, 'application/strategic-merge-patch+json');
}

export function selectorOf(deployment: Deployment): string {
  const labels = deployment.spec.selector.matchLabels ?? {};
  const selector = Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(',');
  if (!selector) throw new Error(`Deployment ${deployment.metadata.name} has no matchLabels selector`);
  return selector;
}

/** Every pod the Deployment's selector matches that has not finished, terminating ones included, oldest first. */
export async function podsOf(api: KubeApi, deployment: Deployment): Promise<Pod[]> {
  const { items } = await api.get<{ items: Pod[] }>(`/api/v1/namespaces/${deployment.metadata.namespace}/pods?labelSelector=${encodeURIComponent(selectorOf(deployment))}`);
  return items
    .filter((pod) => pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed')
    .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
}

export const isTerminating = (pod: Pod): boolean => pod.metadata.deletionTimestamp !== undefined;
export const isReady = (pod: Pod): boolean => pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;

export async function deletePod(api: KubeApi, namespace: string, name: string, gracePeriodSeconds: number): Promise<boolean> {
  return api.delete(`/api/v1/namespaces/${namespace}/pods/${name}`, { gracePeriodSeconds });
}

/** The pod's last lines; '' when they cannot be read (never hides the failure they would explain). */
export async function podLogTail(api: KubeApi, namespace: string, pod: string, lines: number): Promise<string> {
  return api.getText(`/api/v1/namespaces/${namespace}/pods/${pod}/log?tailLines=${lines}`).catch(() => '');
}

/** A ConfigMap's data (an absent one is empty: the kubelet would refuse the pod, the check reports the rest). */
export async function configMapData(api: KubeApi, namespace: string, name: string): Promise<Record<string, string>> {
  try {
    return (await api.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/configmaps/${name}`)).data ?? {};
  } catch (error) {
    if (isKubeNotFound(error)) return {};
    throw error;
  }
}
