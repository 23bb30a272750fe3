import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WRITER = join(__dirname, '..', 'support', 'scripts', 'write-map-entries.ts');
const TSX = join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');

describe('the maintenance map file written by several workers at once', () => {
  it('keeps every process\'s lines: two clusters\' procedures behind one HAProxy lose no switch', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'map-writers-'));
    try {
      const file = join(dir, 'maintenance.map');
      await writeFile(file, '# operator comment\n');
      const count = 40;
      await Promise.all(['a', 'b', 'c'].map((prefix) => run(TSX, [WRITER, file, prefix, String(count)])));
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      assert.equal(lines[0], '# operator comment');
      const missing = ['a', 'b', 'c'].flatMap((prefix) => Array.from({ length: count }, (_, index) => `${prefix}-${index} on`)).filter((line) => !lines.includes(line));
      assert.deepEqual(missing, [], `${missing.length} lines lost to a concurrent writer`);
      assert.equal(lines.length, 1 + 3 * count);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
