import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { renderInclude } from '../../src/adapters/nginx/include-file';
import { parseConfig } from '../../src/config/load';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced block right after `<!-- marker -->` in the README. */
function block(marker: string): string {
  const text = new RegExp(`<!-- ${marker} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];
  return text ?? assert.fail(`the README has no block after <!-- ${marker} -->`);
}

/** Lines without indentation and blank lines, for comparing configs that differ only in layout. */
const lines = (text: string) => text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));

describe("the README's Nginx section is what works", () => {
  const scratch = mkdtempSync(join(tmpdir(), 'nginx-readme-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('its loadBalancer example is accepted by the loader', () => {
    const config = parseConfig(
      `clusters:
  prod:
    nodes:
      - { name: node-1, dockerHost: "unix:///run/docker.sock", container: prod-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: P }
${block('nginx-load-balancer')}    backup: { directory: /var/backups/nocobase }
`,
      'README.md',
    );
    assert.equal(config.clusters.prod!.loadBalancer.kind, 'nginx');
  });

  it('its nginx.conf, with an include the worker renders, passes nginx -t', () => {
    const include = join(scratch, 'nocobase-upstream.conf');
    writeFileSync(include, renderInclude('nocobase', { generation: 3, maintenance: true, servers: [{ server: 'node-1', address: '127.0.0.1:13000', state: 'ready' }, { server: 'node-2', address: '127.0.0.1:13001', state: 'maint' }] }));
    writeFileSync(join(scratch, 'maintenance.html'), 'maintenance');
    mkdirSync(join(scratch, 'logs'), { recursive: true });
    const conf = join(scratch, 'nginx.conf');
    writeFileSync(conf, `pid ${scratch}/nginx.pid;\n${block('nginx-conf').replaceAll('/etc/nginx/', `${scratch}/`)}`);
    execFileSync('nginx', ['-p', `${scratch}/`, '-c', conf, '-e', join(scratch, 'logs', 'error.log'), '-t', '-q'], { stdio: 'pipe' });
  });

  it("its server block is the stack's, line for line, with the stack's names", () => {
    const script = [
      '. "$1/scripts/stack/lib.sh"',
      'STACK_DIR="$2"; LOG_DIR="$2/logs"; RUN_DIR="$2/run"',
      '. "$1/scripts/stack/nginx.sh"',
      'NGINX_PORT=80 STANDIN_NODE_PORT_1=1 STANDIN_NODE_PORT_2=2 STANDIN_NODE_PORT_3=3',
      'nginx_write_config || true',
    ].join('\n');
    execFileSync('bash', ['-Eeuo', 'pipefail', '-c', script, '_', root, scratch], { stdio: 'pipe' });
    const stack = new Set(lines(readFileSync(join(scratch, 'nginx', 'nginx.conf'), 'utf8')));
    const page = join(root, 'scripts', 'stack', 'haproxy', 'maintenance.html');
    const wanted = lines(block('nginx-conf'))
      .map((line) => line.replaceAll('/etc/nginx/nocobase-upstream.conf', join(scratch, 'nginx', 'standin-upstream.conf')).replaceAll('/etc/nginx/maintenance.html', page).replaceAll('$nocobase_', '$standin_').replace('http://nocobase;', 'http://standin;'))
      .map((line) => line.replace(/^listen 80;$/, 'listen 127.0.0.1:80;'));
    assert.deepEqual(wanted.filter((line) => !stack.has(line) && !['events {}'].includes(line)), []);
    // And the include the stack writes first is one the worker reads: every server out.
    assert.match(readFileSync(join(scratch, 'nginx', 'standin-upstream.conf'), 'utf8'), /server 127\.0\.0\.1:1 down; # node-1 maint/);
  });
});
