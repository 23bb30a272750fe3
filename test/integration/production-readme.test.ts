import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { taskQueue } from '../../src/client/task-queue';
import { versionUpgrade } from '../../src/workflows';
import { readmeCommandsRunBy } from '../support/readme-commands';
import { e2eSuite, STANDIN_WORKFLOW_ID } from '../support/e2e-suite';
import { stackEnv } from '../support/stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

/**
 * The README's "Production deployment" commands, run in order in one shell against the stack's
 * secured endpoints: its example hosts and paths replaced by the stack's (the mTLS Temporal front
 * and its client certificate, the codec server and its token, a scratch directory for
 * /etc/nocobase-maintenance, the stand-in cluster's procedure for maintenance-demo's).
 */
describe("the README's production deployment commands, against the stack's secured endpoints", () => {
  const suite = e2eSuite({ startCluster: false });
  const etc = mkdtempSync(join(tmpdir(), 'etc-nocobase-maintenance-'));
  after(() => rmSync(etc, { recursive: true, force: true }));

  it('every command runs and does what the README says', { timeout: 180_000 }, async () => {
    const lines = readmeCommandsRunBy('test/integration/production-readme.test.ts');
    assert.ok(lines.length >= 8, `the production section's commands: ${JSON.stringify(lines)}`);
    // A procedure of this lane's own for the codec lines to read: an upgrade its pre-flight refuses
    // (no human may be skipped on this cluster), so it has a status and touches nothing.
    const refused = await suite.client.workflow.execute(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId: STANDIN_WORKFLOW_ID,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, approval: { timeout: '1s', onTimeout: 'proceed' } }],
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof WorkflowFailedError, 'the pre-flight refused the upgrade');

    const env = process.env;
    const [mtlsHost] = (env.STACK_TEMPORAL_MTLS_ADDRESS ?? '').split(':');
    assert.ok(env.STACK_TEMPORAL_MTLS_ADDRESS && env.STACK_TEMPORAL_MTLS_CERTS && env.TEMPORAL_CODEC_ENDPOINT && env.TEMPORAL_CODEC_AUTH, 'the stack exports its mTLS and codec endpoints');
    mkdirSync(join(etc, 'temporal'));
    writeFileSync(join(etc, 'codec-token'), env.TEMPORAL_CODEC_AUTH!.replace(/^Bearer /, ''), { mode: 0o600 });
    const replacements: Array<[string, string]> = [
      ['temporal.example.com:7233', env.STACK_TEMPORAL_MTLS_ADDRESS!],
      ['--value temporal.example.com', `--value ${mtlsHost === '127.0.0.1' ? 'localhost' : mtlsHost}`],
      ['/etc/nocobase-maintenance/temporal/', `${env.STACK_TEMPORAL_MTLS_CERTS}/`],
      ['/etc/nocobase-maintenance/', `${etc}/`],
      ['https://codec.example.com', env.TEMPORAL_CODEC_ENDPOINT!],
      ['maintenance-demo', STANDIN_WORKFLOW_ID],
    ];
    const script = lines.map((line) => replacements.reduce((text, [from, to]) => text.replaceAll(from, to), line));
    const marker = (index: number) => `=== README line ${index} ===`;
    const body = ['set -euo pipefail', ...script.flatMap((line, index) => [`echo '${marker(index)}'`, line])].join('\n');
    // As a reader on a production machine: no stack address in the environment, a CLI config file
    // of their own, the codec settings still to be exported by the README's lines.
    const readerEnv: NodeJS.ProcessEnv = { ...env, TEMPORAL_CONFIG_FILE: join(etc, 'temporal.toml') };
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_CODEC_ENDPOINT', 'TEMPORAL_CODEC_AUTH']) delete readerEnv[name];
    readerEnv.PATH = `${dirname(env.TEMPORAL_BIN ?? '/usr/bin/temporal')}:${env.PATH ?? ''}`;
    const { stdout } = await run('bash', ['-c', body], { cwd: ROOT, env: readerEnv, maxBuffer: 16 * 1024 * 1024 }).catch((error: unknown) => {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`a README command failed: ${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
    });
    const output = (index: number) => stdout.split(marker(index))[1]?.split('=== README line')[0] ?? '';
    const at = (pattern: RegExp) => {
      const index = lines.findIndex((line) => pattern.test(line));
      assert.ok(index >= 0, `a README line matching ${pattern}`);
      return output(index);
    };

    // The profile the README writes, and the CLI through the mTLS front with it.
    const profile = readFileSync(join(etc, 'temporal.toml'), 'utf8');
    assert.match(profile, /\[profile\.prod\.tls\]/);
    assert.ok(profile.includes(env.STACK_TEMPORAL_MTLS_ADDRESS!), profile);
    at(/^temporal workflow list --profile prod/); // ran (set -e): the list went through the client certificate
    // The codec key file: made 0600, and the status decoded through the codec server.
    assert.equal(statSync(join(etc, 'codec-2026-01.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(etc, 'codec-2026-01.key'), 'utf8').trim(), /^[0-9a-f]{64}$/);
    assert.match(at(/^temporal workflow query/), /"cluster":\s*"standin"[\s\S]*"outcome":\s*"(failed|rolled-back)"/, 'the status query is readable');
    assert.match(at(/^temporal workflow show/), /"payloads"/);
    assert.match(at(/docker --host "\$STACK_TLS_DOCKER_HOST" --tlsverify info/), /Server Version/);
  });
});
