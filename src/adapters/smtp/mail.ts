import type { Transporter } from 'nodemailer';

export interface Mail {
  from: string;
  to: string[];
  subject: string;
  /** The report as plain text; the HTML part shows the same text. */
  text: string;
  /** A link appended to both parts (the workflow in the Temporal UI). */
  link?: string;
}

/**
 * Sends a report as text and HTML alternatives; the message ID the server gave, when it gave one.
 * Errors are the transport's own: SMTP answers are retried by the activity's policy.
 */
export async function sendReport(mailer: Transporter, mail: Mail): Promise<string | undefined> {
  const info = (await mailer.sendMail({
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.link ? `${mail.text}\n\nTemporal UI: ${mail.link}\n` : mail.text,
    html: htmlPart(mail.text, mail.link),
  })) as { messageId?: string };
  return info.messageId;
}

/**
 * The HTML alternative: the same report, kept preformatted so commands can be copied as they are,
 * and the UI link clickable.
 */
function htmlPart(text: string, link: string | undefined): string {
  const escape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const open = link ? `<p><a href="${escape(link)}">Open this procedure in the Temporal UI</a></p>` : '';
  return `<!doctype html><html><body><pre style="font-family: ui-monospace, monospace; white-space: pre-wrap">${escape(text)}</pre>${open}</body></html>`;
}
