import { ApplicationFailure } from '@temporalio/activity';
import { mapEntry, serverStatuses, setMapEntry, setServerState } from '../../adapters/haproxy/backend';
import { readMapFileEntry, writeMapFileEntry } from '../../adapters/haproxy/map-file';
import type { HaproxyRuntime } from '../../adapters/haproxy/runtime';
import { fileAdminStates, persistServerStates, runtimeAdminStates } from '../../adapters/haproxy/server-state';
import { FailureType } from '../../common/failure-types';
import type { HaproxyLoadBalancerConfig } from '../../config/schema';
import type { TrafficSwitch } from './traffic-switch';

function socatAddress(runtimeApi: string): string {
  return runtimeApi.startsWith('unix://') ? `unix-connect:${runtimeApi.slice('unix://'.length)}` : `tcp-connect:${runtimeApi.slice('tcp://'.length)}`;
}

/**
 * HAProxy behind the traffic switch. Changes go through the runtime API (adapters/haproxy), in
 * memory, without a reload, and into the files a reload reads (the map file; the server state
 * file when the cluster names one), so a reload by an operator or a certificate renewal keeps
 * them. What the operator's haproxy.cfg needs for that is in scripts/stack/haproxy.sh.
 */
export function haproxySwitch(clusterName: string, config: HaproxyLoadBalancerConfig, api: HaproxyRuntime): TrafficSwitch {
  const { backend, maintenanceMap, maintenanceMapFile, maintenanceKey, serverStateFile, runtimeApi } = config;
  const key = maintenanceKey ?? clusterName;
  const mapFile = maintenanceMapFile ?? maintenanceMap;

  return {
    async setServers(servers, state) {
      for (const { server } of servers) await setServerState(api, backend, server, state);
      if (serverStateFile) await persistServerStates(api, backend, serverStateFile);
    },

    statuses: (servers) => serverStatuses(api, backend, servers.map(({ server }) => server)),

    async setMaintenance(on) {
      // Memory first: it also proves the map exists before a file is touched. So a failure may
      // come after users were switched: the workflow passes its point of no return before an
      // `off` (src/workflows/node-rollout.ts restoreTraffic), not after it succeeded.
      const value = on ? 'on' : 'off';
      await setMapEntry(api, maintenanceMap, key, value);
      await writeMapFileEntry(mapFile, key, value);
    },

    async maintenance() {
      const value = await mapEntry(api, maintenanceMap, key);
      return value === null ? null : value === 'on';
    },

    maintenanceRecovery: () =>
      `\`echo 'set map ${maintenanceMap} ${key} off' | socat stdio ${socatAddress(runtimeApi)}\` (HAProxy map ${maintenanceMap}, key ${key}), ` +
      `and make the line \`${key} off\` in ${maintenanceMap} so a reload keeps it off.`,

    async reassert(wanted) {
      const drifts: string[] = [];
      const wantedSwitch = wanted.maintenance ? 'on' : 'off';
      const running = await mapEntry(api, maintenanceMap, key);
      if (running !== wantedSwitch) {
        await setMapEntry(api, maintenanceMap, key, wantedSwitch);
        drifts.push(`maintenance switch ${key} was ${running ?? 'absent'} in HAProxy, set ${wantedSwitch}`);
      }
      const inFile = await readMapFileEntry(mapFile, key);
      if (inFile !== wantedSwitch) {
        await writeMapFileEntry(mapFile, key, wantedSwitch);
        drifts.push(`maintenance switch ${key} was ${inFile ?? 'absent'} in ${mapFile}, written ${wantedSwitch}`);
      }

      const states = await runtimeAdminStates(api, backend);
      let serversChanged = false;
      for (const { server: { server }, state } of wanted.servers) {
        const actual = states.get(server);
        if (actual === undefined) throw ApplicationFailure.nonRetryable(`load balancer has no server ${backend}/${server}`, FailureType.LoadBalancerError);
        if (actual === state) continue;
        await setServerState(api, backend, server, state);
        serversChanged = true;
        drifts.push(`server ${backend}/${server} was ${actual} in HAProxy, set ${state}`);
      }
      if (!serverStateFile) return drifts;
      const persisted = await fileAdminStates(serverStateFile, backend);
      const stale = wanted.servers.filter(({ server: { server }, state }) => persisted.get(server) !== state);
      if (serversChanged || stale.length > 0) await persistServerStates(api, backend, serverStateFile);
      for (const { server: { server }, state } of stale) drifts.push(`server ${backend}/${server} was ${persisted.get(server) ?? 'absent'} in ${serverStateFile}, written ${state}`);
      return drifts;
    },
  };
}
