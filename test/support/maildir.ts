import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReceivedMail {
  file: string;
  subject: string;
  to: string;
  body: string;
}

/** Messages the stack's SMTP server delivered into its Maildir, oldest first. */
export function receivedMail(maildir: string): ReceivedMail[] {
  let files: string[];
  try {
    files = readdirSync(join(maildir, 'new')).sort();
  } catch {
    return [];
  }
  return files.map((name) => {
    const raw = readFileSync(join(maildir, 'new', name), 'utf8');
    const split = raw.search(/\r?\n\r?\n/);
    const headers = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
    const header = (key: string) => new RegExp(`^${key}: (.*)$`, 'im').exec(headers)?.[1]?.trim() ?? '';
    const body = raw
      .slice(split)
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return { file: name, subject: header('Subject'), to: header('To'), body };
  });
}
