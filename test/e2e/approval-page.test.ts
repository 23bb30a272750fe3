import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { parse, stringify } from 'yaml';
import { signToken, type SigningKey } from '../../src/adapters/approval/signing';
import { createApprovalPage } from '../../src/approval-page/server';
import { connectClient } from '../../src/client/connect';
import { taskQueue } from '../../src/client/task-queue';
import { versionUpgrade } from '../../src/workflows';
import { decideUpdate, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { receivedMail } from '../support/maildir';
import { readmeCommandsRunBy } from '../support/readme-commands';
import { stackEnv } from '../support/stack';

// The approval mail's signed links, opened in Debian's Chromium (no browser is downloaded): the
// stand-in cluster switched to `signed` mode with the two-person rule in a config of this test's
// own, the approval page served by this process, the worker the real one.

const ARTIFACTS = join(__dirname, '..', '..', '.stack', 'artifacts', 'approval-page');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const [OPS, ALICE] = ['ops@demo.test', 'alice@demo.test'];
const run = promisify(execFile);
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

const key: SigningKey = { id: 'e2e', secret: Buffer.from(`e2e-approval-key-${Date.now()}-${Math.random()}-padding-to-32-bytes`) };
let server: Server;
let pageUrl = '';
let browser: Browser;

/** Before the suite's worker starts: the page on a free port, and the config the worker reads. */
before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const keyFile = join(ARTIFACTS, 'signing-key');
  writeFileSync(keyFile, key.secret);
  chmodSync(keyFile, 0o600);
  const client = await connectClient();
  server = createApprovalPage({ client, keys: () => [key] });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.once('close', () => void client.connection.close());
  const config = parse(readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as { approvals?: unknown; clusters: Record<string, { approval?: unknown }> };
  config.approvals = { keys: [{ id: key.id, keyFile }], pageUrl, listen: '127.0.0.1:1' };
  config.clusters.standin!.approval = { approvers: [OPS, ALICE], mode: 'signed', twoPersonRule: true };
  const file = join(ARTIFACTS, 'clusters.yaml');
  writeFileSync(file, stringify(config));
  process.env.NOCOBASE_MAINTENANCE_CONFIG = file;
  // A queue of its own: a worker polling the contract queue with the stack's config must not take these runs.
  process.env.NOCOBASE_MAINTENANCE_TASK_QUEUE ||= `approval-e2e-${process.pid}`;
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('approval from the mail in a real browser, on the stand-in cluster in signed mode', () => {
  const suite = e2eSuite({ startCluster: true });
  let firstRunLink = '';

  async function upgradeAwaiting(): Promise<{ handle: Upgrade; links: Record<string, { approve: string; reject: string; token: string }> }> {
    const seen = new Set(receivedMail(stackEnv().SMTP_MAILDIR).map((mail) => mail.file));
    const handle = (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, startedBy: ALICE }],
    })) as Upgrade;
    const links = await until('the approvers\' mails with their links', async () => {
      const mails = receivedMail(stackEnv().SMTP_MAILDIR).filter((mail) => !seen.has(mail.file) && /awaits your decision/.test(mail.subject));
      const found: Record<string, { approve: string; reject: string; token: string }> = {};
      for (const mail of mails) {
        const approve = /Approve: (http\S+)/.exec(mail.body)?.[1];
        const reject = /Reject: (http\S+)/.exec(mail.body)?.[1];
        // Every command in it is bound to this run.
        const token = /"token":"(nma1\.[^"]+)"/.exec(mail.body)?.[1];
        if (approve && reject && token && /update execute --workflow-id \S+ --run-id \S+ --name decide/.test(mail.body)) found[mail.to] = { approve, reject, token };
      }
      return found[OPS] && found[ALICE] ? found : undefined;
    }, 180_000);
    return { handle, links };
  }

  async function open(url: string): Promise<{ page: Page; status: number }> {
    const page = await browser.newPage();
    const response = await page.goto(url, { waitUntil: 'load' });
    return { page, status: response?.status() ?? 0 };
  }

  async function confirm(page: Page, note: string): Promise<string> {
    // A tab in the background does not submit its form: the person looks at the page they click.
    await page.bringToFront();
    if (!(await page.$('#note'))) throw new Error(`no confirm form on ${page.url()}:\n${await page.$eval('body', (body) => (body as unknown as { innerText: string }).innerText)}`);
    await page.type('#note', note);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#confirm')]);
    return page.$eval('body', (body) => (body as unknown as { innerText: string }).innerText);
  }

  it('approves from the mailed link: the GET shows the step and checks and decides nothing, refusals change nothing, the POST continues to upgraded', async () => {
    const started = Date.now();
    const { handle, links } = await upgradeAwaiting();
    firstRunLink = links[OPS]!.approve;

    // A mail scanner's GET: the page shows the procedure, nothing is decided.
    const { page, status } = await open(links[OPS]!.approve);
    assert.equal(status, 200);
    assert.equal(await page.$eval('#step', (element) => element.textContent), 'verify');
    assert.match(await page.$eval('#checks', (element) => element.textContent ?? ''), /node-1 now runs .* passed the automated checks:\s+health 200/);
    assert.match(await page.$eval('#nodes', (element) => element.textContent ?? ''), /node-2.*stopped/);
    await page.screenshot({ path: join(ARTIFACTS, 'approve-page.png'), fullPage: true });
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting', 'the GET decided nothing');

    // Refused, each with its reason, nothing changed.
    const plain = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'alice' }] }).catch((error: unknown) => error);
    assert.ok(plain instanceof WorkflowUpdateFailedError);
    assert.match(plain.cause?.message ?? '', /takes only signed decisions/);
    const forged = links[OPS]!.approve.replace(/\.([A-Za-z0-9_-])([A-Za-z0-9_-]*)\?/, (_, first: string, rest: string) => `.${first === 'A' ? 'B' : 'A'}${rest}?`);
    const forgedPage = await open(forged);
    assert.equal(forgedPage.status, 403);
    assert.match(await forgedPage.page.$eval('#reason', (element) => element.textContent ?? ''), /signature is not valid/);
    // The two-person rule: the starter's approval counts once, and one approval is not enough.
    const starter = await open(links[ALICE]!.approve);
    assert.match(await confirm(starter.page, 'my own change'), /Recorded: approve by alice@demo\.test .*waits for 1 more approval/);
    await starter.page.screenshot({ path: join(ARTIFACTS, 'starter-approved-once.png'), fullPage: true });
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting');

    const recorded = await confirm(page, 'checked in the browser');
    assert.match(recorded, /Recorded: approve by ops@demo\.test/);
    await page.screenshot({ path: join(ARTIFACTS, 'approved.png'), fullPage: true });
    const result = await handle.result();
    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual([result.decision?.by, result.decision?.how, result.decision?.comment], [OPS, 'link', 'checked in the browser']);
    assert.ok(result.decision?.tokenId);

    // The same link again, now that it was used: refused (the POST as a replaying client sends it).
    const replay = await fetch(links[OPS]!.approve.replace(/\?.*$/, ''), { method: 'POST', body: new URLSearchParams({ decision: 'approve' }) });
    assert.equal(replay.status, 409);
    assert.match(await replay.text(), /nothing awaits a decision|has ended/);
    console.log(`approve e2e: ${((Date.now() - started) / 1000).toFixed(0)} s after the cluster was up`);
  });

  it("approves from the CLI with the README's line and the token from the mail: recorded as a token decision", async () => {
    const { handle, links } = await upgradeAwaiting();
    const { runId } = await handle.describe();
    const [line, ...more] = readmeCommandsRunBy('test/e2e/approval-page.test.ts');
    assert.ok(line && more.length === 0, 'the README shows one CLI line for a signed decision');
    // The two-person rule: one approval first, the README's line gives the second.
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: links[ALICE]!.token }] });
    const command = line.replaceAll('maintenance-demo', workflowId).replace('<run>', runId).replace('nma1.…', links[OPS]!.token);
    // As an approver runs it after `source .stack/env`: the codec settings make the CLI encrypt the input.
    await run('bash', ['-c', command], { env: { ...process.env, PATH: `${dirname(process.env.TEMPORAL_BIN ?? '/usr/bin/temporal')}:${process.env.PATH ?? ''}` } });
    const result = await handle.result();
    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual([result.decision?.by, result.decision?.how, result.decision?.comment], [OPS, 'token', 'smoke test ok']);
  });

  it('rejects from the mailed link and rolls back; the first run\'s link and an expired one are refused on the second run', async () => {
    const started = Date.now();
    const { handle, links } = await upgradeAwaiting();
    const { runId } = await handle.describe();

    assert.ok(firstRunLink, 'the approve test ran first');
    const oldRun = await open(firstRunLink);
    assert.equal(oldRun.status, 410);
    assert.match(await oldRun.page.$eval('#reason', (element) => element.textContent ?? ''), /is (completed|terminated): nothing awaits a decision/);
    const oldToken = /\/a\/([^?]+)/.exec(firstRunLink)![1]!;
    const onRun2 = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: oldToken }] }).catch((error: unknown) => error);
    assert.ok(onRun2 instanceof WorkflowUpdateFailedError);
    assert.match(onRun2.cause?.message ?? '', /issued for run .* the run waiting now is/);

    const expired = signToken(key, { workflowId, runId, recipient: OPS, kinds: ['approve', 'reject'], expiresAtMs: Date.now() - 1000 }).token;
    const expiredPage = await open(`${pageUrl}/a/${expired}?d=reject`);
    assert.equal(expiredPage.status, 403);
    assert.match(await expiredPage.page.$eval('#reason', (element) => element.textContent ?? ''), /expired/);
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting');

    const { page } = await open(links[OPS]!.reject);
    assert.match(await page.$eval('#confirm', (element) => element.textContent ?? ''), /Reject as ops@demo\.test/);
    await page.screenshot({ path: join(ARTIFACTS, 'reject-page.png'), fullPage: true });
    assert.match(await confirm(page, 'login page broken'), /Recorded: reject by ops@demo\.test/);
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.match(result.reason ?? '', /rejected by ops@demo\.test: login page broken/);
    assert.equal(result.audit?.[0]?.how, 'link');
    console.log(`reject e2e: ${((Date.now() - started) / 1000).toFixed(0)} s after the cluster was up`);
  });
});
