/**
 * The backup's building blocks timed one by one on the same database, each as the code ran it
 * before and as it runs it now (and a few alternatives that were considered): the clone's
 * CREATE DATABASE strategy, pg_dump's compression and format, pg_restore's jobs. The database
 * must have no sessions (the cluster's nodes stopped). Everything made here is removed.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { FILE_COPY_FROM_BYTES } from '../../src/activities/backup/clone-method';
import { DUMP_COMPRESSION, restoreJobs } from '../../src/activities/backup/dump-method';

const run = promisify(execFile);

export interface VariantTiming {
  component: string;
  variant: string;
  /** `before`: what the code did before issue 15's changes; `now`: what it does now; `considered`: not adopted. */
  role: 'before' | 'now' | 'considered';
  ms: number;
  bytes?: number;
}

export interface VariantPlace {
  adminUrl: string;
  /** The cluster's own login (owner of the database), as the backup activities connect. */
  databaseUrl: string;
  pgBin: string;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  const value = await work();
  return { ms: Date.now() - started, value };
}

async function sizeOf(target: string): Promise<number> {
  const info = await stat(target);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(target)) total += (await stat(path.join(target, name))).size;
  return total;
}

async function sha256(file: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  hash.digest('hex');
}

export async function timeVariants(place: VariantPlace): Promise<VariantTiming[]> {
  const login = new URL(place.databaseUrl);
  const database = login.pathname.slice(1);
  const tool = (program: string, args: string[]) =>
    run(path.join(place.pgBin, program), ['--no-password', '-h', login.hostname, '-p', login.port || '5432', '-U', decodeURIComponent(login.username), ...args], {
      env: { LC_ALL: 'C', PATH: process.env.PATH ?? '', PGPASSWORD: decodeURIComponent(login.password) },
      maxBuffer: 64 * 2 ** 20,
    });
  const admin = new Client({ connectionString: place.adminUrl });
  await admin.connect();
  const scratch = `${database}_benchscratch`;
  const directory = await mkdtemp(path.join(os.tmpdir(), 'bench-dump-'));
  const timings: VariantTiming[] = [];
  try {
    const drop = () => admin.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    await drop();
    const threshold = `${FILE_COPY_FROM_BYTES / 2 ** 20} MiB`;
    const strategies = [
      ['WAL_LOG', `STRATEGY WAL_LOG (PostgreSQL 15's default; still used below ${threshold})`, 'before'],
      ['FILE_COPY', `STRATEGY FILE_COPY (used from ${threshold} on)`, 'now'],
    ] as const;
    for (const [strategy, variant, role] of strategies) {
      // Both start from a clean shared buffer pool; FILE_COPY's own checkpoints are in its time.
      await admin.query('CHECKPOINT');
      // The worker's idle pool connections (they reconnect on their next query).
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
      const { ms } = await timed(() => admin.query(`CREATE DATABASE ${scratch} TEMPLATE ${database} STRATEGY ${strategy}`));
      timings.push({ component: 'clone: CREATE DATABASE … TEMPLATE', variant, role, ms });
      await drop();
    }

    const dumps = [
      { variant: 'custom, -Z 6 (pg_dump default)', role: 'before', args: ['--format=custom'], file: 'z6.dump' },
      { variant: `custom, -Z ${DUMP_COMPRESSION}`, role: 'now', args: ['--format=custom', `--compress=${DUMP_COMPRESSION}`], file: 'now.dump' },
      { variant: 'custom, -Z 0', role: 'considered', args: ['--format=custom', '--compress=0'], file: 'z0.dump' },
      { variant: `directory, -Z ${DUMP_COMPRESSION}, -j 2`, role: 'considered', args: ['--format=directory', `--compress=${DUMP_COMPRESSION}`, '--jobs=2'], file: 'dir' },
    ] as const;
    for (const dump of dumps) {
      const file = path.join(directory, dump.file);
      const { ms } = await timed(() => tool('pg_dump', [...dump.args, `--file=${file}`, '-d', database]));
      timings.push({ component: 'pg_dump', variant: dump.variant, role: dump.role, ms, bytes: await sizeOf(file) });
      if (dump.args[0] === '--format=custom') {
        const listed = await timed(() => tool('pg_restore', ['--list', file]).then(() => sha256(file)));
        timings.push({ component: 'pg_restore --list + sha256 of the file', variant: dump.variant, role: dump.role, ms: listed.ms });
      }
    }

    const owner = decodeURIComponent(login.username);
    const restores = [
      { variant: 'from -Z 6, 1 job', role: 'before', file: 'z6.dump', jobs: 1 },
      { variant: `from -Z ${DUMP_COMPRESSION}, ${restoreJobs()} jobs`, role: 'now', file: 'now.dump', jobs: restoreJobs() },
      { variant: `from -Z ${DUMP_COMPRESSION}, 1 job`, role: 'considered', file: 'now.dump', jobs: 1 },
    ] as const;
    for (const restore of restores) {
      await drop();
      await admin.query(`CREATE DATABASE ${scratch} OWNER ${admin.escapeIdentifier(owner)}`);
      const { ms } = await timed(() =>
        tool('pg_restore', ['--exit-on-error', `--jobs=${restore.jobs}`, '--no-owner', `--role=${owner}`, '-d', scratch, path.join(directory, restore.file)]),
      );
      timings.push({ component: 'pg_restore into a new database', variant: restore.variant, role: restore.role, ms });
    }
    await drop();
  } finally {
    await admin.end();
    await rm(directory, { recursive: true, force: true });
  }
  return timings;
}
