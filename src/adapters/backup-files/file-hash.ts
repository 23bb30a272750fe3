import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { throttledProgress, type Hooks } from '../hooks';

/** sha256 (hex) of a file, streamed (dumps can be far larger than memory), reporting progress: large ones take minutes. */
export async function sha256File(file: string, hooks: Hooks = {}): Promise<string> {
  const hash = createHash('sha256');
  const report = throttledProgress(hooks);
  let bytesHashed = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytesHashed += (chunk as Buffer).length;
    report(() => ({ hashing: file, bytesHashed }));
  }
  return hash.digest('hex');
}
