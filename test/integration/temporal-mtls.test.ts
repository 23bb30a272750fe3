import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connectClient, temporalEndpoint } from '../../src/client/connect';
import { STANDIN_WORKFLOW_ID } from '../support/e2e-suite';
import { stackEnv } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { versionUpgrade } from '../../src/workflows';
import type { DryRunPlan } from '../../src/workflows/dry-run';

const run = promisify(execFile);

/** The stack's mTLS front (scripts/stack/temporaltls.sh) and the client certificate it accepts. */
function mtlsEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const certs = process.env.STACK_TEMPORAL_MTLS_CERTS;
  const address = process.env.STACK_TEMPORAL_MTLS_ADDRESS;
  assert.ok(certs && address, 'the stack exports STACK_TEMPORAL_MTLS_ADDRESS and STACK_TEMPORAL_MTLS_CERTS (run `npm run stack:up`)');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS_CLIENT_CERT_PATH: join(certs, 'cert.pem'),
    TEMPORAL_TLS_CLIENT_KEY_PATH: join(certs, 'key.pem'),
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(certs, 'ca.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** A CA and a client certificate the server has never heard of. */
async function strangerCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=stranger CA', '-keyout', caKey, '-out', ca]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stranger', '-keyout', key, '-out', join(dir, 'req.csr')]);
  await run('openssl', ['x509', '-req', '-days', '1', '-in', join(dir, 'req.csr'), '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert]);
  return { ca, cert, key };
}

describe('Temporal through the stack mTLS endpoint (a client certificate is required)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-'));
  let worker: WorkerProcess | undefined;
  after(async () => {
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client with the stack certificate reaches the server; one without it, with a stranger CA or in plaintext is refused with an error naming where and how', { timeout: 120_000 }, async () => {
    const client = await connectClient(temporalEndpoint(mtlsEnv()));
    const info = await client.workflowService.getSystemInfo({});
    assert.ok(info.serverVersion, 'the server answered through the TLS front');
    await client.connection.close();

    const stranger = await strangerCertificates(dir);
    const refusals = {
      'no client certificate': mtlsEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined }),
      'a certificate from another CA': mtlsEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: stranger.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: stranger.key }),
      "trusting another CAs server": mtlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: stranger.ca }),
      plaintext: { ...process.env, TEMPORAL_ADDRESS: process.env.STACK_TEMPORAL_MTLS_ADDRESS },
    };
    // At once: each refusal may take the connect timeout (10 s) to surface.
    await Promise.all(Object.entries(refusals).map(async ([label, env]) => {
      const refused = await connectClient(temporalEndpoint(env))
        .then(async (connected) => {
          // Some refusals surface only at the first call: make one.
          try {
            await connected.workflowService.getSystemInfo({});
            return undefined;
          } catch (error) {
            return error as Error;
          } finally {
            await connected.connection.close();
          }
        })
        .catch((error: unknown) => error as Error);
      assert.ok(refused, `${label}: refused`);
      assert.match(refused.message, new RegExp(`${process.env.STACK_TEMPORAL_MTLS_ADDRESS?.replace(/\./g, '\\.')}|Temporal`), `${label}: ${refused.message}`);
    }));
  });

  it('the worker polls through it and a procedure (a dry run of the stand-in upgrade) runs end to end; the temporal CLI reads the same settings', { timeout: 240_000 }, async () => {
    const taskQueue = 'nocobase-maintenance-mtls';
    worker = await startWorkerProcess(mtlsEnv({ NOCOBASE_MAINTENANCE_TASK_QUEUE: taskQueue }));
    assert.match(worker.output(), /worker polling task queue nocobase-maintenance-mtls at 127\.0\.0\.1:\d+ \(namespace default, mTLS\)/);
    const client = await connectClient(temporalEndpoint(mtlsEnv()));
    try {
      const plan = (await client.workflow.execute(versionUpgrade, {
        taskQueue,
        workflowId: STANDIN_WORKFLOW_ID,
        args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, dryRun: true }],
      })) as DryRunPlan;
      assert.equal(plan.target?.image, stackEnv().STANDIN_IMAGE_V2);
      assert.ok((plan.backup?.databaseBytes ?? 0) > 0, 'the activities measured the database, on the worker that connected over mTLS');
    } finally {
      await client.connection.close();
    }
    // The `temporal` CLI (as the README's lines run it) with the same environment, and without it.
    const temporal = process.env.TEMPORAL_BIN ?? 'temporal';
    const described = await run(temporal, ['workflow', 'describe', '-w', STANDIN_WORKFLOW_ID, '-o', 'json'], { env: mtlsEnv() });
    assert.equal(JSON.parse(described.stdout).workflowExecutionInfo.taskQueue, taskQueue);
    const refused = await run(temporal, ['workflow', 'describe', '-w', STANDIN_WORKFLOW_ID, '--command-timeout', '10s'], {
      env: mtlsEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined }),
    }).catch((error: unknown) => error as Error & { code: number });
    assert.ok('code' in refused && refused.code !== 0, 'the CLI without the client certificate is refused');
  });
});
