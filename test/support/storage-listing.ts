import assert from 'node:assert/strict';
import { demuxDockerLogs } from '../../src/adapters/docker/logs';
import { connectDocker } from '../../src/adapters/docker/connection';
import { stackConfig, stackEnv } from './stack';
import { dockerStorageOf } from '../../src/config/schema';

/**
 * Every entry under the storage with its type, mode, owner and (for files) sha256, as the storage's
 * own host sees it: equal listings mean byte-for-byte equal storage.
 */
const listing = (prune: readonly string[] = []): string => `cd /storage && stat -c '%n %F %a %u:%g' . && find . -mindepth 1 ${
  prune.map((entry) => `-path './${entry}' -prune -o `).join('')}-print | sort | while read -r f; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then echo "$(stat -c '%n %a %u:%g' "$f") $(sha256sum < "$f" | cut -d' ' -f1)";
  else stat -c '%n %F %a %u:%g %N' "$f"; fi; done`;
const LISTING = listing();

/** Runs `script` in a tool container with a cluster's storage volume at /storage (default: the stand-in's). */
export async function inStandinStorage(script: string, labels: Record<string, string> = {}, cluster = 'standin'): Promise<string> {
  const demo = stackConfig().clusters[cluster]!;
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  const container = await docker.createContainer({
    Image: demo.backup.toolImage,
    Cmd: ['sh', '-c', script],
    Labels: labels,
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: dockerStorageOf(demo)!.volume!, Target: '/storage' }] },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const output = demuxDockerLogs((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
    assert.equal(StatusCode, 0, `tool script failed: ${output}`);
    return output;
  } finally {
    await container.remove({ force: true });
  }
}

export const standinStorageListing = (): Promise<string> => inStandinStorage(LISTING);

/**
 * The real NocoBase `demo` cluster's storage, listed the same way, without `prune`d entries
 * (paths relative to the storage root).
 */
export const demoStorageListing = (prune: readonly string[] = []): Promise<string> => inStandinStorage(listing(prune), {}, 'demo');
