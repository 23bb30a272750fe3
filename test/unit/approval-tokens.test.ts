import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSigningKey, signToken, verifyToken } from '../../src/adapters/approval/signing';
import { claimsRefusal, fromBase64url, base64url, parseToken } from '../../src/common/approval-token';
import { FailureType } from '../../src/common/failure-types';
import type { ApprovalPolicyPlan, ClusterPlan } from '../../src/common/procedure-types';
import { approvalPolicyPlan } from '../../src/activities/cluster/lookup';
import { approvalPolicyProblems, boundedPolicy } from '../../src/procedures/approval-policy';
import { parseConfig } from '../../src/config/load';
import { TEST_SIGNING_KEY } from '../support/approval-keys';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const request = { workflowId: 'maintenance-demo', runId: 'run-1', recipient: 'bob@example.test', kinds: ['approve', 'reject'] as ('approve' | 'reject')[], expiresAtMs: NOW + 3_600_000, nowMs: NOW };

describe('approval tokens', () => {
  it('verify when signed with a known key, naming the recipient and the run', () => {
    const { token, claims } = signToken(TEST_SIGNING_KEY, request);
    const verdict = verifyToken([TEST_SIGNING_KEY], token, NOW);
    assert.ok(verdict.valid);
    assert.deepEqual([verdict.claims.sub, verdict.claims.rid, verdict.claims.kid, verdict.claims.nonce], ['bob@example.test', 'run-1', 'test', claims.nonce]);
    assert.equal(claimsRefusal(claims, { workflowId: 'maintenance-demo', runId: 'run-1', nowMs: NOW, decision: 'approve' }), undefined);
  });

  it('each get a nonce of their own', () => {
    assert.notEqual(signToken(TEST_SIGNING_KEY, request).claims.nonce, signToken(TEST_SIGNING_KEY, request).claims.nonce);
  });

  it('are refused once expired, by the page and by the workflow', () => {
    const { token, claims } = signToken(TEST_SIGNING_KEY, { ...request, expiresAtMs: NOW - 1000 });
    const verdict = verifyToken([TEST_SIGNING_KEY], token, NOW);
    assert.ok(!verdict.valid);
    assert.match(verdict.reason, /expired at 2026-12-01T09:59:59/);
    assert.match(claimsRefusal(claims, { workflowId: 'maintenance-demo', runId: 'run-1', nowMs: NOW, decision: 'approve' }) ?? '', /expired/);
  });

  it('are refused with a forged signature, altered claims, or an unknown key', () => {
    const { token } = signToken(TEST_SIGNING_KEY, request);
    const [prefix, body, signature] = token.split('.') as [string, string, string];
    const flipped = `${prefix}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    assert.match((verifyToken([TEST_SIGNING_KEY], flipped, NOW) as { reason: string }).reason, /signature is not valid/);
    // A recipient swapped in the claims, the signature kept: refused too.
    const claims = JSON.parse(fromBase64url(body)!) as Record<string, unknown>;
    const altered = `${prefix}.${base64url(JSON.stringify({ ...claims, sub: 'mallory@example.test' }))}.${signature}`;
    assert.match((verifyToken([TEST_SIGNING_KEY], altered, NOW) as { reason: string }).reason, /signature is not valid/);
    const otherKey = { id: 'test', secret: Buffer.from('another-key-of-at-least-thirty-two-bytes!!') };
    assert.match((verifyToken([otherKey], token, NOW) as { reason: string }).reason, /signature is not valid/);
    assert.match((verifyToken([{ ...TEST_SIGNING_KEY, id: 'k2' }], token, NOW) as { reason: string }).reason, /key "test", which this worker does not have/);
    assert.match((verifyToken([TEST_SIGNING_KEY], 'nma1.garbage', NOW) as { reason: string }).reason, /not an approval token/);
    assert.ok('malformed' in parseToken('nma1.!!!.x'));
  });

  it('are refused on another run, another workflow, or for a decision they do not allow', () => {
    const { claims } = signToken(TEST_SIGNING_KEY, { ...request, kinds: ['reject'] });
    const use = { workflowId: 'maintenance-demo', runId: 'run-1', nowMs: NOW, decision: 'reject' as const };
    assert.match(claimsRefusal(claims, { ...use, runId: 'run-2' }) ?? '', /issued for run run-1 of maintenance-demo; the run waiting now is run-2/);
    assert.match(claimsRefusal(claims, { ...use, workflowId: 'maintenance-prod' }) ?? '', /issued for maintenance-demo/);
    assert.match(claimsRefusal(claims, { ...use, decision: 'approve' }) ?? '', /may only reject, not approve/);
  });

  it('are signed with a key read from a file or the environment, never a short one', () => {
    assert.throws(() => readSigningKey({ id: 'k', keyEnv: 'NO_SUCH_KEY_VAR' }, {}), /NO_SUCH_KEY_VAR is not set/);
    assert.throws(() => readSigningKey({ id: 'k', keyEnv: 'K' }, { K: 'short' }), /too short/);
    assert.equal(readSigningKey({ id: 'k', keyEnv: 'K' }, { K: 'a'.repeat(64) }).secret.length, 64);
    assert.throws(() => readSigningKey({ id: 'k', keyFile: '/nonexistent/key' }), /cannot read \/nonexistent\/key/);
  });
});

const RULES: ApprovalPolicyPlan = { mode: 'signed', minApprovals: 1, twoPersonRule: false, allowProceedOnTimeout: false, links: true };
const plan = (rules: Partial<ApprovalPolicyPlan> | undefined): Pick<ClusterPlan, 'cluster' | 'approvers' | 'approvalPolicy'> => ({
  cluster: 'prod',
  approvers: ['alice@example.test', 'bob@example.test'],
  ...(rules ? { approvalPolicy: { ...RULES, ...rules } } : {}),
});

describe('approval policies', () => {
  it('refuse onTimeout proceed at preflight unless the cluster allows it', () => {
    const input = { policy: { timeoutMs: 1000, onTimeout: 'proceed' as const } };
    const [problem] = approvalPolicyProblems(plan({}), input);
    assert.equal(problem?.type, FailureType.InvalidInput);
    assert.match(problem?.message ?? '', /"proceed" is not allowed on prod: .*allowProceedOnTimeout/);
    assert.deepEqual(approvalPolicyProblems(plan({ allowProceedOnTimeout: true }), input), []);
    assert.deepEqual(approvalPolicyProblems(plan(undefined), input), [], 'plans from before policies refuse nothing');
  });

  it('start a two-person run without "startedBy" (a maintenance window), but refuse the rule in open mode or with fewer than two approvers', () => {
    const policy = { timeoutMs: 1000, onTimeout: 'rollback' as const };
    assert.deepEqual(approvalPolicyProblems(plan({ twoPersonRule: true }), { policy }), []);
    const [open] = approvalPolicyProblems(plan({ twoPersonRule: true, mode: 'open' }), { policy });
    assert.equal(open?.type, FailureType.Misconfigured);
    assert.match(open?.message ?? '', /two-person rule but takes decisions in open mode/);
    const lonely = approvalPolicyProblems({ ...plan({ twoPersonRule: true }), approvers: ['alice@example.test'] }, { policy });
    assert.match(lonely[0]?.message ?? '', /needs 2 distinct approvals \(the two-person rule\) but lists only 1/);
  });

  it('refuse signed mode without keys, more approvals than approvers, and waiting past maxApprovalWait', () => {
    const policy = { timeoutMs: 7_200_000, onTimeout: 'rollback' as const };
    assert.equal(approvalPolicyProblems(plan({ links: false }), { policy })[0]?.type, FailureType.Misconfigured);
    assert.match(approvalPolicyProblems(plan({ minApprovals: 3 }), { policy })[0]?.message ?? '', /needs 3 distinct approvals but lists only 2/);
    assert.match(approvalPolicyProblems(plan({ maxApprovalWaitMs: 3_600_000 }), { policy: { timeoutMs: undefined, onTimeout: 'wait' } })[0]?.message ?? '', /"wait" is not allowed/);
    assert.equal(boundedPolicy(policy, { ...RULES, maxApprovalWaitMs: 3_600_000 }).timeoutMs, 3_600_000);
    assert.equal(boundedPolicy(policy, RULES).timeoutMs, 7_200_000);
  });

  it('are read from the configuration, open mode by default', () => {
    const yaml = (approval: string, extra = '') => `${extra}
clusters:
  prod:
    nodes: [{ name: node-1, dockerHost: "unix:///var/run/docker.sock", container: c1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }]
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: DB_PASSWORD }
    loadBalancer: { runtimeApi: "unix:///run/haproxy.sock", backend: nodes, maintenanceMap: /etc/haproxy/maintenance.map }
    backup: { directory: /backups }
${approval}`;
    const open = parseConfig(yaml(''), 'clusters.yaml').clusters.prod!.approval;
    assert.deepEqual([open.mode, open.minApprovals, open.twoPersonRule, open.allowProceedOnTimeout], ['open', 1, false, false]);
    const signed = parseConfig(
      yaml('    approval: { mode: signed, minApprovals: 2, twoPersonRule: true, maxApprovalWait: 4h, approvers: [a@x.test, b@x.test] }', 'approvals: { keys: [{ id: k1, keyFile: /etc/nocobase-maintenance/approval.key }], pageUrl: "https://ops.example.test/approvals" }'),
      'clusters.yaml',
    );
    assert.deepEqual([signed.clusters.prod!.approval.mode, signed.clusters.prod!.approval.maxApprovalWait, signed.approvals?.linkTtl], ['signed', 14_400_000, 86_400_000]);
    assert.throws(() => parseConfig(yaml('', 'approvals: { keys: [{ id: k1, keyFile: /k, keyEnv: K }], pageUrl: "https://x.test" }'), 'c.yaml'), /exactly one of keyFile or keyEnv/);
    assert.throws(() => parseConfig(yaml('    approval: { twoPersonRule: true, approvers: [a@x.test, b@x.test] }'), 'c.yaml'), /twoPersonRule.*the two-person rule needs mode: signed/s);
  });

  it('map an approver\'s other names to one canonical, lower-case name in the plan', () => {
    const config = parseConfig(
      `clusters:
  prod:
    nodes: [{ name: node-1, dockerHost: "unix:///var/run/docker.sock", container: c1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }]
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: DB_PASSWORD }
    loadBalancer: { runtimeApi: "unix:///run/haproxy.sock", backend: nodes, maintenanceMap: /etc/haproxy/maintenance.map }
    backup: { directory: /backups }
    approval: { approvers: [Alice@Example.com], aliases: { alice: Alice@Example.com, " A.Smith ": alice@example.com } }
`,
      'clusters.yaml',
    );
    assert.deepEqual(approvalPolicyPlan({ config }, config.clusters.prod!).aliases, { alice: 'alice@example.com', 'a.smith': 'alice@example.com' });
  });
});
