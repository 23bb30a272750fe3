import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { taskQueue } from '../../src/client/task-queue';
import { versionUpgrade } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { receivedMail } from '../support/maildir';
import { stackEnv } from '../support/stack';

// Issue 22, part 3: the page the approval mails link to is the one `npm run stack:up` (and so
// `npm start` and `npm test`) started (scripts/stack/approvals.sh), not one this test serves. The
// stack's clusters stay in open mode; an approver with an email address still gets signed links.

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const APPROVER = 'ops@demo.test';

/** The stack's own `approvals.pageUrl`, as the worker mails it. */
function stackPageUrl(): string {
  const config = parse(readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as { approvals?: { pageUrl?: string } };
  return config.approvals?.pageUrl ?? assert.fail('the stack config has no approvals.pageUrl');
}

async function form(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
}

describe("the approval mail's links open the page the stack runs", () => {
  const suite = e2eSuite({ startCluster: true });

  async function upgradeWithMailedLinks(): Promise<{ handle: Upgrade; approve: string; reject: string }> {
    const seen = new Set(receivedMail(stackEnv().SMTP_MAILDIR).map((mail) => mail.file));
    const handle = (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }],
    })) as Upgrade;
    const { runId } = await handle.describe();
    const links = await until(`${APPROVER}'s decision mail for run ${runId}`, async () => {
      for (const mail of receivedMail(stackEnv().SMTP_MAILDIR)) {
        if (seen.has(mail.file) || mail.to !== APPROVER || !mail.body.includes(runId)) continue;
        const approve = /Approve: (http\S+)/.exec(mail.body)?.[1];
        const reject = /Reject: (http\S+)/.exec(mail.body)?.[1];
        if (approve && reject) return { approve, reject };
      }
      return undefined;
    }, 180_000);
    return { handle, ...links };
  }

  it('approves from the mailed link: the stack serves it, the GET shows verify and decides nothing, the POST continues to upgraded and a second POST is refused', async () => {
    const health = await fetch(`${stackPageUrl()}/health`).catch((error: unknown) => assert.fail(`nothing answers at the stack's approval page ${stackPageUrl()} (${String((error as Error).cause ?? error)}): run npm run stack:up`));
    assert.equal(health.status, 200);

    const { handle, approve } = await upgradeWithMailedLinks();
    assert.ok(approve.startsWith(`${stackPageUrl()}/a/`), `the mail links to ${approve}, not to the stack's page`);
    const shown = await fetch(approve);
    const page = await shown.text();
    assert.equal(shown.status, 200, page);
    assert.match(page, /id="step"[^>]*>verify</);
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting', 'the GET decided nothing');

    const decided = await form(approve.split('?')[0]!, { decision: 'approve', note: 'approved from the stack page' });
    assert.equal(decided.status, 200, await decided.text());
    const result = await handle.result();
    assert.equal(result.outcome, 'upgraded');
    assert.equal(result.decision?.how, 'link');
    assert.equal(result.decision?.by, APPROVER);

    const replay = await form(approve.split('?')[0]!, { decision: 'approve' });
    assert.equal(replay.status, 409, 'a used link decides nothing more');
  });

  it('rejects from the mailed link: the procedure rolls back', async () => {
    const { handle, reject } = await upgradeWithMailedLinks();
    const shown = await fetch(reject);
    assert.equal(shown.status, 200, await shown.text());
    const decided = await form(reject.split('?')[0]!, { decision: 'reject', note: 'rejected from the stack page' });
    assert.equal(decided.status, 200, await decided.text());
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.decision?.by, APPROVER);
  });
});
