import { ApplicationFailure, Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import type { Activities } from '../../src/activities';
import { signToken, verifyToken } from '../../src/adapters/approval/signing';
import type { ApprovalPolicyPlan, ClusterPlan, NodeSnapshot } from '../../src/common/procedure-types';
import { TEST_SIGNING_KEY } from './approval-keys';

type Overrides = Partial<{ [K in keyof Activities]: (...args: Parameters<Activities[K]>) => ReturnType<Activities[K]> | void | Promise<void> }>;

/**
 * Activities that only record what the workflow asked, in order, for a three-node cluster.
 * An override that returns undefined keeps the recorded call but falls through to the default.
 */
export function mockCluster(cluster: string, overrides: Overrides = {}) {
  const calls: string[] = [];
  /** The last token mailed to each approver (sendDecisionRequest). */
  const tokens = new Map<string, string>();
  /** The kinds of every decision request mailed, in order ("approve,reject", "retryRollback,abandon", …). */
  const requests: string[] = [];
  const nodes: NodeSnapshot[] = ['node-1', 'node-2', 'node-3'].map((name) => ({
    name,
    container: `${cluster}-${name}`,
    image: 'registry.test/nocobase:1.6.0',
    imageId: 'sha256:1',
    state: 'created',
    running: false,
  }));
  const plan: ClusterPlan = {
    cluster,
    nodes,
    database: { host: 'db.test', port: 5432, database: 'nocobase' },
    loadBalancer: { backend: `${cluster}_nodes` },
    recipients: ['ops@example.test'],
    approvers: ['alice', 'ops@example.test'],
    restartMiddleware: [],
  };

  const defaults: Activities = {
    describeCluster: async () => plan,
    checkDatabase: async () => ({ serverVersion: '15', version: null, plugins: null }),
    imageVersion: async ({ image }) => image.split(':').at(-1) ?? null,
    ensureImages: async ({ images }) => images.map((image) => ({ dockerHost: 'unix:///docker.sock', image, pulled: false })),
    startNode: async ({ node }) => ({ ...nodes.find((n) => n.name === node)!, running: true, state: 'running' }),
    stopNode: async ({ node }) => ({ ...nodes.find((n) => n.name === node)!, running: false, state: 'exited' }),
    waitNodeReady: async ({ node }) => ({ node, version: '1.6.0', waitedMs: 5 }),
    probeNode: async ({ node }) => ({ node, healthy: true, code: 'ok' }),
    inspectImages: async ({ images }) => images.map((image) => ({ dockerHost: 'unix:///docker.sock', image, present: image.endsWith(':1.6.0') })),
    recentWindow: async () => ({ expectedMs: 42_000, basedOnRuns: 3 }),
    checkBlackout: async () => ({ today: '2026-11-24', timeZone: 'UTC', period: null }),
    checkClusterInvariants: async () => ({ nodes: 3, checked: ['APP_KEY'] }),
    findLeftovers: async () => [],
    backupStorage: async ({ label }) => ({
      cluster,
      location: `/backups/${cluster}-${label}.storage.tar`,
      sizeBytes: 10_240,
      checksum: 'def',
      files: 2,
      durationMs: 3,
      createdAt: '2026-01-01T00:00:00.000Z',
      source: `volume:${cluster}-storage`,
    }),
    restoreStorage: async ({ backup }) => ({ restoredFrom: backup.location, files: backup.files }),
    setLoadBalancerServers: async ({ nodes: names }) => names.map((server) => ({ server, status: 'MAINT', sessions: 0 })),
    setMaintenanceMode: async () => undefined,
    waitLoadBalancerServing: async ({ nodes: names }) => names.map((server) => ({ server, status: 'UP', sessions: 0 })),
    sendNotification: async ({ subject }) => ({ sent: true, recipients: ['ops@example.test'], messageId: subject }),
    // As the real ones, with the test key: each approver with an address gets a token, kept in `tokens`.
    sendDecisionRequest: async ({ kinds, validForMs }) => {
      const { workflowId, runId } = Context.current().info.workflowExecution!;
      const links = plan.approvers.filter((approver) => approver.includes('@')).map((recipient) => {
        const { token, claims } = signToken(TEST_SIGNING_KEY, { workflowId, runId, recipient, kinds, expiresAtMs: Date.now() + (validForMs ?? 86_400_000) });
        tokens.set(recipient, token);
        return { recipient, tokenId: claims.nonce, expiresAt: new Date(claims.exp * 1000).toISOString() };
      });
      requests.push(kinds.join(','));
      return { sent: true, recipients: links.map((link) => link.recipient), links };
    },
    verifyApprovalToken: async ({ token }) => {
      const verdict = verifyToken([TEST_SIGNING_KEY], token);
      return verdict.valid ? { valid: true, recipient: verdict.claims.sub, tokenId: verdict.claims.nonce } : { valid: false, reason: verdict.reason };
    },
    fleetClusters: async () => [{ name: cluster, labels: {}, approvers: plan.approvers }],
    describeProcedures: async () => ({}),
    checkBackupRoom: async ({ method }) => ({ method: method ?? 'pg_dump', databaseBytes: 1_000, freeBytes: 1_000_000, enough: true }),
    backupDatabase: async ({ label, method }) => ({
      method: method ?? 'pg_dump',
      cluster,
      database: 'nocobase',
      location: `/backups/${cluster}-${label}.dump`,
      sizeBytes: 1_000,
      checksum: 'abc',
      durationMs: 5,
      createdAt: '2026-01-01T00:00:00.000Z',
      applicationVersion: '1.6.0',
    }),
    restoreDatabase: async ({ label }) => ({ restoredFrom: `/backups/${cluster}-${label}.dump`, setAsideAs: `nocobase_rb_${label}` }),
    discardBackup: async () => undefined,
    pruneBackups: async () => ({ kept: [], dropped: [], spared: [], unsettled: [] }),
    replaceNodeImage: async ({ node, image, label }) => ({
      node,
      container: `${cluster}-${node}`,
      previousImage: 'registry.test/nocobase:1.6.0',
      image,
      savedAs: `${cluster}-${node}-pre-${label}`,
      changed: true,
    }),
    restoreNodeImage: async ({ node }) => ({ node, container: `${cluster}-${node}`, image: 'registry.test/nocobase:1.6.0', restored: true }),
    discardSavedNode: async () => ({ removed: true }),
    restartMiddleware: async () => [{ name: 'redis', container: `${cluster}-redis`, startedAt: '2026-01-01T00:00:00Z' }],
    // Like the real one: holds (heartbeating) until cancelled, then returns its report.
    holdLoadBalancer: async () => {
      const context = Context.current();
      let checks = 0;
      try {
        for (;;) {
          checks++;
          context.heartbeat({ checks, drifts: [] });
          await context.sleep(200);
        }
      } catch (error) {
        if (context.cancellationSignal.aborted) return { checks, drifts: [] };
        throw error;
      }
    },
    releaseLoadBalancerHold: async () => false,
    suspendRestartPolicy: async ({ node }) => ({ node, container: `${cluster}-${node}`, policy: { name: 'always' }, changed: true }),
    restoreRestartPolicy: async ({ node, policy }) => ({ node, container: `${cluster}-${node}`, policy, changed: true }),
    waitServersDrained: async ({ nodes: names }) => names.map((server) => ({ server, status: 'MAINT', sessions: 0 })),
    runNodeCommand: async ({ node, command }) => ({ node, command, exitCode: 0, output: `ran ${command.join(' ')}` }),
  };

  const activities = Object.fromEntries(
    Object.entries(defaults).map(([name, implementation]) => [
      name,
      async (input: Record<string, unknown>) => {
        const detail = input.node ?? input.state ?? (input.on === undefined ? undefined : input.on ? 'on' : 'off') ?? (input.audience === 'approvers' ? 'approvers' : undefined);
        const label = [name, detail as string | undefined]
          .filter((part) => part !== undefined)
          .join(':');
        calls.push(label);
        const override = (overrides as Record<string, ((input: unknown) => unknown) | undefined>)[name];
        const overridden = override ? await override(input) : undefined;
        const result = overridden === undefined ? await (implementation as (input: unknown) => Promise<unknown>)(input) : overridden;
        calls.push(`${label}:done`);
        return result;
      },
    ]),
  ) as unknown as Activities;

  return { activities, calls, plan, tokens, requests };
}

export function failWith(type: string, message = `${type} (injected by the test)`): never {
  throw ApplicationFailure.nonRetryable(message, type);
}

/**
 * What a real waiting activity does: heartbeat until `done` settles or the activity is cancelled
 * (which it learns from a heartbeat's answer), then end, throwing the cancellation.
 */
export async function heartbeatUntil(done: Promise<unknown>): Promise<void> {
  const context = Context.current();
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    context.heartbeat();
    await Promise.race([context.sleep(200), done]);
  }
}

/** A mock cluster of its own name whose nodes all run already: what in-app maintenance starts from. */
export function servingMockCluster(overrides: Overrides = {}): ReturnType<typeof mockCluster> {
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`, overrides);
  for (const node of mock.plan.nodes) Object.assign(node, { running: true, state: 'running' });
  return mock;
}

/** The approvers of `signedMockCluster`, each with an address (so each gets a token). */
export const SIGNED_APPROVERS = ['alice@example.test', 'bob@example.test', 'carol@example.test'] as const;

/** A serving mock cluster whose plan carries a signed approval policy (overridden by `rules`). */
export function signedMockCluster(rules: Partial<ApprovalPolicyPlan> = {}, overrides: Overrides = {}): ReturnType<typeof mockCluster> {
  const mock = servingMockCluster(overrides);
  mock.plan.approvers = [...SIGNED_APPROVERS];
  mock.plan.approvalPolicy = { mode: 'signed', minApprovals: 1, twoPersonRule: false, allowProceedOnTimeout: false, links: true, ...rules };
  return mock;
}
