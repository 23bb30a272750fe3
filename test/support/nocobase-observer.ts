import { Client } from 'pg';
import { connectDocker } from '../../src/adapters/docker/connection';
import { stackEnv } from './stack';

/**
 * What the tests on real NocoBase observe while a procedure runs, since real nodes write no
 * event files: each node's health code as a 200 ms poll sees it, and the moment NocoBase's own
 * `applicationPlugins` table first holds the built-in plugins, all installed and enabled.
 */
export interface HealthSample {
  at: number;
  node: string;
  /** 200, the 503 error code (APP_COMMANDING, APP_ERROR…), or "none" when the port did not answer. */
  code: string;
}

export async function healthCode(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const text = await response.text();
    if (response.status === 200) return '200';
    try {
      return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? String(response.status);
    } catch {
      return String(response.status);
    }
  } catch {
    return 'none';
  }
}

/** Polls the nodes' health URLs and the plugin table until stopped; keeps only changes. */
export function observeNodes(nodes: Record<string, string>, databaseUrl?: string, builtInPlugins = 76) {
  const samples: HealthSample[] = [];
  let pluginsReadyAt: number | undefined;
  let running = true;
  const last: Record<string, string> = {};
  const loop = (async () => {
    const db = databaseUrl ? new Client({ connectionString: databaseUrl }) : undefined;
    // A restore terminates every connection to the database: the observer is then simply blind.
    db?.on('error', () => undefined);
    await db?.connect().catch(() => undefined);
    while (running) {
      const at = Date.now();
      await Promise.all(Object.entries(nodes).map(async ([node, url]) => {
        const code = await healthCode(url);
        if (last[node] !== code) samples.push({ at, node, code });
        last[node] = code;
      }));
      if (db && pluginsReadyAt === undefined) {
        const ready = await db
          .query<{ n: string }>(`SELECT count(*) AS n FROM "applicationPlugins" WHERE enabled AND installed`)
          .then((result) => Number(result.rows[0]?.n) >= builtInPlugins, () => false);
        if (ready) pluginsReadyAt = at;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await db?.end().catch(() => undefined);
  })();
  return {
    samples,
    async stop(): Promise<{ samples: HealthSample[]; pluginsReadyAt: number | undefined }> {
      running = false;
      await loop;
      return { samples, pluginsReadyAt };
    },
  };
}

/** When each container last started (Docker's own record), in ms. */
export async function startedAt(containers: readonly string[]): Promise<Record<string, number>> {
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  return Object.fromEntries(await Promise.all(containers.map(async (name) => [name, Date.parse((await docker.getContainer(name).inspect()).State.StartedAt)] as const)));
}

export async function containerImages(containers: readonly string[]): Promise<string[]> {
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  return Promise.all(containers.map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
}

/** NocoBase's `app:getInfo` through `baseUrl`: the version recorded in its database. */
export async function appVersion(baseUrl: string): Promise<string | undefined> {
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/app:getInfo`);
  if (!response.ok) return undefined;
  return ((await response.json()) as { data?: { version?: string } }).data?.version;
}
