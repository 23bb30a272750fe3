import { containersNamedWithPrefix } from '../../adapters/docker/container-list';
import { heldPolicyRecordName, readHeldPolicy, restartFlag } from '../../adapters/docker/restart-policy';
import { withMaintenanceClient } from '../../adapters/postgres/maintenance-client';
import { databaseUnreachable } from '../../adapters/postgres/errors';
import { databaseInfo, ident, literal } from '../../adapters/postgres/whole-database';
import type { Leftover } from '../../common/leftovers';
import type { ClusterConfig } from '../../config/schema';
import { derivedBackups, type DerivedBackup } from '../backup/derived-backups';
import { loginFor } from '../backup/login';
import { trafficSwitch } from '../load-balancer/factory';
import { savedContainerName } from '../nodes/image-replacement';
import type { ActivityDeps } from '../deps';
import { isDockerNode } from '../nodes/factory';
import { getCluster } from './lookup';

export type { Leftover, LeftoverKind } from '../../common/leftovers';

function databaseRecovery(db: DerivedBackup, database: string, databaseExists: boolean): string {
  const drop = `DROP DATABASE ${ident(db.name)};`;
  if (db.kind === 'set-aside-database') {
    const putBack = `${databaseExists ? `DROP DATABASE ${ident(database)}; ` : ''}ALTER DATABASE ${ident(db.name)} RENAME TO ${ident(database)};`;
    return (
      `${database} as it was before a restore (run ${db.label}) that did not complete: ${databaseExists ? `${database} may be half-restored` : `${database} does not exist`}. ` +
      (databaseExists ? `If ${database} is complete and right, drop this copy: \`${drop}\`. If it is not, ` : '') +
      `put this one back with every node stopped: \`${putBack}\`, or let that run's rollback finish (retryRollback) if it still waits.`
    );
  }
  const keep = db.comment ? ` To keep it as a backup under backup.keep instead: \`COMMENT ON DATABASE ${ident(db.name)} IS ${literal(`${db.comment}; kept`)};\`.` : '';
  return (
    `clone backup of ${database} taken by run ${db.label}${db.createdAt ? ` at ${db.createdAt}` : ' (never marked: the backup was interrupted)'} that no finished run kept. ` +
    `If ${database} is right without it, drop it: \`${drop}\`.${keep}`
  );
}

export function createLeftoverActivities(deps: ActivityDeps) {
  async function savedContainers(cluster: ClusterConfig): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for (const node of cluster.nodes.filter(isDockerNode)) {
      const docker = `DOCKER_HOST=${node.dockerHost} docker`;
      for (const saved of await containersNamedWithPrefix(deps.docker(node.dockerHost), savedContainerName(node.container, ''))) {
        const label = saved.name.slice(savedContainerName(node.container, '').length);
        found.push({
          kind: 'saved-container',
          name: saved.name,
          createdAt: saved.createdAt,
          recovery:
            `node ${node.name}'s previous container (${saved.image}, ${saved.state}) saved by run ${label}, which did not finish. ` +
            `If ${node.container} runs the version you want, remove it: \`${docker} rm ${saved.name}\`. ` +
            `To go back to it instead (only together with that run's database backup): \`${docker} rm -f ${node.container} && ${docker} rename ${saved.name} ${node.container}\`, then start the node.`,
        });
      }
    }
    return found;
  }

  /** Nodes whose restart policy a run suspended and never gave back (see restart-policy.ts). */
  async function heldPolicies(cluster: ClusterConfig): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for (const node of cluster.nodes.filter(isDockerNode)) {
      const policy = await readHeldPolicy(deps.docker(node.dockerHost), node.container);
      if (!policy) continue;
      const docker = `DOCKER_HOST=${node.dockerHost} docker`;
      found.push({
        kind: 'suspended-restart-policy',
        name: node.container,
        recovery:
          `node ${node.name}'s restart policy was set to \`no\` by a run that did not give it back (it was \`${restartFlag(policy)}\`): a dockerd restart or a reboot leaves the node down. ` +
          `Once ${node.container} runs the version and data you want, give it back and drop the record: \`${docker} update --restart ${restartFlag(policy)} ${node.container} && ${docker} volume rm ${heldPolicyRecordName(node.container)}\`.`,
      });
    }
    return found;
  }

  async function databases(clusterName: string, cluster: ClusterConfig): Promise<Leftover[]> {
    const database = cluster.database.database;
    const login = loginFor(deps, clusterName);
    return withMaintenanceClient(login, async (client) => {
      try {
        const unsettled = (await derivedBackups(client, database)).filter((db) => !db.settled);
        const exists = unsettled.length > 0 && (await databaseInfo(client, database)).exists;
        return unsettled.map((db) => ({
          kind: db.kind,
          name: db.name,
          ...(db.createdAt ? { createdAt: db.createdAt } : {}),
          recovery: databaseRecovery(db, database, exists),
        }));
      } catch (error) {
        throw databaseUnreachable(login, login.maintenanceDatabase, error);
      }
    });
  }

  async function maintenanceSwitch(clusterName: string, cluster: ClusterConfig): Promise<Leftover[]> {
    const lb = trafficSwitch(deps, clusterName);
    if ((await lb.maintenance()) !== true) return [];
    return [
      {
        kind: 'maintenance-on',
        name: cluster.loadBalancer.kind === 'haproxy' ? (cluster.loadBalancer.maintenanceKey ?? clusterName) : cluster.loadBalancer.kind === 'nginx' ? cluster.loadBalancer.upstream : `service/${cluster.loadBalancer.service}`,
        recovery: `the 503 maintenance page of ${clusterName} is on. Once every node serves the version you want, turn it off: ${lb.maintenanceRecovery()}`,
      },
    ];
  }

  return {
    /**
     * Lists what a terminated, reset or abandoned run left behind, each with the exact command or
     * step that resolves it: saved `<container>-pre-<label>` containers, databases set aside by a
     * restore that did not complete, clone backups no finished run kept (pruneBackups keeps them),
     * restart policies held at `no` and never given back, and the maintenance page left on. Read-only (Docker, PostgreSQL, HAProxy's runtime API); safe
     * to retry. An empty list: nothing left over. Procedures refuse to start otherwise
     * (LeftoversFound).
     */
    async findLeftovers(input: { cluster: string }): Promise<Leftover[]> {
      const cluster = getCluster(deps, input.cluster);
      return [...(await savedContainers(cluster)), ...(await heldPolicies(cluster)), ...(await databases(input.cluster, cluster)), ...(await maintenanceSwitch(input.cluster, cluster))];
    },
  };
}
