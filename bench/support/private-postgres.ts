/**
 * A PostgreSQL server of the bench's own (the stack's binaries, a throw-away data directory, trust
 * authentication on 127.0.0.1, `max_connections` as asked). The stack's server allows 100
 * connections, and 50 two-node stand-in clusters hold more than that at rest; the bench must not
 * reconfigure the stack's server, which other suites share.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivatePostgres {
  adminUrl: string;
  host: string;
  port: number;
  /** The postmaster's pid, for its CPU (with its backends) from /proc. */
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrivatePostgres(maxConnections: number, pgBin = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin'): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-pg-'));
  const data = path.join(dir, 'data');
  const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', path.join(pgBin, command), ...args], { cwd: '/' });
  await run('chown', ['postgres:postgres', dir]);
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=${maxConnections}`;
  await asPostgres('pg_ctl', ['start', '-D', data, '-w', '-t', '60', '-s', '-l', path.join(dir, 'postgres.log'), '-o', options]);
  const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    pid,
    async stop() {
      await asPostgres('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60', '-s']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
