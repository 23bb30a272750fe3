import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOG_FORMAT_ENV } from '../../src/logging/log-line';

const ROOT = join(__dirname, '..', '..');

/**
 * Runs an entry point as `npm run` does (tsx), until `done(stdout)` or its exit; then stops it.
 * Its stdout, stderr and exit code.
 */
async function run(entry: string, env: NodeJS.ProcessEnv, done: (stdout: string) => boolean): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, entry)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} wrote nothing awaited in 60s:\n${stdout}${stderr}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (done(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
  const [code] = await exited;
  return { stdout, stderr, code: code as number | null };
}

const lines = (stdout: string) => stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('NOCOBASE_MAINTENANCE_LOG_FORMAT for the processes beside the worker', () => {
  it('json: the codec server writes its lines as JSON objects, one per line', async () => {
    const { stdout } = await run('scripts/codec-server.ts', {
      [LOG_FORMAT_ENV]: 'json',
      NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:K1',
      K1: randomBytes(32).toString('hex'),
      NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS: '127.0.0.1:0',
      NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN: 'env:CODEC_TOKEN',
      CODEC_TOKEN: randomBytes(24).toString('hex'),
    }, (out) => out.includes('\n'));
    const [line] = lines(stdout);
    assert.equal(line?.level, 'info');
    assert.match(String(line?.message), /^codec server listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!Number.isNaN(Date.parse(String(line?.timestamp))));
  });

  it('json: the approval page, and its refusal to start, are JSON too', async () => {
    const started = await run('src/approval-page/main.ts', { [LOG_FORMAT_ENV]: 'json', APPROVALS_LISTEN: '127.0.0.1:0' }, (out) => out.includes('\n'));
    assert.match(String(lines(started.stdout)[0]?.message), /^approval page listening on http:\/\/127\.0\.0\.1:0/);
    const refused = await run('src/approval-page/main.ts', { [LOG_FORMAT_ENV]: 'json', NOCOBASE_MAINTENANCE_CONFIG: join(ROOT, 'no-such-config.yaml') }, () => false);
    assert.equal(refused.code, 1);
    const [line] = lines(refused.stdout);
    assert.equal(line?.level, 'error');
    assert.match(String(line?.message), /^approvals: .*no-such-config\.yaml/);
  });

  it('a format it does not know stops the worker at start with exit 78, naming the variable', async () => {
    const { code, stderr } = await run('src/worker/main.ts', { [LOG_FORMAT_ENV]: 'logfmt' }, () => false);
    assert.equal(code, 78);
    assert.match(stderr, /NOCOBASE_MAINTENANCE_LOG_FORMAT=logfmt: expected json or human/);
  });
});
