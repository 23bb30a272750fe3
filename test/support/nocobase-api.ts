import { Client } from 'pg';

export { createBusinessData, listRecords, signIn, type BusinessData, type NocobaseLogin } from '../../scripts/stack/nocobase/business-data';

/**
 * Columns NocoBase rewrites on every start of every node, whatever happened: the AI plugin
 * re-syncs its built-in skills and touches each row's `updatedAt` (measured: two plain restarts
 * of a 2.2.14 node, nothing else changed). A rollback cannot keep them, so checksums leave them out.
 */
export const REWRITTEN_ON_START: Readonly<Record<string, readonly string[]>> = { aiSkills: ['updatedAt'] };

/**
 * An md5 per table of the public schema, over its rows in a fixed order: equal maps mean every
 * table holds the same rows, apart from `ignore`d columns.
 */
export async function tableChecksums(databaseUrl: string, ignore: Readonly<Record<string, readonly string[]>> = REWRITTEN_ON_START): Promise<Record<string, string>> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    );
    const sums: Record<string, string> = {};
    for (const { name } of tables.rows) {
      const table = db.escapeIdentifier(name);
      const row = ignore[name] ? `(to_jsonb(t) ${ignore[name].map((column) => `- ${db.escapeLiteral(column)}`).join(' ')})::text` : 't::text';
      const { rows } = await db.query<{ sum: string | null }>(`SELECT md5(coalesce(string_agg(${row}, '|' ORDER BY ${row}), '')) AS sum FROM ${table} t`);
      sums[name] = rows[0]?.sum ?? '';
    }
    return sums;
  } finally {
    await db.end();
  }
}

/** The version NocoBase recorded in its `applicationVersion` table. */
export async function recordedVersion(databaseUrl: string): Promise<string | undefined> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query<{ value: string }>('SELECT value FROM "applicationVersion"')).rows[0]?.value;
  } finally {
    await db.end();
  }
}

/** The rows of NocoBase's `applicationPlugins` table, by name. */
export async function applicationPlugins(databaseUrl: string): Promise<Map<string, { enabled: boolean; installed: boolean }>> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string; enabled: boolean; installed: boolean }>('SELECT name, enabled, installed FROM "applicationPlugins"');
    return new Map(rows.map((row) => [row.name, { enabled: row.enabled, installed: row.installed }]));
  } finally {
    await db.end();
  }
}
