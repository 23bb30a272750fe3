import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';

// docker-compose.yml's services, run on the local stack instead of the compose project's network.
// Nothing here changes what a service is given; it says where the stack keeps each thing the
// compose project would have created:
//   - `${VAR:-default}` / `${VAR:?message}` / `${VAR}` are interpolated from a .env of the test's own;
//   - a compose host name and port (temporal:7233, postgres:5432…) becomes the stack's address;
//   - a published port is a free port of the host (host networking: no port mapping);
//   - a named volume is a directory of the test's own, bound where the service mounts the volume;
//     a host path (the Docker socket) is the stack's; a repo file is the repo file, unless the test
//     hands a translated copy (the cluster config names compose hosts).

const ROOT = path.join(__dirname, '..', '..');

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  stop_grace_period?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, { name?: string } | null>;
}

export function readCompose(): ComposeFile {
  return parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}; an unset required one throws, as compose refuses to start. */
export function interpolate(value: string, dotenv: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, kind: string | undefined, rest: string | undefined) => {
    const set = dotenv[name];
    if (set !== undefined && set !== '') return set;
    if (kind === '?') throw new Error(`compose would refuse to start: ${name}: ${rest ?? ''}`);
    return kind === '-' ? (rest ?? '') : '';
  });
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface StackMapping {
  /** .env of the compose project. */
  dotenv: Record<string, string>;
  /** `host:port` as a compose service reaches it → the stack's `host:port`. */
  addresses: Record<string, string>;
  /** Named volume → a directory of the test's. */
  volumes: Record<string, string>;
  /** Host path named in the compose file → the stack's (the Docker socket). */
  hostPaths: Record<string, string>;
  /** Repo file (as the compose file names it, `./…`) → a translated copy; others are bound as they are. */
  files: Record<string, string>;
}

/** Replaces every compose address in `text` with the stack's (longest first, so app-1:13000 is not cut short). */
export function mapAddresses(text: string, addresses: Record<string, string>): string {
  return Object.keys(addresses).sort((a, b) => b.length - a.length).reduce((out, from) => out.split(from).join(addresses[from]!), text);
}

/** The service's environment, interpolated and with compose addresses made the stack's. */
export function serviceEnv(service: ComposeService, mapping: StackMapping): string[] {
  return Object.entries(service.environment ?? {}).map(([key, value]) => `${key}=${mapAddresses(interpolate(String(value), mapping.dotenv), mapping.addresses)}`);
}

/** The service's `volumes:` as Docker binds on the stack. */
export function serviceBinds(service: ComposeService, mapping: StackMapping): string[] {
  return (service.volumes ?? []).map((volume) => {
    const [source, target, mode] = volume.split(':') as [string, string, string | undefined];
    let host: string;
    if (source.startsWith('./')) host = mapping.files[source] ?? path.join(ROOT, source);
    else if (source.startsWith('/')) host = mapping.hostPaths[source] ?? source;
    else host = mapping.volumes[source] ?? (() => { throw new Error(`no directory for the named volume ${source}`); })();
    return `${host}:${target}${mode ? `:${mode}` : ''}`;
  });
}

/** Where a path inside the service's container is on the host (through its volumes), for programs run on the host in its place. */
export function hostPathOf(service: ComposeService, mapping: StackMapping, containerPath: string): string {
  const binds = serviceBinds(service, mapping).map((bind) => bind.split(':') as [string, string]);
  const found = binds.filter(([, target]) => containerPath === target || containerPath.startsWith(`${target}/`)).sort((a, b) => b[1].length - a[1].length)[0];
  if (!found) throw new Error(`${containerPath} is in no volume of the service`);
  return `${found[0]}${containerPath.slice(found[1].length)}`;
}
