import { z } from 'zod';

/**
 * `loadBalancer:` of a cluster: which traffic switch stands in front of the nodes (`kind`) and how
 * to reach it. `kind` defaults to haproxy, so every configuration written before Nginx existed
 * keeps its meaning. Objects are strict per kind: a key of the other kind (runtimeApi under nginx)
 * is reported, not ignored.
 */

const absolutePath = z.string().startsWith('/', 'expected an absolute path');
const publicUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://nocobase.example.com/' }).optional();
const argv = (example: string) =>
  z.array(z.string().min(1), { error: `expected a command as a list of arguments, such as ${example}` }).min(1, `expected a command as a list of arguments, such as ${example}`);

export const haproxyLoadBalancerSchema = z.strictObject({
  kind: z.literal('haproxy'),
  /** HAProxy runtime API: unix:///path/to/admin.sock or tcp://host:port, at level admin. */
  runtimeApi: z.string().regex(/^(unix:\/\/\/.+|tcp:\/\/[^:/]+:\d+)$/, 'expected unix:///path/to/haproxy.sock or tcp://host:port'),
  backend: z.string().min(1),
  /** Map file whose `<key> on|off` entry switches the frontend to the 503 maintenance page. */
  maintenanceMap: absolutePath,
  maintenanceKey: z.string().min(1).optional(),
  /**
   * The map file as the worker sees it, rewritten with every switch so a reload keeps it.
   * Default: `maintenanceMap` (the worker runs beside HAProxy); set it when the file is mounted
   * elsewhere on the worker.
   */
  maintenanceMapFile: absolutePath.optional(),
  /**
   * The file HAProxy loads this backend's server states from on a (re)load, as the worker sees it
   * (`server-state-file-name` with `load-server-state-from-file local`, or the global
   * `server-state-file`). Rewritten after every server state change, so a reload keeps what a
   * procedure set. Without it, a reload returns every server to the config's state.
   */
  serverStateFile: absolutePath.optional(),
  /** The public URL behind the load balancer, used to check that it serves. */
  url: publicUrl,
});

export const nginxLoadBalancerSchema = z.strictObject({
  kind: z.literal('nginx'),
  /**
   * The file the worker owns, included at `http {}` level by nginx.conf: the `upstream` block of
   * the app nodes and the maintenance switch and generation variables (adapters/nginx/include-file.ts).
   * As the worker sees it; written atomically, read by Nginx at every start and reload.
   */
  includeFile: z.string({ error: 'expected the absolute path of the include file the worker writes, such as /etc/nginx/nocobase-upstream.conf' }).startsWith('/', 'expected an absolute path'),
  /** The upstream's name, which `proxy_pass http://<upstream>;` names; also prefixes the variables `$<upstream>_maintenance` and `$<upstream>_generation`. */
  upstream: z.string({ error: 'expected the name of the upstream block proxy_pass names, such as nocobase' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected letters, digits and underscores (it names nginx variables too), such as nocobase'),
  /** Reloads Nginx, e.g. ["nginx","-s","reload"] or ["docker","exec","nginx","nginx","-s","reload"]. */
  reloadCommand: argv('["nginx","-s","reload"]').default(['nginx', '-s', 'reload']),
  /** Checks the configuration with the new include before the reload, e.g. ["docker","exec","nginx","nginx","-t"]. */
  testCommand: argv('["nginx","-t"]').default(['nginx', '-t']),
  /**
   * A location answering `"$<upstream>_generation $pid"` (see the README): the worker reads it
   * after a reload to know the new configuration is the one serving ("the reload took").
   */
  generationUrl: z.url({ protocol: /^https?$/, error: 'expected the http(s) URL of the location that returns "$<upstream>_generation $pid", such as http://127.0.0.1/.nocobase-maintenance/generation' }),
  /**
   * Prints Nginx's processes, `<pid> <ppid> <title>` a line, to see old workers stop accepting and
   * finish their requests after a reload, e.g. ["docker","exec","nginx","ps","-e","-o","pid=,ppid=,args="].
   * Unset: the worker reads /proc (Nginx runs on the worker's host).
   */
  processesCommand: argv('["docker","exec","nginx","ps","-e","-o","pid=,ppid=,args="]').optional(),
  /** The public URL behind the load balancer, used to check that it serves. */
  url: publicUrl,
});

/**
 * A Kubernetes Service in front of the app pods (the cluster's `kubernetes.namespace`): the
 * maintenance page is a switch of its selector to the maintenance page's pods
 * (deploy/kubernetes/maintenance-page.yaml), which works behind any Ingress.
 */
export const serviceLoadBalancerSchema = z.strictObject({
  kind: z.literal('service'),
  service: z.string({ error: 'expected the name of the Service in front of the app pods, such as nocobase' }).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Service name such as nocobase'),
  /** The labels of the maintenance page's pods, which the Service selects while the page is on. */
  maintenanceSelector: z.record(z.string(), z.string()).default({ 'app.kubernetes.io/name': 'nocobase-maintenance-page' }),
  /** The URL users reach the Service by (through the Ingress, or the Service's own address), used to check that it serves. */
  url: publicUrl,
});

/** A `loadBalancer:` without `kind` is HAProxy's, as it was before `kind` existed. */
export const loadBalancerSchema = z.preprocess(
  (value) => (value !== null && typeof value === 'object' && !Array.isArray(value) && !('kind' in value) ? { kind: 'haproxy', ...value } : value),
  z.discriminatedUnion('kind', [haproxyLoadBalancerSchema, nginxLoadBalancerSchema, serviceLoadBalancerSchema], {
    error: 'expected kind: haproxy (the default: runtimeApi, backend, maintenanceMap), kind: nginx (includeFile, upstream, generationUrl) or kind: service (a Kubernetes Service)',
  }),
);

export type HaproxyLoadBalancerConfig = z.infer<typeof haproxyLoadBalancerSchema>;
export type NginxLoadBalancerConfig = z.infer<typeof nginxLoadBalancerSchema>;
export type ServiceLoadBalancerConfig = z.infer<typeof serviceLoadBalancerSchema>;
export type LoadBalancerConfig = z.infer<typeof loadBalancerSchema>;
