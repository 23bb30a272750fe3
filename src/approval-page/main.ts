/**
 * `npm run approvals`: the approval page the mailed links open (see src/approval-page/server.ts),
 * listening at the configuration's `approvals.listen` (APPROVALS_LISTEN overrides it), with the
 * keys `approvals.keys` names and a Temporal client read the way the worker reads it.
 */
import { readSigningKey } from '../adapters/approval/signing';
import { createApprovalPage } from './server';
import { connectClient } from '../client/connect';
import { loadConfig } from '../config/load';
import { logFormatFromEnv } from '../logging/log-line';
import { processLogger, type ProcessLogger } from '../logging/process-logger';
import { SERVICE, shutdownTracing, tracingFromEnv } from '../tracing/provider';

/** Human until the format is read: a bad NOCOBASE_MAINTENANCE_LOG_FORMAT is itself reported that way. */
let log: ProcessLogger = processLogger('human');

async function main(): Promise<void> {
  log = processLogger(logFormatFromEnv());
  // Before the client connects, so its decisions are traced under the page's name.
  tracingFromEnv(SERVICE.approvalPage);
  const config = loadConfig();
  const approvals = config.approvals;
  if (!approvals) throw new Error('the configuration has no "approvals:" section (keys, pageUrl, listen): there are no links to serve');
  const keys = () => approvals.keys.map((source) => readSigningKey(source));
  keys(); // unreadable keys stop it here, with the file or variable named
  const client = await connectClient();
  const listen = process.env.APPROVALS_LISTEN ?? approvals.listen;
  const split = listen.lastIndexOf(':');
  const server = createApprovalPage({ client, keys, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(split + 1)), listen.slice(0, split), resolve);
  });
  log.info(`approval page listening on http://${listen} (links start with ${approvals.pageUrl})`);
  const stop = () => {
    server.close();
    void client.connection.close().then(shutdownTracing);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  log.error(`approvals: ${(error as Error).message}`);
  process.exit(1);
});
