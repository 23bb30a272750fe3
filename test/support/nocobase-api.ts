import { Client } from 'pg';

/**
 * Business data in real NocoBase, made through NocoBase's own REST API as a user would make it:
 * sign in as the root user the install created (INIT_ROOT_EMAIL / INIT_ROOT_PASSWORD), define a
 * collection, create records. Nothing here writes to the database directly.
 */
export interface NocobaseLogin {
  email: string;
  password: string;
}

export interface BusinessData {
  collection: string;
  records: number;
}

async function call<T>(baseUrl: string, action: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/${action}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      // The basic (email and password) authenticator the install sets up.
      'X-Authenticator': 'basic',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`NocoBase ${action} answered ${response.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { data: T }).data;
}

/** `POST /api/auth:signIn`: the bearer token of the given user. */
export async function signIn(baseUrl: string, login: NocobaseLogin): Promise<string> {
  const { token } = await call<{ token: string }>(baseUrl, 'auth:signIn', { account: login.email, password: login.password });
  return token;
}

/**
 * Creates collection `orders` (customer, amount, placed on) and `records` orders through
 * `collections:create` and `orders:create`. Not idempotent: run it once on a fresh first start.
 * Give it ONE node's URL, not the load balancer's: without NocoBase's commercial sync adapter a
 * collection created on one node stays unknown to the others (404) until they restart.
 */
export async function createBusinessData(baseUrl: string, login: NocobaseLogin, records = 20, collection = 'orders'): Promise<BusinessData> {
  const token = await signIn(baseUrl, login);
  await call(baseUrl, 'collections:create', {
    name: collection,
    title: 'Orders',
    fields: [
      { name: 'customer', type: 'string', interface: 'input', uiSchema: { title: 'Customer', type: 'string', 'x-component': 'Input' } },
      { name: 'amount', type: 'double', interface: 'number', uiSchema: { title: 'Amount', type: 'number', 'x-component': 'InputNumber' } },
      { name: 'placedOn', type: 'dateOnly', interface: 'date', uiSchema: { title: 'Placed on', type: 'string', 'x-component': 'DatePicker' } },
    ],
  }, token);
  for (let i = 1; i <= records; i++) {
    const day = String(1 + (i % 28)).padStart(2, '0');
    await call(baseUrl, `${collection}:create`, { customer: `Customer ${i}`, amount: i * 12.5, placedOn: `2026-11-${day}` }, token);
  }
  return { collection, records };
}

/** Every record of `collection` through `<collection>:list`, ordered by id. */
export async function listRecords(baseUrl: string, login: NocobaseLogin, collection = 'orders'): Promise<Record<string, unknown>[]> {
  const token = await signIn(baseUrl, login);
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/${collection}:list?pageSize=1000&sort=id`, {
    headers: { Authorization: `Bearer ${token}`, 'X-Authenticator': 'basic' },
  });
  if (!response.ok) throw new Error(`NocoBase ${collection}:list answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  return ((await response.json()) as { data: Record<string, unknown>[] }).data;
}

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
