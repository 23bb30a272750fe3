import { ApplicationFailure } from '@temporalio/activity';
import { isKubeConflict, type KubeApi } from '../../adapters/kubernetes/api';
import { getDeployment, isReady, isTerminating, podsOf } from '../../adapters/kubernetes/deployments';
import { FailureType } from '../../common/failure-types';
import type { KubernetesNodeConfig, ServiceLoadBalancerConfig } from '../../config/schema';
import type { ServerStatus, TrafficSwitch } from './traffic-switch';

/**
 * A Kubernetes Service behind the traffic switch, as NocoBase's Kubernetes page exposes the app
 * (any Ingress in front of the Service keeps working). The maintenance page is a switch of the
 * Service's selector to the pods of the maintenance-page Deployment the project ships
 * (deploy/kubernetes/maintenance-page.yaml); the Service's own selector is kept in the annotation
 * `nocobase-maintenance.io/selector`, written in the same patch, so it is put back after any crash
 * and a second switch on never loses it. Both patches are guarded by the resourceVersion read.
 *
 * Servers: a Service has no per-server administrative state; its endpoints are the app pods whose
 * readiness probe passes, which is what a node's state is here. `setServers` therefore changes
 * nothing (the procedure starts and stops replicas instead) and `statuses` says UP for a replica
 * whose pod is Ready.
 */

export const SELECTOR_ANNOTATION = 'nocobase-maintenance.io/selector';

interface Service {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}

const same = (a: Record<string, string> | undefined, b: Record<string, string>) =>
  a !== undefined && Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([key, value]) => a[key] === value);

/** A merge patch that makes `from` equal `to` (keys only in `from` are removed). */
function replaceSelector(from: Record<string, string> | undefined, to: Record<string, string>): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...to };
  for (const key of Object.keys(from ?? {})) if (!(key in to)) patch[key] = null;
  return patch;
}

export function serviceSwitch(api: KubeApi, namespace: string, config: ServiceLoadBalancerConfig, appNodes: KubernetesNodeConfig[]): TrafficSwitch {
  const path = `/api/v1/namespaces/${namespace}/services/${config.service}`;
  const page = config.maintenanceSelector;

  async function read(): Promise<Service> {
    try {
      return await api.get<Service>(path);
    } catch (error) {
      throw ApplicationFailure.nonRetryable(`Service ${namespace}/${config.service}: ${(error as Error).message}`, FailureType.LoadBalancerError);
    }
  }

  async function switchTo(on: boolean): Promise<boolean> {
    for (;;) {
      const service = await read();
      const kept = service.metadata.annotations?.[SELECTOR_ANNOTATION];
      let patch: unknown;
      if (on) {
        if (kept !== undefined && same(service.spec.selector, page)) return false;
        // A kept selector means an earlier switch on: keep it, never the page's own selector.
        const original = kept ?? JSON.stringify(service.spec.selector ?? {});
        patch = { metadata: { resourceVersion: service.metadata.resourceVersion, annotations: { [SELECTOR_ANNOTATION]: original } }, spec: { selector: replaceSelector(service.spec.selector, page) } };
      } else {
        if (kept === undefined) {
          if (same(service.spec.selector, page)) {
            throw ApplicationFailure.nonRetryable(
              `Service ${namespace}/${config.service} selects the maintenance page but has no ${SELECTOR_ANNOTATION} annotation: its own selector is unknown; set it back by hand`,
              FailureType.LoadBalancerError,
            );
          }
          return false;
        }
        const original = JSON.parse(kept) as Record<string, string>;
        patch = { metadata: { resourceVersion: service.metadata.resourceVersion, annotations: { [SELECTOR_ANNOTATION]: null } }, spec: { selector: replaceSelector(service.spec.selector, original) } };
      }
      try {
        await api.mergePatch(path, patch);
        return true;
      } catch (error) {
        if (!isKubeConflict(error)) throw error;
      }
    }
  }

  async function readyReplicas(deployment: string): Promise<number> {
    const pods = await podsOf(api, await getDeployment(api, namespace, deployment));
    return pods.filter((pod) => !isTerminating(pod) && isReady(pod)).length;
  }

  return {
    async setServers() {
      // Nothing to set: the Service's endpoints are the Ready app pods (see above).
    },

    async statuses(servers): Promise<ServerStatus[]> {
      const ready = new Map<string, number>();
      return Promise.all(
        servers.map(async ({ node, server }) => {
          const replica = appNodes.find((candidate) => candidate.name === node.name);
          if (!replica) throw ApplicationFailure.nonRetryable(`${node.name} is not an app replica behind Service ${config.service}`, FailureType.LoadBalancerError);
          if (!ready.has(replica.deployment)) ready.set(replica.deployment, await readyReplicas(replica.deployment));
          return { server, status: (ready.get(replica.deployment) ?? 0) >= replica.replica ? 'UP' : 'DOWN', sessions: 0 };
        }),
      );
    },

    async setMaintenance(on) {
      await switchTo(on);
    },

    async maintenance() {
      const service = await read();
      return service.metadata.annotations?.[SELECTOR_ANNOTATION] !== undefined || same(service.spec.selector, page);
    },

    maintenanceRecovery() {
      return (
        `read the Service's own selector from its annotation: \`kubectl -n ${namespace} get service ${config.service} -o jsonpath='{.metadata.annotations.nocobase-maintenance\\.io/selector}'\`, ` +
        `then put it back and drop the annotation: \`kubectl -n ${namespace} patch service ${config.service} --type merge -p '{"metadata":{"annotations":{"${SELECTOR_ANNOTATION}":null}},"spec":{"selector":<that selector, with the page's keys set to null>}}'\``
      );
    },

    async reassert(wanted) {
      const on = await this.maintenance();
      if (on === wanted.maintenance) return [];
      await switchTo(wanted.maintenance);
      return [`the Service ${config.service} selected ${on ? 'the maintenance page' : 'the app'}; switched it ${wanted.maintenance ? 'to the maintenance page' : 'back to the app'}`];
    },
  };
}
