import type { Activities } from '../activities';

type Summarizers = { [K in keyof Activities]: (input: Parameters<Activities[K]>[0]) => string };

/**
 * One line per activity for the Temporal UI's event history and timeline (the activity's
 * `summary`), so an operator reads "stop demo-node-2" instead of `stopNode` plus a JSON blob.
 * Built from the activity's input only: inputs never hold secrets, so neither do summaries.
 * A `Record` over every activity name makes a new activity without a summary a type error.
 */
const SUMMARIZERS: Summarizers = {
  describeCluster: () => 'read the cluster plan: nodes, images, load balancer',
  checkClusterInvariants: () => 'check that every node shares keys, database settings and image',
  checkDatabase: () => 'check the database is reachable and read its recorded version',
  checkBackupRoom: (input) => `check there is room for a ${input.method ?? 'configured-method'} backup`,
  checkBlackout: () => 'check the blackout calendar',
  findLeftovers: () => 'look for what an interrupted run left: saved containers, set-aside databases, the maintenance page',
  recentWindow: (input) => `estimate the window from recent ${input.procedure} runs`,
  ensureImages: (input) => `pull ${list(input.images)} onto every Docker host`,
  inspectImages: (input) => `look for ${list(input.images)} on the Docker hosts`,
  imageVersion: (input) => `read the NocoBase version of ${code(input.image)}`,
  startNode: (input) => `start ${input.node}`,
  stopNode: (input) => `stop ${input.node}`,
  probeNode: (input) => `probe the health check of ${input.node}`,
  waitNodeReady: (input) =>
    `wait until ${input.node} is healthy` +
    (input.expectVersion ? `, on version ${input.expectVersion}` : '') +
    (input.requirePlugins ? ', with its plugins enabled' : ''),
  replaceNodeImage: (input) => `recreate ${input.node} on ${code(input.image)}, keeping the old container`,
  restoreNodeImage: (input) => `put back the previous container of ${input.node}`,
  discardSavedNode: (input) => `remove the saved previous container of ${input.node}`,
  suspendRestartPolicy: (input) => `set the restart policy of ${input.node} to no while the procedure holds it`,
  restoreRestartPolicy: (input) => `give ${input.node} back its restart policy ${code(input.policy.name)}`,
  runNodeCommand: (input) => `run ${code(input.command.join(' '))} in ${input.node}`,
  backupDatabase: (input) => `back up the database (${input.method ?? 'configured method'})`,
  restoreDatabase: (input) => `restore the database from the ${input.backup.method} backup ${code(input.backup.location)}`,
  discardBackup: (input) => `drop the clone backup ${code(input.backup.location)}`,
  pruneBackups: () => 'drop clone backups and set-aside databases older than the newest backup.keep',
  backupStorage: () => 'archive the shared storage',
  restoreStorage: (input) => `restore the shared storage from ${code(input.backup.location)}`,
  setMaintenanceMode: (input) => (input.on ? 'load balancer: show the 503 maintenance page' : 'load balancer: maintenance page off'),
  setLoadBalancerServers: (input) => `load balancer: ${list(input.nodes)} to ${input.state}`,
  waitLoadBalancerServing: (input) =>
    `wait until the load balancer serves through ${list(input.nodes)}` + (input.publicUrl === false ? ' (admin view)' : ''),
  holdLoadBalancer: (input) =>
    `load balancer: hold the maintenance page ${input.maintenance ? 'on' : 'off'}` +
    (input.servers.length > 0 ? ` and ${input.servers.map((server) => `${code(server.node)} ${server.state}`).join(', ')}` : '') +
    ' until the wait ends',
  releaseLoadBalancerHold: (input) => `load balancer: end the watch on ${code(input.cluster)} now that the wait is over`,
  waitServersDrained: (input) => `wait until ${list(input.nodes)} handle no request`,
  restartMiddleware: () => 'restart the middleware (Redis) while every node is down',
  sendNotification: (input) => `mail ${input.audience ?? 'recipients'}: ${input.subject}`,
  sendDecisionRequest: (input) => `mail the approvers their signed links: ${input.subject}`,
  verifyApprovalToken: () => 'check the approval token\'s signature',
  fleetClusters: (input) => (input.clusters ? `read the configuration of ${list(input.clusters)}` : 'read every configured cluster and its labels'),
  describeProcedures: (input) => `read the step of ${list(input.workflowIds)}`,
};

export function summarizeActivity<K extends keyof Activities>(name: K, input: Parameters<Activities[K]>[0]): string {
  // The UI renders one line; a newline in a subject or command would otherwise break it.
  return SUMMARIZERS[name](input).replace(/\s+/g, ' ');
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'no node' : items.map(code).join(', ');
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}
