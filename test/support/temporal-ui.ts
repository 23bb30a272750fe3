import type { UiStartForm } from './readme-commands';

/**
 * Talks to the Temporal Web UI's own server the way the browser app does (ui v2.42, as embedded in
 * the Temporal CLI dev server): its HTTP API under /api/v1, guarded by a CSRF token that every
 * response sets as the `_csrf` cookie and that writes must echo in `X-CSRF-TOKEN`. Inputs typed into
 * the UI are sent as one `json/plain` payload holding the JSON text.
 */
export class TemporalUi {
  private csrf: string | undefined;

  constructor(
    private readonly url: string,
    private readonly namespace = 'default',
  ) {}

  /** What "Start Workflow" sends when the form is filled in as given. */
  async startWorkflow(form: UiStartForm): Promise<{ runId: string }> {
    return this.post(`/workflows/${encodeURIComponent(form.workflowId)}`, {
      workflowId: form.workflowId,
      taskQueue: { name: form.taskQueue },
      workflowType: { name: form.workflowType },
      input: { payloads: [jsonPayload(form.input)] },
      userMetadata: {},
    }) as Promise<{ runId: string }>;
  }

  /** What "Send a Signal" sends for the given signal name and JSON input. */
  async signalWorkflow(workflowId: string, signalName: string, input: string): Promise<void> {
    await this.post(`/workflows/${encodeURIComponent(workflowId)}/signal/${encodeURIComponent(signalName)}`, {
      workflowExecution: { workflowId },
      signalName,
      input: { payloads: [jsonPayload(input)] },
    });
  }

  private async post(route: string, body: unknown): Promise<unknown> {
    const token = await this.token();
    const response = await fetch(`${this.url}/api/v1/namespaces/${encodeURIComponent(this.namespace)}${route}`, {
      method: 'POST',
      headers: { 'X-CSRF-TOKEN': token, Cookie: `_csrf=${token}`, 'Caller-Type': 'operator' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Temporal UI answered ${response.status} to POST ${route}: ${text}`);
    return text ? JSON.parse(text) : {};
  }

  private async token(): Promise<string> {
    if (this.csrf) return this.csrf;
    const response = await fetch(`${this.url}/api/v1/settings`);
    const cookie = response.headers.getSetCookie().find((entry) => entry.startsWith('_csrf='));
    if (!response.ok || !cookie) throw new Error(`Temporal UI at ${this.url} gave no CSRF cookie (HTTP ${response.status})`);
    this.csrf = cookie.slice('_csrf='.length).split(';')[0]!;
    return this.csrf;
  }
}

function jsonPayload(text: string): { metadata: { encoding: string }; data: string } {
  // The UI re-serializes what was typed, so invalid JSON never reaches the server.
  const json = JSON.stringify(JSON.parse(text));
  return { metadata: { encoding: base64('json/plain') }, data: base64(json) };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
