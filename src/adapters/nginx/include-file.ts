/**
 * The include file through which the worker drives Nginx (OSS has no runtime API): the cluster's
 * `upstream` block and two variables, rendered from a small state and parsed back. nginx.conf
 * includes it at `http {}` level; its server block proxies to the upstream, answers 503 with the
 * maintenance page while `$<upstream>_maintenance` is `on`, and serves `$<upstream>_generation` on a
 * status location so the worker can tell which include the running workers were started with.
 * Pure functions: no I/O here (nginx-switch.ts reads and writes the file).
 */

export type IncludeServerState = 'ready' | 'drain' | 'maint';

export interface IncludeServer {
  /** The node's server name (`lbServer`, else the node name): a comment, Nginx has no server names. */
  server: string;
  /** host:port Nginx proxies to. */
  address: string;
  state: IncludeServerState;
}

export interface IncludeState {
  /** Raised with every change, so a reload that took is visible on the status location. */
  generation: number;
  maintenance: boolean;
  servers: IncludeServer[];
}

const HEADER = [
  '# Written by nocobase-maintenance (loadBalancer.kind: nginx); rewritten by every procedure.',
  '# Nginx reads it at each start and reload, so a restart comes back as the last procedure left it.',
  '# A hand edit is put back by the next procedure step (holdLoadBalancer) - change states through the procedures.',
];

/**
 * The include's text. `drain` and `maint` both render as `down`: Nginx OSS has no per-server
 * drain; after the reload new workers send the server nothing while the old workers finish the
 * requests they have (which is what "drained" waits for). The state stays in the comment, so a
 * drain set is read back as a drain.
 */
export function renderInclude(upstream: string, state: IncludeState): string {
  const lines = [...HEADER, `# generation ${state.generation}`, `upstream ${upstream} {`];
  for (const { server, address, state: serverState } of state.servers) {
    lines.push(`    server ${address}${serverState === 'ready' ? '' : ' down'}; # ${server} ${serverState}`);
  }
  lines.push('}');
  lines.push(`map $host $${upstream}_maintenance { default "${state.maintenance ? 'on' : 'off'}"; }`);
  lines.push(`map $host $${upstream}_generation { default "${state.generation}"; }`);
  return `${lines.join('\n')}\n`;
}

const SERVER_LINE = /^\s*server\s+(\S+?)(\s+down)?;\s*#\s*(\S+)\s+(ready|drain|maint)\s*$/;

/**
 * The state an include says, or a sentence saying what is wrong with it (not written by the
 * worker, or edited beyond recognition). Round-trips with renderInclude.
 */
export function parseInclude(upstream: string, text: string): IncludeState | string {
  const generation = new RegExp(`^map \\$host \\$${upstream}_generation \\{ default "(\\d+)"; \\}$`, 'm').exec(text);
  const maintenance = new RegExp(`^map \\$host \\$${upstream}_maintenance \\{ default "(on|off)"; \\}$`, 'm').exec(text);
  const block = new RegExp(`^upstream ${upstream} \\{\\n([\\s\\S]*?)^\\}$`, 'm').exec(text);
  if (!generation?.[1] || !maintenance?.[1] || block?.[1] === undefined) {
    return `it lacks ${!block ? `the block "upstream ${upstream} {…}"` : !maintenance ? `the map of $${upstream}_maintenance` : `the map of $${upstream}_generation`}`;
  }
  const servers: IncludeServer[] = [];
  for (const line of block[1].split('\n')) {
    if (line.trim() === '') continue;
    const match = SERVER_LINE.exec(line);
    if (!match) return `its line "${line.trim()}" is not "server <host:port>[ down]; # <server> <ready|drain|maint>"`;
    const [, address = '', down, server = '', state = 'maint'] = match;
    const serverState = state as IncludeServerState;
    // A hand edit that removed or added `down` without the comment: the line's effect wins.
    const effective: IncludeServerState = down ? (serverState === 'ready' ? 'maint' : serverState) : 'ready';
    servers.push({ server, address, state: effective });
  }
  return { generation: Number(generation[1]), maintenance: maintenance[1] === 'on', servers };
}

/** host:port of a node's health URL: where its app listens, which is what Nginx proxies to. */
export function addressOf(healthUrl: string): string {
  const url = new URL(healthUrl);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}
