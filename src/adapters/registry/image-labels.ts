/**
 * An image's labels read from its registry (Distribution API v2: the manifest, then its config
 * blob), for clusters whose nodes have no Docker host the worker can ask (Kubernetes: the kubelet
 * pulls). Anonymous pulls only; a registry on loopback or named `localhost` is spoken to over
 * plain HTTP, as Docker and containerd do, any other over HTTPS.
 */

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Manifest {
  config?: { digest?: string };
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

export function parseImageReference(image: string): { registry: string; repository: string; reference: string } {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = hasRegistry ? first : 'registry-1.docker.io';
  let rest = hasRegistry ? image.slice(slash + 1) : image;
  if (!hasRegistry && !rest.includes('/')) rest = `library/${rest}`;
  const at = rest.indexOf('@');
  if (at !== -1) return { registry, repository: rest.slice(0, at), reference: rest.slice(at + 1) };
  const colon = rest.lastIndexOf(':');
  return colon > rest.lastIndexOf('/') ? { registry, repository: rest.slice(0, colon), reference: rest.slice(colon + 1) } : { registry, repository: rest, reference: 'latest' };
}

export async function registryImageLabels(image: string): Promise<Record<string, string>> {
  const { registry, repository, reference } = parseImageReference(image);
  const plain = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry);
  const base = `${plain ? 'http' : 'https'}://${registry}/v2/${repository}`;
  const get = async (url: string, accept: string) => {
    const response = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(15_000) });
    if (!response.ok) throw new Error(`registry ${registry}: ${url.slice(base.length)} answered HTTP ${response.status}`);
    return response.json() as Promise<unknown>;
  };
  let manifest = (await get(`${base}/manifests/${reference}`, MANIFEST_TYPES)) as Manifest;
  if (manifest.manifests) {
    const pick = manifest.manifests.find((entry) => entry.platform?.os === 'linux' && entry.platform.architecture === 'amd64') ?? manifest.manifests[0];
    if (!pick) throw new Error(`registry ${registry}: ${image} lists no manifest`);
    manifest = (await get(`${base}/manifests/${pick.digest}`, MANIFEST_TYPES)) as Manifest;
  }
  if (!manifest.config?.digest) throw new Error(`registry ${registry}: ${image} has no config`);
  const config = (await get(`${base}/blobs/${manifest.config.digest}`, 'application/json')) as { config?: { Labels?: Record<string, string> | null } };
  return config.config?.Labels ?? {};
}
