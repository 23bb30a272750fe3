// The two images the stack's Kubernetes needs besides NocoBase's, built by the stack's Docker and
// pushed to its registry (registry.k8s.io and Docker Hub cannot be reached here):
//   - the pod sandbox ("pause") image: the static binary kubernetes.sh built from ./pause;
//   - the maintenance page the project ships (deploy/kubernetes/maintenance-page/server.mjs with
//     the page HAProxy and Nginx show), on the node base image.
// Each is tagged with the hash of what goes into it, so a changed page is a new image and an
// unchanged one is never rebuilt. Prints KUBE_PAUSE_IMAGE=… and KUBE_MAINTENANCE_PAGE_IMAGE=….
// Env: DOCKER_HOST, REGISTRY, KUBE_PAUSE_BINARY.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryHash } from '../build-images';
import { buildImage, dockerFromHost, followDockerStream, removeTag } from '../docker-build';
import { ensureNodeBaseImage, NODE_BASE_IMAGE } from '../node-base-image';

const HASH_LABEL = 'nocobase-maintenance.image-hash';
const repo = path.resolve(__dirname, '../../..');
const PAGE_SERVER = path.join(repo, 'deploy/kubernetes/maintenance-page/server.mjs');
const PAGE_HTML = path.join(repo, 'scripts/stack/haproxy/maintenance.html');

function hashOf(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

interface Recipe {
  repository: string;
  files: Record<string, string>;
  dockerfile: (hash: string) => string[];
  extra?: string;
}

async function ensureImage(recipe: Recipe, registry: string, log: (line: string) => void): Promise<string> {
  const docker = dockerFromHost(process.env.DOCKER_HOST);
  const hash = hashOf(...Object.values(recipe.files).map((file) => fs.readFileSync(file)), recipe.dockerfile('').join('\n'), recipe.extra ?? '');
  const image = `${registry}/${recipe.repository}:${hash}`;
  if ((await registryHash(registry, hash, recipe.repository, HASH_LABEL)) === hash) return image;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `${recipe.repository}-`));
  try {
    for (const [name, file] of Object.entries(recipe.files)) fs.copyFileSync(file, path.join(work, name));
    fs.writeFileSync(path.join(work, 'Dockerfile'), [...recipe.dockerfile(hash), ''].join('\n'));
    await buildImage(docker, work, image, log);
    const stream = await docker.getImage(`${registry}/${recipe.repository}`).push({ tag: hash, authconfig: {} });
    await followDockerStream(docker, stream, (line) => log(`  ${line}`));
    await removeTag(docker, image);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return image;
}

async function main(): Promise<void> {
  const registry = process.env.REGISTRY;
  const pause = process.env.KUBE_PAUSE_BINARY;
  if (!registry || !pause) throw new Error('REGISTRY and KUBE_PAUSE_BINARY must be set');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const pauseImage = await ensureImage({
    repository: 'nocobase-maintenance-pause',
    files: { pause },
    dockerfile: (hash) => ['FROM scratch', 'COPY pause /pause', `LABEL ${HASH_LABEL}=${hash}`, 'ENTRYPOINT ["/pause"]'],
  }, registry, log);
  const base = await ensureNodeBaseImage({ dockerHost: process.env.DOCKER_HOST, log });
  const pageImage = await ensureImage({
    repository: 'nocobase-maintenance-page',
    files: { 'server.mjs': PAGE_SERVER, 'maintenance.html': PAGE_HTML },
    extra: base.hash,
    dockerfile: (hash) => [`FROM ${NODE_BASE_IMAGE}`, 'COPY server.mjs maintenance.html /srv/', `LABEL ${HASH_LABEL}=${hash}`,
      'CMD ["/usr/local/bin/node", "/srv/server.mjs"]'],
  }, registry, log);
  process.stdout.write(`KUBE_PAUSE_IMAGE=${pauseImage}\nKUBE_MAINTENANCE_PAGE_IMAGE=${pageImage}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`kubernetes images: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
