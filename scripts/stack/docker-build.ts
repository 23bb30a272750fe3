// Talking to the stack's Docker Engine when building images: the engine from DOCKER_HOST, build
// and push streams followed to their real outcome (src/adapters/docker), and tags removed without caring whether they
// existed. Shared by build-images.ts (the stand-in and toolbox images) and node-base-image.ts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type Docker from 'dockerode';
import { connectDocker } from '../../src/adapters/docker/connection';
import { followProgressStream, streamLine } from '../../src/adapters/docker/progress-stream';

// DOCKER_HOST is parsed here rather than left to docker-modem so a missing or odd value fails
// with a message that names the variable. A tcp:// engine is the developer's own local one
// (docker.sh's "external" mode), reached as before: plain, on purpose.
export function dockerFromHost(dockerHost: string | undefined): Docker {
  if (!dockerHost) throw new Error('DOCKER_HOST is not set (e.g. unix:///path/to/docker.sock)');
  if (dockerHost.startsWith('unix://')) return connectDocker(dockerHost);
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  if (url.protocol !== 'http:') throw new Error(`DOCKER_HOST must be unix:// or tcp://, got ${dockerHost}`);
  return connectDocker(dockerHost, { insecure: true });
}

// Build, push and pull streams are followed by the product's one stream follower, which turns an
// error reported inside a 200 stream into a rejection; here its events become log lines.
export function followDockerStream(docker: Docker, stream: NodeJS.ReadableStream, onLine: (line: string) => void = () => undefined): Promise<void> {
  return followProgressStream(docker, stream, (event) => {
    const line = streamLine(event);
    if (line.trim()) onLine(line);
  });
}

// tar rather than dockerode's own packing: every file in the image is root's, whoever builds.
function tarContext(dir: string): string {
  const file = `${dir}.tar`;
  execFileSync('tar', ['-C', dir, '--owner=0', '--group=0', '--numeric-owner', '-cf', file, '.']);
  return file;
}

/** Builds the Dockerfile in `contextDir` (a directory made for it, sent whole) as `tag`. */
export async function buildImage(docker: Docker, contextDir: string, tag: string, log: (line: string) => void): Promise<void> {
  log(`building ${tag}`);
  const stream = await docker.buildImage(fs.createReadStream(tarContext(contextDir)), { t: tag, rm: true, forcerm: true });
  await followDockerStream(docker, stream, (line) => log(`  ${line}`));
}

/** Removes one tag (the image too once no tag is left); a tag that is not there is fine. */
export async function removeTag(docker: Docker, tag: string): Promise<void> {
  try {
    await docker.getImage(tag).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}
