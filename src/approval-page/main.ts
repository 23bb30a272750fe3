/**
 * `npm run approvals`: the approval page the mailed links open (see src/approval-page/server.ts),
 * listening at the configuration's `approvals.listen` (APPROVALS_LISTEN overrides it), with the
 * keys `approvals.keys` names and a Temporal client read the way the worker reads it.
 */
import { readSigningKey } from '../adapters/approval/signing';
import { createApprovalPage } from './server';
import { connectClient } from '../client/connect';
import { loadConfig } from '../config/load';

async function main(): Promise<void> {
  const config = loadConfig();
  const approvals = config.approvals;
  if (!approvals) throw new Error('the configuration has no "approvals:" section (keys, pageUrl, listen): there are no links to serve');
  const keys = () => approvals.keys.map((source) => readSigningKey(source));
  keys(); // unreadable keys stop it here, with the file or variable named
  const client = await connectClient();
  const listen = process.env.APPROVALS_LISTEN ?? approvals.listen;
  const split = listen.lastIndexOf(':');
  const server = createApprovalPage({ client, keys });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(split + 1)), listen.slice(0, split), resolve);
  });
  console.log(`approval page listening on http://${listen} (links start with ${approvals.pageUrl})`);
  const stop = () => {
    server.close();
    void client.connection.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`approvals: ${(error as Error).message}`);
  process.exit(1);
});
