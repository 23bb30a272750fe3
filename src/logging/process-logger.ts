import { DefaultLogger, type LogEntry, type Logger } from '@temporalio/worker';
import { jsonLogLine, logFormatFromEnv, type LogFormat, type LogRecord } from './log-line';

/** The lines a process writes about itself (listening, a warning at start, a fatal error). */
export interface ProcessLogger {
  format: LogFormat;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * `human`: the lines as these processes always printed them (information on stdout, warnings and
 * errors on stderr), fields after the message as JSON. `json`: every line on stdout, one object
 * each, so the process's whole log is one stream a shipper reads.
 */
export function processLogger(format: LogFormat = logFormatFromEnv()): ProcessLogger {
  const write = (level: 'INFO' | 'WARN' | 'ERROR', message: string, fields?: Record<string, unknown>) => {
    if (format === 'json') {
      process.stdout.write(`${jsonLogLine({ level, message, ...(fields ? { meta: fields } : {}) })}\n`);
      return;
    }
    const text = fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message;
    if (level === 'INFO') console.log(text);
    else if (level === 'WARN') console.warn(text);
    else console.error(text);
  };
  return {
    format,
    info: (message, fields) => write('INFO', message, fields),
    warn: (message, fields) => write('WARN', message, fields),
    error: (message, fields) => write('ERROR', message, fields),
  };
}

/**
 * The logger for the worker's Temporal Runtime (`Runtime.install({ logger })`): the SDK's own
 * lines, the workflows' `log` and the activities' `log` all pass through it, with the SDK's
 * attributes (workflowId, runId, activityType, …) and ours (cluster, procedure:
 * src/worker/log-attributes.ts). Undefined for `human`: the SDK's default logger stays as it was.
 */
export function runtimeLogger(format: LogFormat): Logger | undefined {
  if (format !== 'json') return undefined;
  return new DefaultLogger('INFO', (entry: LogEntry) => process.stdout.write(`${jsonLogLine(entry satisfies LogRecord)}\n`));
}
