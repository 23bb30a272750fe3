import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nginxWorkers, workersOf } from '../../src/adapters/nginx/control';

// What `ps -e -o pid=,ppid=,args=` prints inside an Nginx container mid-reload, and another Nginx on the host.
const ps = [
  '    1     0 nginx: master process nginx -g daemon off;',
  '   31     1 nginx: worker process is shutting down',
  '   40     1 nginx: worker process',
  '   41     1 nginx: worker process',
  '  500   499 nginx: worker process',
  '   77     0 sh -c ps',
].join('\n');

describe("Nginx's workers, as processesCommand lists them", () => {
  it('tells accepting workers from old ones finishing their requests, and ignores the rest', async () => {
    const workers = await nginxWorkers(['printf', '%s\n', ps]);
    assert.deepEqual(workers, [
      { pid: 31, ppid: 1, accepting: false },
      { pid: 40, ppid: 1, accepting: true },
      { pid: 41, ppid: 1, accepting: true },
      { pid: 500, ppid: 499, accepting: true },
    ]);
  });

  it("keeps the answering worker's master's workers only, and all of them when the pid is not known", async () => {
    const workers = await nginxWorkers(['printf', '%s\n', ps]);
    assert.deepEqual(workersOf(workers, 40).map(({ pid }) => pid), [31, 40, 41]);
    assert.deepEqual(workersOf(workers, undefined).map(({ pid }) => pid), [31, 40, 41, 500]);
  });

  it('fails, naming the command, when the command fails', async () => {
    await assert.rejects(nginxWorkers(['false']), /false failed/);
  });
});
