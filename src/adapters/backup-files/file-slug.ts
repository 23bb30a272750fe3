import { createHash } from 'node:crypto';

/**
 * A label as a file- or container-name part: safe characters kept, a hash appended when anything
 * was replaced, so two labels never share a name and a retry finds the same one.
 */
export function fileSlug(label: string): string {
  const slug = label.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return slug === label ? slug : `${slug}_${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
}
