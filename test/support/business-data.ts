import { Client } from 'pg';

export interface DataFingerprint {
  version: string | null;
  /** md5 over every business row and every plugin row, in a fixed order. */
  checksum: string;
  orders: number;
  /** Column names of demo_orders: a migration changes them. */
  columns: string[];
}

/** What the stand-in's business data and NocoBase's own tables look like now. */
export async function fingerprint(databaseUrl: string): Promise<DataFingerprint> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const version = await db.query<{ value: string }>('SELECT value FROM "applicationVersion"');
    const sum = await db.query<{ orders: string; plugins: string; count: string }>(`
      SELECT (SELECT md5(string_agg(o::text, '|' ORDER BY o.id)) FROM demo_orders o) AS orders,
             (SELECT md5(string_agg(p::text, '|' ORDER BY p.name)) FROM "applicationPlugins" p) AS plugins,
             (SELECT count(*) FROM demo_orders) AS count`);
    const columns = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'demo_orders' ORDER BY ordinal_position`,
    );
    const row = sum.rows[0];
    return {
      version: version.rows[0]?.value ?? null,
      checksum: `${row?.orders}:${row?.plugins}`,
      orders: Number(row?.count ?? 0),
      columns: columns.rows.map((column) => column.column_name),
    };
  } finally {
    await db.end();
  }
}

/** A plugin's row in applicationPlugins (NocoBase's default naming), or undefined. */
export async function pluginState(databaseUrl: string, name: string): Promise<{ enabled: boolean; installed: boolean } | undefined> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query<{ enabled: boolean; installed: boolean }>('SELECT enabled, installed FROM "applicationPlugins" WHERE name = $1', [name])).rows[0];
  } finally {
    await db.end();
  }
}
