import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { pipeline as pipe, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageBackupRecord } from '../../common/procedure-types';
import { fileSlug } from '../postgres/whole-database';
import type { DumpFiles } from '../../activities/backup/dump-method';
import { fileSize } from '../postgres/pg-tools';

/**
 * The storage backup's tar file on the worker's machine: written through a scanner that hashes it,
 * counts its files and checks its entry names in the same pass, so a stream that Docker cut short
 * or an archive that would land outside the storage is caught without reading the file twice.
 */

const HEARTBEAT_MS = 2_000;
const BLOCK = 512;

/** Same shape as a dump's files (removeStalePartial works on both); the partial is per attempt. */
export function archiveFiles(clusterName: string, directory: string, label: string, attempt = 1): DumpFiles {
  const final = path.resolve(directory, `${clusterName}-${fileSlug(label)}.storage.tar`);
  return { final, partial: `${final}.partial-${attempt}`, sidecar: `${final}.json` };
}

export interface ArchiveScan {
  checksum: string;
  sizeBytes: number;
  /** Regular files. */
  files: number;
  /** The end-of-archive marker was seen: the stream was not cut short. */
  complete: boolean;
  /**
   * The first entry that would not land at its own relative path under the restore target: one
   * not starting with `./` (what getArchive of `<dir>/.` yields) or climbing out with `..`.
   */
  strayEntry: string | null;
}

/**
 * A streaming reader of tar headers (ustar, with PAX and GNU long names), enough to count files
 * and check names; the data passes through untouched.
 */
class TarScanner {
  files = 0;
  complete = false;
  strayEntry: string | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private skip = 0;
  private capture: { type: string; size: number; chunks: Buffer[] } | null = null;
  private longName: string | null = null;
  private paxSize: number | null = null;

  update(chunk: Buffer): void {
    if (this.complete) return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (!this.complete) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, this.pending.length - offset);
        if (take === 0) break;
        this.capture?.chunks.push(this.pending.subarray(offset, offset + take));
        this.skip -= take;
        offset += take;
        if (this.skip === 0 && this.capture) this.finishCapture();
        continue;
      }
      if (this.pending.length - offset < BLOCK) break;
      this.header(this.pending.subarray(offset, offset + BLOCK));
      offset += BLOCK;
    }
    this.pending = this.pending.subarray(offset);
  }

  private header(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      this.complete = true;
      return;
    }
    const type = String.fromCharCode(block[156] ?? 0);
    const size = this.paxSize ?? octal(block.subarray(124, 136));
    this.paxSize = null;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L') {
      // Extended headers: their data names (or resizes) the entry that follows.
      this.capture = { type, size, chunks: [] };
      this.skip = padded;
      if (padded === 0) this.finishCapture();
      return;
    }
    const prefix = block.subarray(257, 262).toString('latin1') === 'ustar' ? cString(block.subarray(345, 500)) : '';
    const name = this.longName ?? (prefix ? `${prefix}/${cString(block.subarray(0, 100))}` : cString(block.subarray(0, 100)));
    this.longName = null;
    if (type !== 'g') this.checkName(name);
    if (type === '0' || type === '\0' || type === '7') this.files += 1;
    // Links, devices, directories and FIFOs carry no data whatever their size field says.
    this.skip = '123456'.includes(type) ? 0 : padded;
  }

  private finishCapture(): void {
    const { type, size, chunks } = this.capture!;
    this.capture = null;
    const data = Buffer.concat(chunks).subarray(0, size).toString('utf8');
    if (type === 'L') {
      this.longName = data.replace(/\0.*$/s, '');
      return;
    }
    for (const record of data.split('\n')) {
      const match = /^\d+ (path|size)=(.*)$/s.exec(record);
      if (match?.[1] === 'path') this.longName = match[2] ?? null;
      if (match?.[1] === 'size') this.paxSize = Number(match[2]);
    }
  }

  private checkName(name: string): void {
    if (this.strayEntry !== null) return;
    const inside = name === '.' || name === './' || name.startsWith('./');
    if (!inside || name.split('/').includes('..')) this.strayEntry = name;
  }
}

/** Tar numbers: octal text, or base-256 (high bit set) for sizes past 8 GiB. */
function octal(field: Buffer): number {
  if ((field[0] ?? 0) & 0x80) {
    let value = (field[0] ?? 0) & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** Passes bytes through while hashing, scanning and heartbeating progress. */
function scanning(what: string): { transform: Transform; result: () => ArchiveScan } {
  const context = Context.current();
  const hash = createHash('sha256');
  const scanner = new TarScanner();
  let bytes = 0;
  let lastBeat = Date.now();
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      scanner.update(chunk);
      bytes += chunk.length;
      if (Date.now() - lastBeat >= HEARTBEAT_MS) {
        context.heartbeat({ [what]: bytes, files: scanner.files });
        lastBeat = Date.now();
      }
      callback(null, chunk);
    },
  });
  const result = (): ArchiveScan => ({
    checksum: hash.digest('hex'),
    sizeBytes: bytes,
    files: scanner.files,
    complete: scanner.complete,
    strayEntry: scanner.strayEntry,
  });
  return { transform, result };
}

/** Streams `source` (a getArchive response) into `file`, fsynced; cancelling the activity aborts it. */
export async function writeArchive(source: Readable, file: string): Promise<ArchiveScan> {
  const { transform, result } = scanning('bytesWritten');
  await pipeline(source, transform, createWriteStream(file), { signal: Context.current().cancellationSignal });
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return result();
}

/** Reads a finished archive through the scanner; null when the file does not exist. */
export async function scanArchive(file: string): Promise<ArchiveScan | null> {
  if ((await fileSize(file)) === null) return null;
  const { transform, result } = scanning('bytesRead');
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(createReadStream(file), transform, discard, { signal: Context.current().cancellationSignal });
  return result();
}

/** The archive as a stream for putArchive, heartbeating how much of it was sent. */
export function archiveUpload(file: string): Readable {
  const { transform } = scanning('bytesSent');
  // pipeline, not pipe: a read error must end the upload with that error, not leave it hanging.
  return pipe(createReadStream(file), transform, () => undefined);
}

/** The sidecar's record when the archive beside it still has the recorded checksum; otherwise null. */
export async function finishedArchive(files: DumpFiles): Promise<StorageBackupRecord | null> {
  let record: StorageBackupRecord;
  try {
    record = JSON.parse(await readFile(files.sidecar, 'utf8')) as StorageBackupRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const scan = await scanArchive(files.final);
  return scan?.checksum === record.checksum ? record : null;
}

/** Written last and atomically: its presence is what says "this archive is complete". */
export async function writeSidecar(file: string, record: StorageBackupRecord): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}
