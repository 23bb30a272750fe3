import { connect, type Socket } from 'node:net';

/**
 * A minimal client of HAProxy's runtime API (the admin "stats socket"). One command per
 * connection: HAProxy answers and closes in non-interactive mode, which keeps retries simple —
 * there is no session state to lose when a call fails halfway.
 */
export class HaproxyRuntime {
  constructor(
    /** unix:///path/to/admin.sock or tcp://host:port */
    readonly address: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async command(line: string): Promise<string> {
    const socket = this.open();
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      socket.setTimeout(this.timeoutMs, () => socket.destroy(new Error(`HAProxy runtime API at ${this.address} did not answer "${line}" in ${this.timeoutMs}ms`)));
      socket.on('connect', () => socket.end(`${line}\n`));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', (hadError) => {
        if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  /** Runs a command whose success HAProxy signals with an empty answer; anything else is its error text. */
  async commandExpectingSilence(line: string): Promise<void> {
    const answer = (await this.command(line)).trim();
    if (answer !== '') throw new HaproxyCommandError(line, answer);
  }

  /** `show stat` as one record per proxy/server, keyed by the CSV header's column names. */
  async stats(): Promise<Record<string, string>[]> {
    const text = await this.command('show stat');
    const [header, ...rows] = text.split('\n').filter((row) => row.trim() !== '');
    if (!header?.startsWith('# ')) throw new HaproxyCommandError('show stat', text.trim());
    const columns = header.slice(2).split(',');
    return rows.map((row) => {
      const cells = row.split(',');
      return Object.fromEntries(columns.map((column, index) => [column, cells[index] ?? '']));
    });
  }

  private open(): Socket {
    if (this.address.startsWith('unix://')) return connect({ path: this.address.slice('unix://'.length) });
    const match = /^tcp:\/\/([^:/]+):(\d+)$/.exec(this.address);
    if (!match) throw new Error(`unsupported HAProxy runtime API address ${this.address}`);
    return connect({ host: match[1], port: Number(match[2]) });
  }
}

/** HAProxy understood the connection but refused the command (unknown backend, server, map...). */
export class HaproxyCommandError extends Error {
  override name = 'HaproxyCommandError';

  constructor(
    readonly commandLine: string,
    readonly answer: string,
  ) {
    super(`HAProxy refused "${commandLine}": ${answer}`);
  }
}
