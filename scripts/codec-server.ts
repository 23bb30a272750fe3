import { codecServerOptionsFromEnv } from '../src/codec-server/config';
import { createCodecServer } from '../src/codec-server/server';
import { logFormatFromEnv } from '../src/logging/log-line';
import { processLogger, type ProcessLogger } from '../src/logging/process-logger';

// `npm run codec-server`: Temporal's remote codec endpoint for the Web UI and the `temporal` CLI
// (`--codec-endpoint`), with the worker's keys. Settings: src/codec-server/config.ts, README
// "Encrypted payloads". Logs in NOCOBASE_MAINTENANCE_LOG_FORMAT (json: one object per line).

/** Human until the format is read: a bad NOCOBASE_MAINTENANCE_LOG_FORMAT is itself reported that way. */
let log: ProcessLogger = processLogger('human');

function main(): void {
  log = processLogger(logFormatFromEnv());
  const options = codecServerOptionsFromEnv();
  const server = createCodecServer(options);
  server.listen(options.port, options.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    log.info(`codec server listening on http://${host}:${port} (CORS for ${options.corsOrigins.join(', ') || 'no origin'})`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // the UI's keep-alive connections would hold close() open
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

try {
  main();
} catch (error) {
  log.error(`codec server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
