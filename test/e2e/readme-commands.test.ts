// test-lane: nocobase
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FailureType } from '../../src/common/failure-types';
import { taskQueue } from '../../src/client/task-queue';
import { statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { DEMO_WORKFLOW_ID, e2eSuite, until } from '../support/e2e-suite';
import { README, readmeTemporalCommands, readmeUnclaimedShellCommands, readmeUiForm, readmeUiStartForm } from '../support/readme-commands';
import { listRecords } from '../support/nocobase-api';
import { stackEnv } from '../support/stack';
import { TemporalUi } from '../support/temporal-ui';
import { firstStart as firstStartWorkflow, inAppMaintenance } from '../../src/workflows';

const run = promisify(execFile);

/**
 * The README's `temporal …` lines, run verbatim with the `temporal` CLI against the stack and the
 * real worker, in the order a reader would run them, so the docs cannot rot. The last test fails
 * when the README gains a command line that no test here runs.
 */
/** A hang guard, not a timing assertion: a decision that is not taken leaves a run waiting hours. */
const HANG_GUARD = { timeout: 300_000 };

describe('the README, command by command, against the local stack and its real NocoBase demo cluster', () => {
  const commands = readmeTemporalCommands();
  // The blocks another test runs (fleet, production, approvals, versioning) are theirs.
  const lines = readmeUnclaimedShellCommands();
  const executed = new Set<string>();
  const SCHEDULE_ID = 'maintenance-demo-versionUpgrade';

  // An empty cluster before the suite and again where a test needs a first start or 2.2.14; the
  // in-app tests run on the cluster the test before left serving (each NocoBase start costs CPU).
  const suite = e2eSuite({ startCluster: false, cluster: 'demo', once: true });
  const deleteSchedule = () => suite.client.schedule.getHandle(SCHEDULE_ID).delete().catch(() => undefined);
  before(async () => {
    await deleteSchedule();
  });
  after(async () => {
    await deleteSchedule();
  });

  /** The one README command matching `pattern` (several or none is a failure: the docs moved). */
  function readme(pattern: RegExp): string {
    const found = lines.filter((command) => pattern.test(command));
    assert.equal(found.length, 1, `expected one README command matching ${pattern}, found: ${JSON.stringify(found)}`);
    return found[0]!;
  }

  /** Runs a README command as a reader would after `source .stack/env`; its standard output. */
  async function shell(command: string): Promise<string> {
    executed.add(command);
    const env = stackEnv();
    // The README names the registry a fresh machine gets; a machine whose port 5000 was taken has
    // another one in .stack/env.
    const line = command.replaceAll('127.0.0.1:5000/', `${env.REGISTRY}/`);
    const temporalDir = path.dirname(process.env.TEMPORAL_BIN ?? 'temporal');
    try {
      const { stdout } = await run('bash', ['-c', line], {
        cwd: path.dirname(README),
        env: { ...process.env, PATH: `${temporalDir}:${process.env.PATH ?? ''}` },
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      assert.fail(`README command failed: ${line}\n${stderr ?? ''}${stdout ?? ''}`);
    }
  }

  /** Runs a README command that must be refused; its error output. */
  async function shellRefused(command: string): Promise<string> {
    executed.add(command);
    const temporalDir = path.dirname(process.env.TEMPORAL_BIN ?? 'temporal');
    const outcome = await run('bash', ['-c', command], { cwd: path.dirname(README), env: { ...process.env, PATH: `${temporalDir}:${process.env.PATH ?? ''}` }, timeout: 60_000 }).then(
      () => undefined,
      (error: { stdout?: string; stderr?: string }) => `${error.stderr ?? ''}${error.stdout ?? ''}`,
    );
    assert.ok(outcome !== undefined, `README command was expected to be refused: ${command}`);
    return outcome;
  }

  const procedure = () => suite.client.workflow.getHandle(DEMO_WORKFLOW_ID) as WorkflowHandle;
  const awaiting = (what: RegExp) =>
    until(`the procedure to wait for ${what}`, async () => {
      const status: ProcedureStatus = await procedure().query(statusQuery);
      return status.waitingFor && what.test(status.waitingFor) ? status : undefined;
    });
  /** The cluster as the test before left it (serving), or first-started when it is not. */
  const serving = async () => {
    if ((await fetch(stackEnv().LB_URL).then((response) => response.status, () => 0)) === 200) return;
    await suite.prepareCluster();
    await firstStart();
  };
  const firstStart = () => suite.client.workflow.execute(firstStartWorkflow, { taskQueue: taskQueue(), workflowId: DEMO_WORKFLOW_ID, args: [{ cluster: 'demo' }] });

  it("starts the demo cluster from the UI's Start Workflow form as the README fills it in, then watches it with the CLI", HANG_GUARD, async () => {
    const form = readmeUiStartForm();
    await new TemporalUi(process.env.TEMPORAL_UI_URL ?? assert.fail('TEMPORAL_UI_URL is not set')).startWorkflow(form);
    assert.equal(form.workflowId, DEMO_WORKFLOW_ID);

    const result = await shell(readme(/^temporal workflow result --workflow-id maintenance-demo$/));
    assert.match(result, /COMPLETED/, result);
    const response = await fetch(stackEnv().LB_URL);
    assert.equal(response.status, 200, 'the cluster serves through the load balancer');

    const status = await shell(readme(/^temporal workflow query --workflow-id maintenance-demo --name status$/));
    assert.match(status, /"outcome":\s*"succeeded"/, status);
    const listed = await shell(readme(/^temporal workflow list --query 'NocobaseCluster="demo"'$/));
    assert.match(listed, /maintenance-demo\s+firstStart/, listed);
  });

  it('runs the first start, a dry run and an upgrade approved by signal, from the CLI', HANG_GUARD, async () => {
    await suite.prepareCluster();
    await shell(readme(/--type firstStart --workflow-id maintenance-demo --input '\{"cluster":"demo"\}'$/));
    assert.match(await shell(readme(/^temporal workflow result --workflow-id maintenance-demo$/)), /COMPLETED/);

    const plan = await shell(readme(/^temporal workflow execute .*"dryRun":true/));
    assert.match(plan, /"dryRun":\s*true/, plan);

    await shell(readme(/^temporal workflow start .*--type versionUpgrade/));
    assert.equal(await procedure().describe().then((description) => description.staticSummary()), 'Upgrade of demo to 2.2.15');
    await awaiting(/a decision/);
    await shell(readme(/--name approve --input/));
    const upgraded = (await procedure().result()) as { outcome: string; to: { version: string }; decision: { by: string } };
    assert.equal(upgraded.outcome, 'upgraded');
    assert.equal(upgraded.to.version, '2.2.15');
    assert.equal(upgraded.decision.by, 'alice');
  });

  it('runs the in-app maintenance from the CLI and rejects it by signal', HANG_GUARD, async () => {
    await serving();
    await shell(readme(/^temporal workflow start .*--type inAppMaintenance/));
    await awaiting(/a decision/);
    await shell(readme(/--name reject --input/));
    const result = (await procedure().result()) as { outcome: string; operations: { operation: string; ok: boolean }[] };
    assert.equal(result.outcome, 'rejected');
    assert.deepEqual(result.operations.map((operation) => operation.ok), [true, true], 'the README operations run on real NocoBase');
  });

  it('ends manual in-app work with maintenanceDone and approves it with the decide update', HANG_GUARD, async () => {
    await serving();
    await suite.client.workflow.start(inAppMaintenance, { taskQueue: taskQueue(), workflowId: DEMO_WORKFLOW_ID, args: [{ cluster: 'demo' }] });
    await awaiting(/maintenanceDone/);
    // The README's rollback commands reach the real worker's handlers: with no rollback waiting,
    // each is refused with the reason (their effect is tested in test/e2e/rollback-guided.test.ts).
    for (const name of ['retryRollback', 'abandon']) {
      assert.match(await shellRefused(readme(new RegExp(`--name ${name} `))), new RegExp(`nothing waits for ${name}`));
    }
    await shell(readme(/--name maintenanceDone/));
    await awaiting(/a decision/);
    const decided = await shell(readme(/^temporal workflow update execute --workflow-id maintenance-demo --name decide/));
    assert.match(decided, /approve/, decided);
    const result = (await procedure().result()) as { outcome: string; maintenanceDoneBy: string; decision: { by: string } };
    assert.deepEqual([result.outcome, result.maintenanceDoneBy, result.decision.by], ['completed', 'ops@demo.test', 'alice']);
  });

  it("walks the README's first session: a scheduled upgrade approved from the UI, an in-app maintenance approved from the CLI", HANG_GUARD, async () => {
    await suite.prepareCluster();
    await firstStart();
    assert.match(await shell(readme(/^npm run demo:data$/)), /created collection "orders" with 20 records/);
    await shell(readme(/^npm run schedule -- create .*\$DEMO_IMAGE_V2/));
    await shell(readme(/^npm run schedule -- trigger maintenance-demo-versionUpgrade$/));
    await awaiting(/a decision/);
    const maintenancePage = await fetch(stackEnv().LB_URL);
    assert.equal(maintenancePage.status, 503, 'users see the maintenance page while the upgrade waits for its decision');

    // A second procedure on the cluster, as a new user would try it, is refused visibly: the
    // README's start line (the CLI would otherwise attach to the upgrade and exit 0) and the UI's
    // start form, filled in as the README says.
    const upgradeRun = (await procedure().describe()).runId;
    const inAppLine = readme(/^temporal workflow start .*--type inAppMaintenance/);
    assert.match(await shellRefused(inAppLine), /already (started|running)/i);
    const ui = new TemporalUi(process.env.TEMPORAL_UI_URL ?? assert.fail('TEMPORAL_UI_URL is not set'));
    await assert.rejects(ui.startWorkflow({ ...readmeUiStartForm(), workflowType: 'inAppMaintenance' }), /already (started|running)/i);
    const still = await procedure().describe();
    assert.deepEqual([still.runId, still.type], [upgradeRun, 'versionUpgrade'], 'the upgrade still holds the cluster, untouched');

    const signal = readmeUiForm('ui-signal-approve');
    await ui.signalWorkflow(DEMO_WORKFLOW_ID, signal('Signal name'), signal('Input'));
    const upgraded = (await procedure().result()) as { outcome: string; to: { version: string }; decision: { by: string; comment?: string } };
    assert.deepEqual([upgraded.outcome, upgraded.to.version, upgraded.decision.by, upgraded.decision.comment], ['upgraded', '2.2.15', 'alice', 'checked in the UI']);
    const login = { email: stackEnv().DEMO_ROOT_EMAIL!, password: stackEnv().DEMO_ROOT_PASSWORD! };
    for (let look = 0; look < 3; look++) {
      assert.equal((await listRecords(stackEnv().LB_URL, login)).length, 20, 'every node, on 2.2.15, serves the demo orders');
    }

    await shell(readme(/^temporal workflow start .*--type inAppMaintenance/));
    await awaiting(/a decision/);
    assert.match(await shell(readme(/^temporal workflow query --workflow-id maintenance-demo --name status$/)), /"step":\s*"verify"/);
    await shell(readme(/--name approve --input/));
    const maintained = (await procedure().result()) as { outcome: string; decision: { by: string } };
    assert.deepEqual([maintained.outcome, maintained.decision.by], ['completed', 'alice']);
    await shell(readme(/^npm run schedule -- delete maintenance-demo-versionUpgrade$/));
    await assert.rejects(suite.client.schedule.getHandle(SCHEDULE_ID).describe(), 'the demo window is gone');
  });

  it('creates and describes the maintenance window with the temporal CLI alone', HANG_GUARD, async () => {
    await shell(readme(/^temporal schedule create /));
    const described = await shell(readme(/^temporal schedule describe /));
    assert.match(described, new RegExp(SCHEDULE_ID), described);
    const schedule = await suite.client.schedule.getHandle(SCHEDULE_ID).describe();
    assert.equal(schedule.action.type, 'startWorkflow');
    assert.equal(schedule.action.workflowType, 'scheduledProcedure');
    assert.equal(schedule.action.taskQueue, taskQueue());
    assert.deepEqual(schedule.action.args, [{ procedure: 'versionUpgrade', input: { cluster: 'demo', image: `${stackEnv().REGISTRY}/nocobase:2.2.15` } }]);
    assert.equal(schedule.policies.overlap, 'SKIP');
    assert.equal(schedule.spec.timezone, 'Europe/Berlin');
  });

  it("starts the compose line's procedure, which this stack's worker refuses as an unknown cluster", HANG_GUARD, async () => {
    // The compose cluster exists only in deploy/compose/clusters.yaml; here the line proves its
    // flags, task queue and workflow type, and that the worker answers with a clear error.
    await shell(readme(/--workflow-id maintenance-compose /));
    const failure = await suite.client.workflow
      .getHandle('maintenance-compose')
      .result()
      .then(
        () => assert.fail('a cluster this worker does not know cannot be started'),
        (error: unknown) => error,
      );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
    assert.equal(failure.cause.type, FailureType.UnknownCluster);
  });

  it('has run every temporal command line of the README', HANG_GUARD, () => {
    assert.ok(commands.length >= 12, `found only ${commands.length} commands: is the README parsed?`);
    assert.deepEqual(commands.filter((command) => !executed.has(command)), []);
  });
});
