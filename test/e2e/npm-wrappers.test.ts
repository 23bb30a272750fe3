import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { STANDIN_WORKFLOW_ID, e2eSuite, until } from '../support/e2e-suite';
import { statusQuery } from '../../src/workflows/messages';
import { stackEnv } from '../support/stack';
import { taskQueue } from '../../src/client/task-queue';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..');

/** `npm run <script> -- <args>` from the repo root: exit code and output. */
async function npmRun(script: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('npm', ['run', '--silent', script, '--', ...args], { cwd: REPO, timeout: 300_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** A hang guard, not a timing assertion: a decision that is not taken leaves a run waiting hours. */
const HANG_GUARD = { timeout: 180_000 };

describe('the npm wrappers over the temporal CLI, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: false });

  it('bring the stand-in cluster up, upgrade it, refuse a stranger and take an approver', HANG_GUARD, async () => {
    const started = await npmRun('first-start', '--cluster', 'standin', '--wait');
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /started firstStart as maintenance-standin/);
    const firstStart = JSON.parse(started.stdout.slice(started.stdout.indexOf('\n{') + 1)) as { firstNode: string; loadBalancer: { status: string }[] };
    assert.equal(firstStart.firstNode, 'node-1');
    assert.deepEqual(firstStart.loadBalancer.map((server) => server.status), ['UP', 'UP', 'UP']);

    const upgrade = await npmRun('upgrade', '--cluster', 'standin', '--image', stackEnv().STANDIN_IMAGE_V2);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.ok(upgrade.stdout.includes(`same as: temporal workflow start --task-queue ${taskQueue()} --type versionUpgrade --workflow-id maintenance-standin`), upgrade.stdout);
    const handle = suite.client.workflow.getHandle(STANDIN_WORKFLOW_ID);
    assert.equal(await handle.describe().then((description) => description.staticSummary()), `Upgrade of standin to \`${stackEnv().STANDIN_IMAGE_V2}\``);
    await until('the upgrade to wait for a decision', async () => ((await handle.query(statusQuery)).waitingFor?.startsWith('a decision') ? true : undefined));

    const second = await npmRun('in-app', '--cluster', 'standin');
    assert.equal(second.code, 1, 'a second procedure on the cluster is refused, not attached to the running one');
    assert.match(second.stderr, /another procedure runs on standin \(maintenance-standin\); nothing was started/, second.stderr);
    assert.match(upgrade.stdout, /--fail-existing/);

    const status = await npmRun('status', '--cluster', 'standin');
    assert.match(status.stdout, /"step": "verify"/, status.stdout);
    const stranger = await npmRun('approve', '--cluster', 'standin', '--by', 'mallory');
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /refused the decision: .*mallory/, stranger.stderr);

    const approved = await npmRun('approve', '--cluster', 'standin', '--by', 'alice', '--comment', 'via npm');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /"via": "update"/);
    const result = (await handle.result()) as { outcome: string; decision: { by: string; comment: string } };
    assert.deepEqual([result.outcome, result.decision.by, result.decision.comment], ['upgraded', 'alice', 'via npm']);
  });

  it('say what is missing instead of starting anything', HANG_GUARD, async () => {
    const missing = await npmRun('upgrade', '--image', 'x:1');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--cluster is required/);
    const bad = await npmRun('in-app', '--cluster', 'standin', '--operations', '[not json');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--operations must be JSON/);
    // The suite terminated the last run on the cluster before this test; nothing new runs.
    const latest = await suite.client.workflow.getHandle(STANDIN_WORKFLOW_ID).describe().catch(() => undefined);
    assert.notEqual(latest?.status.name, 'RUNNING', 'no procedure was started');
  });
});
