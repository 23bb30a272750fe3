/**
 * What a running NocoBase node says about itself over HTTP. Probes never throw: a node that does
 * not answer is an observation ("not ready yet"), not an error; the caller decides how long to wait.
 */

const PROBE_TIMEOUT_MS = 2_000;

/** NocoBase's gateway answers 503 with `{ error: { code } }` while it installs or upgrades. */
export async function probeHealth(url: string): Promise<{ ok: boolean; code: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = await response.text();
    if (response.status === 200) return { ok: true, code: 'ok' };
    let code = `HTTP ${response.status}`;
    try {
      code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? code;
    } catch {
      // not JSON: keep the status
    }
    return { ok: false, code };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, code: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

/**
 * NocoBase's public `app:getInfo`, beside the health check (so a sub-path deployment keeps its
 * prefix); otherwise at the URL's origin.
 */
export function appInfoUrl(healthUrl: string): string {
  const url = new URL(healthUrl);
  const base = url.pathname.endsWith('/api/__health_check') ? url.pathname.slice(0, -'/__health_check'.length) : '/api';
  return `${url.origin}${base}/app:getInfo`;
}

/**
 * The version the running node reports, or null when it does not answer 200 with one: the
 * endpoint is a second opinion, and a node that lacks it (or a proxy that hides it) must not block
 * readiness on its own. The database's version stays required.
 */
export async function probeAppVersion(healthUrl: string): Promise<string | null> {
  try {
    const response = await fetch(appInfoUrl(healthUrl), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = await response.text();
    if (response.status !== 200) return null;
    const version = (JSON.parse(body) as { data?: { version?: unknown } } | null)?.data?.version;
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

/** The public URL's HTTP status, or the reason it gave none. */
export async function probeStatus(url: string): Promise<number | string> {
  return fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    .then((response) => response.status)
    .catch((error: Error) => error.message);
}
