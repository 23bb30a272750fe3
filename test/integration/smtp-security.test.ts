import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTransport } from 'nodemailer';
import { parse, stringify } from 'yaml';
import { ConfigError } from '../../src/config/config-error';
import { assertSecretsResolvable, loadConfig } from '../../src/config/load';
import type { SmtpConfig } from '../../src/config/schema';
import { checkMailServer } from '../../src/worker/mail-check';
import { stackEnv } from '../support/stack';
import { startWorkerProcess } from '../support/worker-process';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

const transport = (smtp: SmtpConfig, env: Record<string, string>) =>
  createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    ...(smtp.userEnv && smtp.passwordEnv ? { auth: { user: env[smtp.userEnv] ?? '', pass: env[smtp.passwordEnv] ?? '' } } : {}),
  });

describe('the SMTP connection is checked when the worker starts', () => {
  let server: ChildProcess;
  let port = 0;
  const dir = mkdtempSync(join(tmpdir(), 'smtp-'));
  before(async () => {
    port = await freePort();
    server = spawn('/usr/bin/python3', [join(__dirname, '..', 'support', 'scripts', 'smtp-auth-server.py'), String(port), 'mailer', 'right-password'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`the SMTP server exited with ${String(code)}`)));
    });
  });
  after(() => {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const smtp = (change: Partial<SmtpConfig> = {}): SmtpConfig => ({
    host: '127.0.0.1', port, secure: false, requireTLS: false, from: 'maintenance@localhost', userEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD', ...change,
  });

  it('accepts the right login, refuses a wrong password naming the variables, and refuses a server without TLS when requireTLS is set', async () => {
    const right = { SMTP_USER: 'mailer', SMTP_PASSWORD: 'right-password' };
    assert.equal(await checkMailServer(transport(smtp(), right), smtp()), undefined);

    const wrong = await checkMailServer(transport(smtp(), { ...right, SMTP_PASSWORD: 'guess' }), smtp()).catch((error: unknown) => error);
    assert.ok(wrong instanceof ConfigError, String(wrong));
    assert.match(wrong.message, new RegExp(`127\\.0\\.0\\.1:${port} refused the login of SMTP_USER/SMTP_PASSWORD`));
    assert.ok(!wrong.message.includes('guess'), 'the password is not in the message');

    // The stack's sink offers no STARTTLS: with requireTLS nothing may be sent to it.
    const sink: SmtpConfig = { host: '127.0.0.1', port: Number(process.env.SMTP_PORT), secure: false, requireTLS: true, from: 'maintenance@localhost' };
    const plain = await checkMailServer(transport(sink, {}), sink).catch((error: unknown) => error);
    assert.ok(plain instanceof ConfigError, String(plain));
    assert.match(plain.message, /offers no TLS, and requireTLS is set/);

    // Nobody listening: a warning, not a refusal (the server may be back before the first mail).
    const closed = smtp({ port: await freePort() });
    assert.match((await checkMailServer(transport(closed, right), closed)) ?? '', /cannot be reached now .*mails will be retried/);
  });

  it('refuses a config that names one credential without the other, and a credential variable that is not set', () => {
    const file = join(dir, 'half.yaml');
    const config = loadConfig(stackEnv().NOCOBASE_MAINTENANCE_CONFIG);
    writeFileSync(file, stringify({ ...(parse(readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as object), smtp: { host: '127.0.0.1', port, from: 'maintenance@localhost', userEnv: 'SMTP_USER' } }));
    assert.throws(() => loadConfig(file), /userEnv and passwordEnv go together/);
    const both = { ...config, smtp: { ...smtp(), userEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD' } };
    assert.throws(() => assertSecretsResolvable(both, { SMTP_USER: 'mailer' }), /smtp\.passwordEnv: environment variable SMTP_PASSWORD is not set on the worker/);
  });

  it('the worker does not start with a wrong SMTP password: it exits 78 and says why', { timeout: 120_000 }, async () => {
    // The stack's own file as written (the parsed config does not round-trip), with this server.
    const config = parse(readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as object;
    const file = join(dir, 'wrong-password.yaml');
    writeFileSync(file, stringify({ ...config, smtp: { host: '127.0.0.1', port, from: 'maintenance@localhost', userEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD' } }));
    const started = await startWorkerProcess({
      ...process.env, NOCOBASE_MAINTENANCE_CONFIG: file, SMTP_USER: 'mailer', SMTP_PASSWORD: 'guess', NOCOBASE_MAINTENANCE_TASK_QUEUE: 'nocobase-maintenance-smtp-check',
    }).then(async (worker) => {
      await worker.stop();
      return undefined;
    }, (error: unknown) => error as Error);
    assert.ok(started, 'the worker refused to start');
    assert.match(started.message, /exited with 78/);
    assert.match(started.message, /refused the login of SMTP_USER\/SMTP_PASSWORD/);
  });
});
