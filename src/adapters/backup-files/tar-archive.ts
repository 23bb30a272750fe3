import { createHash } from 'node:crypto';
import { pipeline as pipe, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { throttledProgress, type Hooks } from '../hooks';

/**
 * The storage backup's tar stream: passed through a scanner that hashes it, counts its files and
 * checks its entry names in the same pass, so a stream that Docker cut short or an archive that
 * would land outside the storage is caught on its way into the backup store.
 */

const BLOCK = 512;

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

/**
 * Passes bytes through while hashing, scanning and reporting progress. With `requireComplete`, the
 * stream fails at its end when the archive did not end with its end-of-archive marker (Docker cut
 * it short) or holds an entry that would land outside the storage: an upload fed by it is then
 * never completed, so no cut-short archive ever becomes a backup.
 */
export function archiveScanner(what: string, hooks: Hooks, requireComplete = false): { transform: Transform; result: () => ArchiveScan } {
  const hash = createHash('sha256');
  const scanner = new TarScanner();
  const report = throttledProgress(hooks);
  let bytes = 0;
  let digest: string | undefined;
  const result = (): ArchiveScan => ({
    checksum: (digest ??= hash.digest('hex')),
    sizeBytes: bytes,
    files: scanner.files,
    complete: scanner.complete,
    strayEntry: scanner.strayEntry,
  });
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      scanner.update(chunk);
      bytes += chunk.length;
      report(() => ({ [what]: bytes, files: scanner.files }));
      callback(null, chunk);
    },
    flush(callback) {
      if (!requireComplete || (scanner.complete && scanner.strayEntry === null)) return callback();
      const why = scanner.strayEntry !== null ? `entry "${scanner.strayEntry}" would not land inside the storage` : `it ended early after ${bytes} bytes`;
      callback(new Error(`the storage archive is not whole: ${why}`));
    },
  });
  return { transform, result };
}

/** Reads an archive (from the backup store) through the scanner. */
export async function scanArchiveStream(source: Readable, hooks: Hooks): Promise<ArchiveScan> {
  const { transform, result } = archiveScanner('bytesRead', hooks);
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(source, transform, discard, hooks.signal ? { signal: hooks.signal } : {});
  return result();
}

/** The archive as a stream for putArchive, reporting how much of it was sent. */
export function archiveUpload(source: Readable, hooks: Hooks): Readable {
  const { transform } = archiveScanner('bytesSent', hooks);
  // pipeline, not pipe: a read error must end the upload with that error, not leave it hanging.
  return pipe(source, transform, () => undefined);
}
