import { Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps';

/** A link to the calling workflow run in the Temporal UI, when the worker knows where the UI is. */
export function workflowLink(deps: Pick<ActivityDeps, 'temporalUiUrl'>): string | undefined {
  const info = Context.current().info;
  // Standalone activities (and tests) run outside a workflow: no link then.
  if (!deps.temporalUiUrl || !info.workflowExecution || !info.workflowNamespace) return undefined;
  const { workflowId, runId } = info.workflowExecution;
  return `${deps.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(info.workflowNamespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}
