/**
 * Hits a URL in a loop, as a user behind the load balancer would, and records every answer: a
 * status code, or the error when there was no HTTP answer at all. Bounded in time and count, and
 * stopped by the test.
 */
export interface Probe {
  at: number;
  status: number | string;
  node: string | null;
}

export function startProber(url: string, options: { intervalMs?: number; maxMs?: number } = {}) {
  const probes: Probe[] = [];
  const deadline = Date.now() + (options.maxMs ?? 10 * 60_000);
  let running = true;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      const at = Date.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        probes.push({ at, status: response.status, node: response.headers.get('x-standin-node') });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        probes.push({ at, status: cause?.code ?? (error as Error).message, node: null });
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
    }
  })();
  return {
    probes,
    async stop(): Promise<Probe[]> {
      running = false;
      await loop;
      return probes;
    },
  };
}
