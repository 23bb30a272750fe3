/**
 * Friendly wrappers over what the `temporal` CLI does alone (the README shows both):
 *
 *   npm run first-start      -- --cluster demo [--dry-run] [--wait]
 *   npm run upgrade          -- --cluster demo --image REF [--backup-method pg_dump|clone]
 *                               [--approval-timeout 2h] [--on-timeout rollback|proceed|wait] [--dry-run] [--wait]
 *   npm run in-app           -- --cluster demo [--operations '<JSON list>'] [--dry-run] [--wait]
 *   npm run approve          -- --cluster demo (--token TOKEN | --by alice) [--run-id RUN] [--comment TEXT]
 *   npm run reject           -- --cluster demo (--token TOKEN | --by alice) [--run-id RUN] [--reason TEXT]
 *   npm run maintenance-done -- --cluster demo (--by bob | --token TOKEN)
 *   npm run status           -- --cluster demo
 *
 * Any start also accepts --force-reason TEXT (start on a blackout day). Starts print the workflow
 * ID, the UI link and the equivalent `temporal` line; approve and reject go through the `decide`
 * update, so a refusal (not an approver, nothing awaiting a decision) is reported at once.
 * The workflows check their input themselves; this script only assembles it.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { parseArgs } from 'node:util';
import { connectClient, temporalEndpoint } from '../src/client/connect';
import { procedureWorkflowId } from '../src/common/task-queue';
import { taskQueue } from '../src/client/task-queue';
import { PROCEDURES } from '../src/procedures';
import { inProcedureTrace } from '../src/tracing/procedure-trace';
import { shutdownTracing } from '../src/tracing/provider';
import { firstStart, inAppMaintenance, versionUpgrade } from '../src/workflows';
import { decideUpdate, maintenanceDoneSignal, statusQuery } from '../src/workflows/messages';

/** Started by reference: a renamed workflow is a type error here, not a runtime "unknown type". */
const STARTS = { 'first-start': firstStart, upgrade: versionUpgrade, 'in-app': inAppMaintenance } as Record<string, Workflow>;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      image: { type: 'string' },
      'backup-method': { type: 'string' },
      'approval-timeout': { type: 'string' },
      'on-timeout': { type: 'string' },
      operations: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'force-reason': { type: 'string' },
      wait: { type: 'boolean', default: false },
      by: { type: 'string' },
      token: { type: 'string' },
      'run-id': { type: 'string' },
      comment: { type: 'string' },
      reason: { type: 'string' },
    },
  });
  const command = positionals[0] ?? '';
  const cluster = values.cluster ?? fail('--cluster is required (a cluster of the worker configuration, e.g. demo)');
  const workflowId = procedureWorkflowId(cluster);
  const client = await connectClient();
  try {
    const workflow = STARTS[command];
    if (workflow) {
      const workflowType = workflow.name as keyof typeof PROCEDURES;
      const input: { cluster: string } & Record<string, unknown> = { cluster };
      if (values.image !== undefined) input.image = values.image;
      if (values['backup-method'] !== undefined) input.backupMethod = values['backup-method'];
      if (values['approval-timeout'] !== undefined || values['on-timeout'] !== undefined) {
        input.approval = { ...(values['approval-timeout'] ? { timeout: values['approval-timeout'] } : {}), ...(values['on-timeout'] ? { onTimeout: values['on-timeout'] } : {}) };
      }
      if (values.operations !== undefined) input.operations = parseJson('--operations', values.operations);
      if (values['dry-run']) input.dryRun = true;
      if (values['force-reason'] !== undefined) input.force = { reason: values['force-reason'] };
      // Who starts it, for the two-person rule: --by, or the login name.
      if (!values['dry-run']) input.startedBy = values.by ?? process.env.USER ?? 'unknown';
      // The workflow checks its input too; checking here first answers before anything starts.
      PROCEDURES[workflowType].checkInput(input);
      const handle = await client.workflow.start(workflow, {
        taskQueue: taskQueue(),
        workflowId,
        args: [input],
        staticSummary: PROCEDURES[workflowType].summary(input),
        // Said out loud rather than left to the server's default: a second procedure on a
        // cluster must be refused, never attached to the one that runs.
        workflowIdConflictPolicy: 'FAIL',
      }).catch((error: unknown) => {
        if (error instanceof WorkflowExecutionAlreadyStartedError) fail(`another procedure runs on ${cluster} (${workflowId}); nothing was started. See: npm run status -- --cluster ${cluster}`);
        throw error;
      });
      console.log(`started ${workflowType} as ${workflowId} (run ${handle.firstExecutionRunId})`);
      const ui = process.env.TEMPORAL_UI_URL;
      if (ui) console.log(`UI: ${ui.replace(/\/$/, '')}/namespaces/${temporalEndpoint().namespace}/workflows/${workflowId}`);
      console.log(`same as: temporal workflow start --task-queue ${taskQueue()} --type ${workflowType} --workflow-id ${workflowId} --fail-existing --input '${JSON.stringify(input)}'`);
      if (values.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      return;
    }
    const handle = client.workflow.getHandle(workflowId, values['run-id']);
    // Traced (OTEL_EXPORTER_OTLP_ENDPOINT), a decision joins the trace of the procedure's start.
    const inTrace = <T>(call: () => Promise<T>) => inProcedureTrace(client, { workflowId, ...(values['run-id'] ? { runId: values['run-id'] } : {}) }, call);
    switch (command) {
      case 'approve':
      case 'reject': {
        if (values.token === undefined && values.by === undefined) {
          fail(
            '--token or --by is required. A cluster in signed mode takes only the token from your approval mail: ' +
              `npm run ${command} -- --cluster ${cluster} --token '<token>', the same as ` +
              `temporal workflow update execute --workflow-id ${workflowId} --run-id <run> --name decide --input '{"decision":"${command}","token":"<token>"}'; ` +
              'in open mode --by <approver> is enough',
          );
        }
        const decision = {
          decision: command,
          ...(values.token !== undefined ? { token: values.token } : { by: values.by }),
          ...(values.comment !== undefined ? { comment: values.comment } : {}),
          ...(values.reason !== undefined ? { reason: values.reason } : {}),
        } as const;
        const recorded = await inTrace(() => handle.executeUpdate(decideUpdate, { args: [decision] })).catch((error: unknown) => {
          if (error instanceof WorkflowUpdateFailedError) fail(`${workflowId} refused the decision: ${error.cause?.message ?? error.message}`);
          throw error;
        });
        console.log(JSON.stringify(recorded, null, 2));
        return;
      }
      case 'maintenance-done': {
        // Signed mode: the token mailed for maintenanceDone; open mode: who did the work.
        const done = values.token !== undefined ? { token: values.token } : { by: values.by ?? fail('--by (open mode) or --token (signed mode, from your mail) is required') };
        await inTrace(() => handle.signal(maintenanceDoneSignal, done));
        console.log(`told ${workflowId} the manual work is done`);
        return;
      }
      case 'status':
        console.log(JSON.stringify(await handle.query(statusQuery), null, 2));
        return;
      default:
        fail(`unknown command "${command}": first-start, upgrade, in-app, approve, reject, maintenance-done or status (see scripts/procedure.ts)`);
    }
  } finally {
    await client.connection.close();
    // The spans of this short process are sent before it exits.
    await shutdownTracing();
  }
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`${flag} must be JSON, got ${text}`);
  }
}

function fail(message: string): never {
  throw new Error(message);
}

main().catch((error: unknown) => {
  console.error(`procedure: ${(error as Error).message}`);
  process.exit(1);
});
