// `npm run demo:data`: business data in the running demo cluster, made through NocoBase's own API
// (a collection `orders` and 20 records), so a first session upgrades, rejects and rolls back
// something that matters. Run once after the first start (again after `npm run demo:reset`).
import { connectDocker } from '../src/adapters/docker/connection';
import { resolveDockerHostCredentials } from '../src/config/docker-hosts';
import { loadConfig } from '../src/config/load';
import { createBusinessData, listRecords } from './stack/nocobase/business-data';
import { dockerNodesOf } from '../src/config/schema';

async function healthy(url: string): Promise<boolean> {
  return fetch(url).then((response) => response.status === 200, () => false);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const demo = config.clusters.demo;
  if (!demo) throw new Error('the configuration has no demo cluster');
  const login = { email: process.env.DEMO_ROOT_EMAIL ?? 'admin@demo.test', password: process.env.DEMO_ROOT_PASSWORD ?? 'admin123' };
  const nodes = dockerNodesOf(demo);
  for (const node of nodes) {
    if (!(await healthy(node.healthUrl))) {
      throw new Error(`${node.name} does not serve (${node.healthUrl}): start the demo cluster first (the README's firstStart line)`);
    }
  }
  const [first, ...others] = nodes;
  const base = new URL(first!.healthUrl).origin;
  const existing = await listRecords(base, login).catch(() => undefined);
  if (existing) {
    console.log(`the demo cluster already has ${existing.length} orders; nothing to do (npm run demo:reset starts over)`);
    return;
  }
  const data = await createBusinessData(base, login);
  console.log(`created collection "${data.collection}" with ${data.records} records on ${first!.name}`);
  // Without NocoBase's commercial sync adapter a node learns of a collection made on another one
  // only when it starts: restart the others one at a time, each back before the next goes.
  for (const node of others) {
    const docker = connectDocker(node.dockerHost, resolveDockerHostCredentials(node.dockerHost, config.dockerHosts?.[node.dockerHost]));
    await docker.getContainer(node.container).restart({ t: 30 });
    const deadline = Date.now() + 180_000;
    while (!(await healthy(node.healthUrl))) {
      if (Date.now() > deadline) throw new Error(`${node.name} did not serve again within 180 s of its restart`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const seen = await listRecords(new URL(node.healthUrl).origin, login);
    console.log(`${node.name} restarted and sees ${seen.length} orders`);
  }
  console.log(`log in at ${process.env.LB_URL ?? 'the load balancer'} as ${login.email} to see them`);
}

main().catch((error: unknown) => {
  console.error(`demo:data: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
