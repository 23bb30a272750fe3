import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertSecretsResolvable, loadConfig, parseConfig, resolveDatabasePassword } from '../../src/config/load';
import { configProblems } from '../support/config-problems';
import { dockerNodesOf } from '../../src/config/schema';

const valid = `
smtp: { host: 127.0.0.1, port: 2525, from: "maint <m@localhost>" }
dockerHosts:
  "tcp://10.0.0.2:2376": { tls: { certPath: /etc/nocobase-maintenance/docker/10.0.0.2 } }
clusters:
  prod:
    nodes:
      - { name: node-1, dockerHost: "unix:///run/docker.sock", container: prod-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }
      - { name: node-2, dockerHost: "tcp://10.0.0.2:2376", container: prod-2, healthUrl: "http://10.0.0.2:13000/api/__health_check", lbServer: app2 }
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: PROD_DB_PASSWORD }
    loadBalancer: { runtimeApi: "unix:///run/haproxy/admin.sock", backend: prod_nodes, maintenanceMap: /etc/haproxy/maintenance.map }
    backup: { directory: /var/backups/nocobase }
`;

const problemsOf = configProblems;

describe('cluster configuration', () => {
  it('accepts a valid file and fills in the defaults', () => {
    const config = parseConfig(valid, 'clusters.yaml');
    const prod = config.clusters.prod!;
    assert.equal(prod.database.port, 5432);
    assert.equal(prod.backup.method, 'pg_dump');
    assert.equal(prod.timeouts.nodeReady, 600_000);
    assert.deepEqual(prod.notifications.recipients, []);
    assert.equal(dockerNodesOf(prod)[1]?.lbServer, 'app2');
  });

  it('names the file, the key path and what was expected', () => {
    const problems = problemsOf(valid.replace('healthUrl: "http://10.0.0.1:13000/api/__health_check"', 'healthUrl: 42'));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^clusters\.yaml: clusters\.prod\.nodes\[0\]\.healthUrl: expected an http\(s\) URL such as http:\/\/10\.0\.0\.1:13000/);
  });

  it('refuses a misspelt key instead of ignoring it', () => {
    const problems = problemsOf(valid.replace('passwordEnv: PROD_DB_PASSWORD', 'passwordEnv: PROD_DB_PASSWORD, pasword: x'));
    assert.match(problems.join('\n'), /clusters\.prod\.database: .*pasword/);
  });

  it('refuses a password written into the file and a database without any password source', () => {
    assert.match(problemsOf(valid.replace('passwordEnv: PROD_DB_PASSWORD', 'password: hunter2')).join('\n'), /clusters\.prod\.database/);
    assert.match(problemsOf(valid.replace(', passwordEnv: PROD_DB_PASSWORD', '')).join('\n'), /exactly one of passwordEnv or passwordFile/);
  });

  it('refuses more than 32 nodes, duplicate nodes and bad durations', () => {
    const node = (i: number) => `      - { name: n${i}, dockerHost: "unix:///d.sock", container: c${i}, healthUrl: "http://h/api/__health_check" }`;
    const many = valid.replace(/    nodes:\n(.*\n){2}/, `    nodes:\n${Array.from({ length: 33 }, (_, i) => node(i)).join('\n')}\n`);
    assert.match(problemsOf(many).join('\n'), /clusters\.prod\.nodes: expected at most 32 nodes/);
    const duplicate = valid.replace('container: prod-2', 'container: prod-1').replace('tcp://10.0.0.2:2376", container', 'unix:///run/docker.sock", container');
    assert.match(problemsOf(duplicate).join('\n'), /clusters\.prod\.nodes\[1\]: duplicates nodes\[0\] \(container/);
    const badDuration = valid.replace('backup: {', 'timeouts: { nodeReady: soon }\n    backup: {');
    assert.match(problemsOf(badDuration).join('\n'), /clusters\.prod\.timeouts\.nodeReady: expected a duration/);
  });

  it('marks nodes app by default or worker (WORKER_MODE), and refuses any other role', () => {
    const roled = parseConfig(valid.replace('lbServer: app2 }', 'lbServer: app2, role: worker }'), 'clusters.yaml');
    assert.equal(roled.clusters.prod!.nodes[0]?.role, undefined, 'no role means app');
    assert.equal(roled.clusters.prod!.nodes[1]?.role, 'worker');
    assert.match(problemsOf(valid.replace('lbServer: app2 }', 'lbServer: app2, role: background }')).join('\n'), /clusters\.prod\.nodes\[1\]\.role: expected app .* or worker/);
  });

  it('refuses a cluster without any app node, naming the cluster', () => {
    const allWorkers = valid.replace('container: prod-1,', 'container: prod-1, role: worker,').replace('lbServer: app2 }', 'lbServer: app2, role: worker }');
    const problems = problemsOf(allWorkers);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^clusters\.yaml: clusters\.prod\.nodes: cluster "prod" has no app node: .*give at least one node role: app/);
  });

  it('reports YAML syntax errors and an unreadable file with the file name', () => {
    assert.match(problemsOf('clusters: [unclosed').join('\n'), /^clusters\.yaml: /);
    assert.throws(() => loadConfig('/nonexistent/clusters.yaml'), /\/nonexistent\/clusters\.yaml: cannot read the file \(ENOENT\)/);
    assert.throws(() => loadConfig(''), /NOCOBASE_MAINTENANCE_CONFIG is not set/);
  });

  it('resolves passwords from the environment or a file, and names the cluster whose secret is missing', () => {
    const config = parseConfig(valid, 'clusters.yaml');
    assert.throws(() => assertSecretsResolvable(config, {}), /clusters\.prod\.database password: environment variable PROD_DB_PASSWORD is not set/);
    assert.equal(resolveDatabasePassword(config.clusters.prod!.database, { PROD_DB_PASSWORD: 's3cret' }), 's3cret');
    const dir = mkdtempSync(join(tmpdir(), 'nm-config-'));
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    assert.equal(resolveDatabasePassword({ ...config.clusters.prod!.database, passwordEnv: undefined, passwordFile: join(dir, 'pw') }), 'from-file');
  });
});
