import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLogLine, LOG_FORMAT_ENV, LogFormatError, logFormatFromEnv } from '../../src/logging/log-line';
import { processLogger, runtimeLogger } from '../../src/logging/process-logger';

// 2026-12-07T10:20:30.123456789Z in nanoseconds, as the SDK stamps its log entries.
const NANOS = BigInt(Date.parse('2026-12-07T10:20:30.123Z')) * 1_000_000n + 456_789n;

/** What the SDK's workflow logger passes for a procedure's workflow (src/workflows/log-attributes.ts adds the first two). */
const WORKFLOW_META = { cluster: 'demo', procedure: 'versionUpgrade', namespace: 'default', taskQueue: 'nocobase-maintenance', workflowId: 'maintenance-demo', runId: 'run-1', workflowType: 'versionUpgrade', sdkComponent: 'workflow' };

/** What the SDK's activity logger passes (src/worker/log-attributes.ts adds cluster and procedure). */
const ACTIVITY_META = {
  cluster: 'demo', procedure: 'versionUpgrade', isLocal: false, attempt: 1, namespace: 'default', taskToken: 'CiQ5YjQ…', activityId: '7',
  activityType: 'replaceImage', taskQueue: 'nocobase-maintenance', workflowId: 'maintenance-demo', workflowRunId: 'run-1', workflowType: 'versionUpgrade', node: 'demo-node-1',
};

/** Captures what `write` sends to stdout (a unit test's stand-in for the process's stream). */
function stdoutOf(write: () => void): string {
  const original = process.stdout.write.bind(process.stdout);
  let captured = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    captured += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    write();
  } finally {
    process.stdout.write = original;
  }
  return captured;
}

describe('the log format (NOCOBASE_MAINTENANCE_LOG_FORMAT)', () => {
  it('is human when unset or empty, json when asked, and refuses anything else naming the variable', () => {
    assert.equal(logFormatFromEnv({}), 'human');
    assert.equal(logFormatFromEnv({ [LOG_FORMAT_ENV]: ' ' }), 'human');
    assert.equal(logFormatFromEnv({ [LOG_FORMAT_ENV]: 'human' }), 'human');
    assert.equal(logFormatFromEnv({ [LOG_FORMAT_ENV]: ' JSON ' }), 'json');
    for (const bad of ['xml', 'logfmt', 'jsonl']) {
      assert.throws(() => logFormatFromEnv({ [LOG_FORMAT_ENV]: bad }), (error: unknown) => error instanceof LogFormatError && error.message.includes(LOG_FORMAT_ENV) && error.message.includes(bad));
    }
  });
});

describe('a JSON log line', () => {
  it('starts with timestamp, level and message, then the procedure\'s cluster, procedure, workflowId and runId, then the other fields', () => {
    const line = jsonLogLine({ level: 'INFO', message: 'step started', timestampNanos: NANOS, meta: { ...WORKFLOW_META, step: 'backup' } });
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(0, 7), ['timestamp', 'level', 'message', 'cluster', 'procedure', 'workflowId', 'runId']);
    assert.deepEqual(parsed, {
      timestamp: '2026-12-07T10:20:30.123Z', level: 'info', message: 'step started',
      cluster: 'demo', procedure: 'versionUpgrade', workflowId: 'maintenance-demo', runId: 'run-1',
      namespace: 'default', taskQueue: 'nocobase-maintenance', workflowType: 'versionUpgrade', sdkComponent: 'workflow', step: 'backup',
    });
  });

  it('names an activity\'s run runId as a workflow\'s, and leaves out the task token', () => {
    const parsed = JSON.parse(jsonLogLine({ level: 'WARN', message: 'node container replaced', timestampNanos: NANOS, meta: ACTIVITY_META })) as Record<string, unknown>;
    assert.equal(parsed.runId, 'run-1');
    assert.equal(parsed.workflowRunId, undefined);
    assert.equal(parsed.taskToken, undefined);
    assert.equal(parsed.level, 'warn');
    assert.deepEqual([parsed.cluster, parsed.procedure, parsed.workflowId, parsed.activityType, parsed.node], ['demo', 'versionUpgrade', 'maintenance-demo', 'replaceImage', 'demo-node-1']);
  });

  it('takes the procedure from the workflow type when no procedure was given, and has no procedure fields on a process\'s own line', () => {
    const sdkOnly: Record<string, unknown> = { ...ACTIVITY_META };
    delete sdkOnly.cluster;
    delete sdkOnly.procedure;
    assert.equal((JSON.parse(jsonLogLine({ level: 'INFO', message: 'x', meta: sdkOnly })) as Record<string, unknown>).procedure, 'versionUpgrade');
    const own = JSON.parse(jsonLogLine({ level: 'INFO', message: 'worker polling task queue nocobase-maintenance' })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(own), ['timestamp', 'level', 'message']);
    // Without the SDK's stamp, the line is stamped now.
    assert.ok(Math.abs(Date.parse(own.timestamp as string) - Date.now()) < 60_000);
  });

  it('is one line whatever the fields hold: errors with name, message and stack, bigints, cycles, newlines', () => {
    const error = new TypeError('connect ECONNREFUSED 127.0.0.1:5432');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const line = jsonLogLine({ level: 'ERROR', message: 'compensation failed\nsecond line', timestampNanos: NANOS, meta: { error, size: 12n, cyclic } });
    assert.doesNotMatch(line, /\n/);
    const parsed = JSON.parse(line) as { message: string; error: { name: string; message: string; stack: string }; size: string; cyclic: { self: unknown } };
    assert.equal(parsed.message, 'compensation failed\nsecond line');
    assert.equal(parsed.error.name, 'TypeError');
    assert.equal(parsed.error.message, 'connect ECONNREFUSED 127.0.0.1:5432');
    assert.match(parsed.error.stack, /log-format\.test\.ts/);
    assert.equal(parsed.size, '12');
    assert.equal(parsed.cyclic.self, '[circular]');
  });
});

describe('the loggers', () => {
  it('json: the process\'s own lines and the Runtime\'s go to stdout as one JSON object per line', () => {
    const out = stdoutOf(() => {
      processLogger('json').info('approval page listening on http://127.0.0.1:8090', { port: 8090 });
      processLogger('json').error('approvals: no approvals section');
      runtimeLogger('json')!.info('procedure started', WORKFLOW_META);
      runtimeLogger('json')!.debug('below INFO: not written', WORKFLOW_META);
    });
    const lines = out.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(lines.map((line) => [line.level, line.message]), [
      ['info', 'approval page listening on http://127.0.0.1:8090'],
      ['error', 'approvals: no approvals section'],
      ['info', 'procedure started'],
    ]);
    assert.equal(lines[0]!.port, 8090);
    assert.deepEqual([lines[2]!.cluster, lines[2]!.procedure, lines[2]!.workflowId, lines[2]!.runId], ['demo', 'versionUpgrade', 'maintenance-demo', 'run-1']);
  });

  it('human: the SDK\'s default Runtime logger stays, and the process\'s information lines are written as before', () => {
    assert.equal(runtimeLogger('human'), undefined);
    assert.equal(stdoutOf(() => processLogger('human').info('codec server listening on http://127.0.0.1:8081')), 'codec server listening on http://127.0.0.1:8081\n');
  });
});
