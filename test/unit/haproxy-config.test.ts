import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';

const root = join(__dirname, '..', '..');

interface Section { kind: string; name: string; lines: string[] }

/** haproxy.cfg as sections (`global`, `defaults`, `frontend x`, …) of trimmed lines, comments dropped. */
function sections(text: string): Section[] {
  const result: Section[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim().replace(/\s+/g, ' ');
    if (line === '') continue;
    const header = /^(global|defaults|frontend|backend|resolvers|listen)\b ?(\S*)/.exec(line);
    if (header && !/^\s/.test(raw)) result.push({ kind: header[1]!, name: header[2] ?? '', lines: [] });
    else result.at(-1)?.lines.push(line);
  }
  return result;
}

/** The names a deployment chooses (cluster key, map, page, backend, state directory), as placeholders. */
function canonical(config: Section[]): Section[] {
  const frontend = config.find((section) => section.kind === 'frontend' && section.lines.some((line) => line.startsWith('acl maintenance ')));
  assert.ok(frontend, 'a frontend with the maintenance acl');
  const acl = /str\(([^)]+)\),map\(([^,]+),/.exec(frontend.lines.find((line) => line.startsWith('acl maintenance '))!)!;
  const backend = /^default_backend (\S+)$/.exec(frontend.lines.find((line) => line.startsWith('default_backend ')) ?? '')?.[1] ?? assert.fail('the frontend names its backend');
  const page = / file (\S+)/.exec(frontend.lines.join('\n'))?.[1] ?? assert.fail('the frontend serves the page from a file');
  const stateDir = config.flatMap((section) => section.lines).map((line) => /^server-state-base (\S+)$/.exec(line)?.[1]).find(Boolean);
  const names: Array<[string, string]> = [[acl[2]!, '<map>'], [page, '<page>'], [backend, '<backend>'], [acl[1]!, '<key>']];
  if (stateDir) names.unshift([stateDir, '<state-dir>']);
  const replace = (line: string) => names.reduce((text, [value, placeholder]) => text.replaceAll(value, placeholder), line).replace(/^server \S+ \S+ /, 'server <server> <address> ');
  const wanted = config.filter((section) => section.kind === 'global' || section.kind === 'defaults' || section === frontend || (section.kind === 'backend' && section.name === backend));
  return wanted.map((section) => ({ kind: section.kind, name: section === frontend ? '<frontend>' : replace(section.name), lines: section.lines.map(replace) }));
}

/** What the stack's config has that every HAProxy in front of a cluster needs: all but the addresses and tuning. */
function needed(stack: Section[]): Section[] {
  return stack.map((section) => ({
    ...section,
    // global and defaults: only the server-state lines (the rest is the stack's own tuning and sockets);
    // frontend and backend: every line but the listening address and the check timings.
    lines: section.lines.filter((line) => (section.kind === 'global' || section.kind === 'defaults' ? /server-state/.test(line) : !/^(bind|default-server) /.test(line))),
  }));
}

function missingFrom(config: Section[], wanted: Section[]): string[] {
  return wanted.flatMap((section) => {
    const lines = new Set(config.filter((other) => other.kind === section.kind && other.name === section.name).flatMap((other) => other.lines));
    return section.lines.filter((line) => !lines.has(line)).map((line) => `${section.kind} ${section.name}: ${line}`);
  });
}

/** The config `npm run stack:up` writes (haproxy_write_config), into a scratch directory. */
function stackConfig(dir: string): string {
  const script = [
    '. scripts/stack/lib.sh',
    `STACK_DIR=${JSON.stringify(dir)} SOCK_DIR=${JSON.stringify(dir)}`,
    '. scripts/stack/haproxy.sh',
    'LB_PORT=18080 HAPROXY_RUNTIME_PORT=9999 STANDIN_LB_PORT=18090',
    'NODE_PORT_1=13001 NODE_PORT_2=13002 NODE_PORT_3=13003 STANDIN_NODE_PORT_1=13011 STANDIN_NODE_PORT_2=13012 STANDIN_NODE_PORT_3=13013',
    'haproxy_write_config || true',
    'cat "$HAPROXY_CFG"',
  ].join('\n');
  return execFileSync('bash', ['-euc', script], { cwd: root, encoding: 'utf8' });
}

function readmeSnippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return readme.split('<!-- haproxy-cfg -->\n')[1]?.split(/^```\n/m)[1] ?? assert.fail('README has no haproxy-cfg block');
}

describe("the HAProxy configs shown to operators have every line of the stack's that the procedures rely on", () => {
  const dir = mkdtempSync(join(tmpdir(), 'haproxy-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const stack = canonical(sections(stackConfig(dir)));

  it('the stack config itself keeps server states across a reload (the reference the others are held to)', () => {
    const lines = stack.flatMap((section) => section.lines);
    for (const line of ['server-state-base <state-dir>', 'load-server-state-from-file local', 'server-state-file-name <backend>']) assert.ok(lines.includes(line), line);
  });

  it("the README's snippet has them all", () => {
    assert.deepEqual(missingFrom(canonical(sections(readmeSnippet())), needed(stack)), []);
  });

  it("deploy/compose/haproxy.cfg has them all", () => {
    assert.deepEqual(missingFrom(canonical(sections(readFileSync(join(root, 'deploy', 'compose', 'haproxy.cfg'), 'utf8'))), needed(stack)), []);
  });

  it("the README's cluster example names the files its snippet reads: the map and the backend's server state file", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const example = /^```yaml\n(smtp:[\s\S]*?)^```$/m.exec(readme)?.[1] ?? assert.fail('README has no cluster config example');
    const lb = (parse(example) as { clusters: Record<string, { loadBalancer: { maintenanceMap: string; serverStateFile?: string; backend: string } }> }).clusters.prod!.loadBalancer;
    const snippet = sections(readmeSnippet());
    const lines = snippet.flatMap((section) => section.lines);
    const base = lines.map((line) => /^server-state-base (\S+)$/.exec(line)?.[1]).find(Boolean) ?? assert.fail('no server-state-base');
    const backend = snippet.find((section) => section.kind === 'backend' && section.name === lb.backend) ?? assert.fail(`no backend ${lb.backend}`);
    const name = backend.lines.map((line) => /^server-state-file-name (\S+)$/.exec(line)?.[1]).find(Boolean) ?? assert.fail('no server-state-file-name');
    assert.equal(lb.serverStateFile, `${base}/${name}`);
    assert.ok(lines.some((line) => line.includes(`map(${lb.maintenanceMap},off)`)), 'the acl reads the configured map');
  });
});
