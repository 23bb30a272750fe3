import type { TokenClaims } from '../common/approval-token';
import type { ProcedureStatus } from '../workflows/messages';

/** The approval page's HTML: plain, readable without scripts, every value escaped. */

export function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd;padding:.25rem .6rem;text-align:left}
.checks{background:#f3f6f9;padding:.6rem 1rem;white-space:pre-wrap;font-family:ui-monospace,monospace}
.approve{background:#1a7f37;color:#fff}.reject{background:#cf222e;color:#fff}button{font-size:1rem;padding:.5rem 1.2rem;border:0;border-radius:4px}
textarea{width:100%;min-height:4rem}.refused{border-left:4px solid #cf222e;padding-left:1rem}.done{border-left:4px solid #1a7f37;padding-left:1rem}.muted{color:#57606a}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** A refusal or an error, with the reason in words. */
export function refusedPage(title: string, reason: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="refused" id="reason">${escapeHtml(reason)}</p><p class="muted">Nothing was decided.</p>`);
}

/** GET: the procedure's state and a confirm form; nothing is decided until the form is sent. */
export function decisionPage(claims: TokenClaims, status: ProcedureStatus, decision: 'approve' | 'reject', action: string): string {
  const request = status.approval?.request;
  const nodes = Object.entries(status.nodes)
    .map(([name, node]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(node.image ?? '')}</td><td>${escapeHtml(node.state)}</td></tr>`)
    .join('');
  const backup = status.backup ? `<p>Backup: ${escapeHtml(status.backup.method)} of ${escapeHtml(status.backup.database)}, ${escapeHtml(status.backup.sizeBytes)} bytes, at <code>${escapeHtml(status.backup.location)}</code>.</p>` : '<p>No backup taken yet.</p>';
  const approval = status.approval;
  const progress = approval?.needed && approval.needed > 1 ? `<p>Approvals: ${(approval.audit ?? []).filter((entry) => entry.decision === 'approve').length} of ${approval.needed}.</p>` : '';
  const awaiting = approval?.state === 'awaiting';
  const other = decision === 'approve' ? 'reject' : 'approve';
  const switchLink = claims.kinds.includes(other) ? `<p class="muted"><a id="switch" href="?d=${other}">${other === 'approve' ? 'Approve' : 'Reject'} instead</a></p>` : '';
  const form = awaiting
    ? `<form method="post" action="${escapeHtml(action)}" id="decide">
<input type="hidden" name="decision" value="${decision}">
<p><label for="note">${decision === 'approve' ? 'Comment' : 'Reason'} (kept in the record):</label><br><textarea id="note" name="note"></textarea></p>
<p><button type="submit" class="${decision}" id="confirm">${decision === 'approve' ? 'Approve' : 'Reject'} as ${escapeHtml(claims.sub)}</button></p>
</form>${switchLink}`
    : `<p class="refused" id="reason">Nothing awaits a decision on this run now (approval is ${escapeHtml(approval?.state ?? 'unknown')}).</p>`;
  const title = `${decision === 'approve' ? 'Approve' : 'Reject'}: ${request?.subject ?? status.procedure}`;
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>Cluster <b>${escapeHtml(status.cluster)}</b>, procedure <b>${escapeHtml(status.procedure)}</b>, at step <b id="step">${escapeHtml(status.step)}</b>${status.waitingFor ? `, waiting for ${escapeHtml(status.waitingFor)}` : ''}.</p>
${request ? `<h2>Checks</h2><div class="checks" id="checks">${escapeHtml(request.summary.join('\n'))}</div><p>Approve: ${escapeHtml(request.onApprove)}.<br>Reject: ${escapeHtml(request.onReject)}.</p>` : ''}
<h2>Nodes</h2><table id="nodes"><tr><th>node</th><th>image</th><th>state</th></tr>${nodes}</table>
${backup}${progress}
<p class="muted">This link decides as ${escapeHtml(claims.sub)}, once, until ${escapeHtml(new Date(claims.exp * 1000).toISOString())} (run ${escapeHtml(claims.rid)}).</p>
${form}`,
  );
}

export function decidedPage(decision: { decision: string; by: string; at: string }, status: ProcedureStatus | undefined): string {
  const approval = status?.approval;
  const more = approval?.state === 'awaiting' && approval.needed ? ` The procedure waits for ${approval.needed - (approval.audit ?? []).filter((entry) => entry.decision === 'approve').length} more approval(s).` : '';
  const verb = decision.decision === 'approve' ? 'Approved' : 'Rejected';
  return page(verb, `<h1>${verb}</h1><p class="done" id="recorded">Recorded: ${escapeHtml(decision.decision)} by ${escapeHtml(decision.by)} at ${escapeHtml(decision.at)}.${escapeHtml(more)}</p>`);
}
