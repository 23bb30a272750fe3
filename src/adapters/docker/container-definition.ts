// Pure: turns what `docker inspect` says about a container (and about the image it was created
// from) into the create spec of the same container on another image. No I/O, so every rule below
// is unit-tested without an Engine (test/unit/container-definition.test.ts).
import { isDeepStrictEqual } from 'node:util';
import type Docker from 'dockerode';

/** The label a replacement carries: the image reference the node ran before. */
export const REPLACED_FROM_LABEL = 'nocobase-maintenance.replaced-from';

type Endpoint = {
  IPAMConfig?: Docker.IPAMConfig | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  DriverOpts?: Record<string, string> | null;
};

/**
 * The parts of a container inspect this module reads. Docker answers `null` for many empty
 * fields, and @types/dockerode omits some (StopSignal, StopTimeout, Shell), hence the loose shape;
 * a `Docker.ContainerInspectInfo` is assignable to it.
 */
export interface InspectedContainer {
  Id: string;
  Config: ImageDefaults & {
    Hostname?: string;
    Domainname?: string;
    AttachStdin?: boolean;
    AttachStdout?: boolean;
    AttachStderr?: boolean;
    Tty?: boolean;
    OpenStdin?: boolean;
    StdinOnce?: boolean;
    Image: string;
    StopTimeout?: number | null;
  };
  HostConfig: Docker.HostConfig;
  Mounts?: Array<{ Type: string; Name?: string; Destination: string }> | null;
  NetworkSettings?: { Networks?: Record<string, Endpoint> | null } | null;
}

/** What an image contributes to the containers created from it (`docker image inspect` .Config). */
export interface ImageDefaults {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string | string[] | null;
  WorkingDir?: string | null;
  User?: string | null;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null;
  ExposedPorts?: Record<string, object> | null;
  Healthcheck?: Docker.HealthConfig | null;
  StopSignal?: string | null;
  Shell?: string[] | null;
}

export interface ReplacementSpec {
  create: Docker.ContainerCreateOptions;
  /**
   * Networks to connect after creating. Engines before API 1.44 honour a single endpoint at create,
   * so only the NetworkMode's own network goes into `create`.
   */
  extraNetworks: Array<{ network: string; endpoint: Docker.EndpointSettings }>;
}

/** Modes whose network stack is not the container's own: no hostname, no endpoints of its own. */
function sharesNetworkStack(mode: string | undefined): boolean {
  return mode === 'host' || mode === 'none' || (mode?.startsWith('container:') ?? false);
}

const empty = (value: unknown): boolean =>
  value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0);

/** Docker reports an unset field as null, "" or [] depending on the field and version. */
function sameValue(a: unknown, b: unknown): boolean {
  return (empty(a) && empty(b)) || isDeepStrictEqual(a, b);
}

/** `value` unless the image supplied exactly it, so the new image's own default applies. */
function unlessInherited<T>(value: T | null | undefined, fromImage: unknown): T | undefined {
  if (empty(value) || sameValue(value, fromImage)) return undefined;
  return value ?? undefined;
}

/** Keys of `own` whose value is not the image's value for that key. */
function ownEntries<V>(own: Record<string, V> | null | undefined, fromImage: Record<string, V> | null | undefined, keep: (key: string) => boolean = () => false): Record<string, V> | undefined {
  const result: Record<string, V> = {};
  for (const [key, value] of Object.entries(own ?? {})) {
    if (keep(key) || !fromImage || !(key in fromImage) || !isDeepStrictEqual(fromImage[key], value)) result[key] = value;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

/** Inspect reports legacy links as "/db:/web/alias"; create wants "db:alias". */
function createLinks(links: string[] | null | undefined): string[] | undefined {
  if (empty(links)) return undefined;
  return links!.map((link) => {
    const match = /^\/?([^:]+):\/?(?:[^/]+\/)?([^/]+)$/.exec(link);
    return match ? `${match[1]}:${match[2]}` : link;
  });
}

function endpointSettings(endpoint: Endpoint, shortId: string): Docker.EndpointSettings {
  const settings: Docker.EndpointSettings = {};
  // Engines add the short container ID as an alias themselves; a copied one would name the old container.
  const aliases = (endpoint.Aliases ?? []).filter((alias) => alias !== shortId);
  if (aliases.length > 0) settings.Aliases = aliases;
  const ipam = endpoint.IPAMConfig;
  if (ipam && Object.values(ipam).some((value) => !empty(value))) settings.IPAMConfig = ipam;
  if (!empty(endpoint.Links)) settings.Links = endpoint.Links!;
  if (endpoint.DriverOpts && Object.keys(endpoint.DriverOpts).length > 0) settings.DriverOpts = endpoint.DriverOpts;
  return settings;
}

/**
 * Anonymous volumes (an image VOLUME nobody mounted explicitly) hold the container's data but are
 * not part of its HostConfig: a plain re-create would start on fresh empty ones. Mount them by
 * name instead, as Compose does when it recreates a service.
 */
function anonymousVolumeMounts(container: InspectedContainer): Docker.MountSettings[] {
  const host = container.HostConfig;
  const covered = new Set<string>([
    ...(host.Binds ?? []).map((bind) => bind.split(':')[1] ?? ''),
    ...(host.Mounts ?? []).map((mount) => mount.Target),
  ]);
  return (container.Mounts ?? [])
    .filter((mount) => mount.Type === 'volume' && mount.Name && /^[0-9a-f]{64}$/.test(mount.Name) && !covered.has(mount.Destination))
    .map((mount) => ({ Type: 'volume', Source: mount.Name!, Target: mount.Destination }));
}

/**
 * The networks `container` is attached to with their aliases, static addresses and links: the
 * NetworkMode's own network goes into the create call, the others are connected afterwards.
 * Independent of images, so a retry can finish the connecting without inspecting any.
 */
export function networkAttachments(container: InspectedContainer): { atCreate?: Docker.EndpointsConfig; extra: ReplacementSpec['extraNetworks'] } {
  const mode = container.HostConfig.NetworkMode;
  const result: ReturnType<typeof networkAttachments> = { extra: [] };
  if (sharesNetworkStack(mode)) return result;
  const primary = mode === 'default' || !mode ? 'bridge' : mode;
  for (const [network, endpoint] of Object.entries(container.NetworkSettings?.Networks ?? {})) {
    const settings = endpointSettings(endpoint, container.Id.slice(0, 12));
    if (network !== primary) result.extra.push({ network, endpoint: settings });
    // The default bridge takes no aliases or static addresses; NetworkMode alone attaches it.
    else if (network !== 'bridge') result.atCreate = { [network]: settings };
  }
  return result;
}

/**
 * The create spec for `container` re-created as `name` on `image`. Everything the container was
 * given is kept (env, labels, command, the whole HostConfig, networks with aliases); what it only
 * inherited from `oldImage` is left out so `image`'s own defaults apply: equal env entries, equal
 * labels, and Cmd/Entrypoint/WorkingDir/User/Healthcheck/StopSignal/Shell equal to the image's,
 * image-declared volumes and exposed ports. A value the operator set equal to the image's default
 * cannot be told apart from an inherited one and follows the new image too.
 */
export function replacementSpec(container: InspectedContainer, oldImage: ImageDefaults, target: { name: string; image: string }): ReplacementSpec {
  const config = container.Config;
  const host = container.HostConfig;
  const shortId = container.Id.slice(0, 12);
  const ownStack = !sharesNetworkStack(host.NetworkMode);

  const imageEnv = new Set(oldImage.Env ?? []);
  const env = (config.Env ?? []).filter((entry) => !imageEnv.has(entry));
  const labels = { ...ownEntries(config.Labels, oldImage.Labels), [REPLACED_FROM_LABEL]: config.Image };

  // The Engine copies the image's Cmd only when neither Cmd nor Entrypoint is given; a container
  // with its own Entrypoint therefore chose its Cmd as well, even one equal to the image's.
  const entrypoint = unlessInherited(config.Entrypoint, oldImage.Entrypoint);
  const cmd = entrypoint !== undefined ? (empty(config.Cmd) ? undefined : config.Cmd!) : unlessInherited(config.Cmd, oldImage.Cmd);

  // Published ports must stay exposed, or older Engines do not publish them.
  const published = new Set(Object.keys((host.PortBindings as Record<string, unknown> | null | undefined) ?? {}));
  const exposed = ownEntries(config.ExposedPorts, oldImage.ExposedPorts, (port) => published.has(port));
  const volumes = ownEntries(config.Volumes, oldImage.Volumes);
  const anonymous = anonymousVolumeMounts(container);

  const create: Docker.ContainerCreateOptions = {
    name: target.name,
    Image: target.image,
    Env: env,
    Labels: labels,
    AttachStdin: config.AttachStdin ?? false,
    AttachStdout: config.AttachStdout ?? false,
    AttachStderr: config.AttachStderr ?? false,
    Tty: config.Tty ?? false,
    OpenStdin: config.OpenStdin ?? false,
    StdinOnce: config.StdinOnce ?? false,
    HostConfig: {
      ...host,
      ...(host.Links ? { Links: createLinks(host.Links) } : {}),
      ...(anonymous.length > 0 ? { Mounts: [...(host.Mounts ?? []), ...anonymous] } : {}),
    },
  };
  // With a shared network stack the hostname is the host's (or the other container's), and an
  // auto-assigned one is the old container's short ID: neither belongs to the definition.
  const ownUts = ownStack && host.UTSMode !== 'host';
  if (ownUts && config.Hostname && config.Hostname !== shortId) create.Hostname = config.Hostname;
  if (ownUts && config.Domainname) create.Domainname = config.Domainname;
  if (cmd !== undefined) create.Cmd = cmd;
  if (entrypoint !== undefined) create.Entrypoint = entrypoint;
  const workingDir = unlessInherited(config.WorkingDir, oldImage.WorkingDir);
  if (workingDir !== undefined) create.WorkingDir = workingDir;
  const user = unlessInherited(config.User, oldImage.User);
  if (user !== undefined) create.User = user;
  const healthcheck = unlessInherited(config.Healthcheck, oldImage.Healthcheck);
  if (healthcheck !== undefined) create.Healthcheck = healthcheck;
  const stopSignal = unlessInherited(config.StopSignal, oldImage.StopSignal);
  if (stopSignal !== undefined) create.StopSignal = stopSignal;
  const shell = unlessInherited(config.Shell, oldImage.Shell);
  if (shell !== undefined) create.Shell = shell;
  if (typeof config.StopTimeout === 'number') create.StopTimeout = config.StopTimeout;
  if (exposed) create.ExposedPorts = exposed;
  if (volumes) create.Volumes = volumes;

  const networks = networkAttachments(container);
  if (networks.atCreate) create.NetworkingConfig = { EndpointsConfig: networks.atCreate };
  return { create, extraNetworks: networks.extra };
}
