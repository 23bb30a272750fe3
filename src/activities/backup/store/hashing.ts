import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { throttledProgress, type Hooks } from '../../../adapters/hooks';

/** Passes bytes through while counting and hashing them (sha256), reporting progress as `what`. */
export function hashingStream(what: string, hooks: Hooks = {}): { transform: Transform; result: () => { sizeBytes: number; sha256: string } } {
  const hash = createHash('sha256');
  const report = throttledProgress(hooks);
  let bytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      report(() => ({ [what]: bytes }));
      callback(null, chunk);
    },
  });
  let digest: string | undefined;
  return { transform, result: () => ({ sizeBytes: bytes, sha256: (digest ??= hash.digest('hex')) }) };
}
