import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { configProblems } from '../support/config-problems';

const withLoadBalancer = (loadBalancer: string) => `
clusters:
  prod:
    nodes:
      - { name: node-1, dockerHost: "unix:///run/docker.sock", container: prod-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: PROD_DB_PASSWORD }
    loadBalancer: ${loadBalancer}
    backup: { directory: /var/backups/nocobase }
`;

const haproxy = '{ runtimeApi: "unix:///run/haproxy/admin.sock", backend: prod_nodes, maintenanceMap: /etc/haproxy/maintenance.map }';
const nginx = '{ kind: nginx, includeFile: /etc/nginx/nocobase-upstream.conf, upstream: nocobase, generationUrl: "http://127.0.0.1/.nocobase-maintenance/generation" }';

const problemsOf = (text: string): string => configProblems(text).join('\n');

describe('loadBalancer.kind', () => {
  it('is haproxy when absent, so a configuration written before Nginx keeps its meaning', () => {
    const lb = parseConfig(withLoadBalancer(haproxy), 'clusters.yaml').clusters.prod!.loadBalancer;
    assert.equal(lb.kind, 'haproxy');
    assert.equal(lb.kind === 'haproxy' && lb.backend, 'prod_nodes');
  });

  it('nginx takes the include, the upstream and the generation URL, and defaults the commands to nginx -t and nginx -s reload', () => {
    const lb = parseConfig(withLoadBalancer(nginx), 'clusters.yaml').clusters.prod!.loadBalancer;
    assert.equal(lb.kind, 'nginx');
    if (lb.kind !== 'nginx') return;
    assert.equal(lb.includeFile, '/etc/nginx/nocobase-upstream.conf');
    assert.deepEqual(lb.testCommand, ['nginx', '-t']);
    assert.deepEqual(lb.reloadCommand, ['nginx', '-s', 'reload']);
    const docker = parseConfig(withLoadBalancer(nginx.replace(' }', ', reloadCommand: [docker, exec, nginx, nginx, -s, reload] }')), 'clusters.yaml').clusters.prod!.loadBalancer;
    assert.deepEqual(docker.kind === 'nginx' && docker.reloadCommand, ['docker', 'exec', 'nginx', 'nginx', '-s', 'reload']);
  });

  it('refuses a key of the other kind instead of ignoring it, naming the key path', () => {
    assert.match(problemsOf(withLoadBalancer(nginx.replace(' }', ', runtimeApi: "unix:///run/haproxy/admin.sock" }'))), /clusters\.yaml: clusters\.prod\.loadBalancer: .*runtimeApi/);
    assert.match(problemsOf(withLoadBalancer(haproxy.replace(' }', ', includeFile: /etc/nginx/x.conf }'))), /clusters\.prod\.loadBalancer: .*includeFile/);
  });

  it('names the kinds it knows and what each needs when the kind is unknown', () => {
    assert.match(problemsOf(withLoadBalancer(nginx.replace('kind: nginx', 'kind: traefik'))), /clusters\.prod\.loadBalancer\.kind: expected kind: haproxy .*, kind: nginx \(includeFile, upstream, generationUrl\) or kind: service \(a Kubernetes Service\)/);
  });

  it('says how to fix a missing or wrong nginx key', () => {
    assert.match(problemsOf(withLoadBalancer(nginx.replace(', upstream: nocobase', ''))), /clusters\.prod\.loadBalancer\.upstream: expected the name of the upstream block proxy_pass names, such as nocobase/);
    assert.match(problemsOf(withLoadBalancer(nginx.replace('upstream: nocobase', 'upstream: no-co-base'))), /loadBalancer\.upstream: expected letters, digits and underscores/);
    assert.match(problemsOf(withLoadBalancer(nginx.replace(' }', ', reloadCommand: "nginx -s reload" }'))), /loadBalancer\.reloadCommand: expected a command as a list of arguments, such as \["nginx","-s","reload"\]/);
    assert.match(problemsOf(withLoadBalancer(nginx.replace('includeFile: /etc', 'includeFile: etc'))), /loadBalancer\.includeFile: expected an absolute path/);
    assert.match(problemsOf(withLoadBalancer(nginx.replace('"http://127.0.0.1/.nocobase-maintenance/generation"', 'nowhere'))), /loadBalancer\.generationUrl: expected the http\(s\) URL of the location that returns "\$<upstream>_generation \$pid"/);
  });
});
