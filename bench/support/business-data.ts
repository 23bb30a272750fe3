/**
 * Business data of a chosen size in the stand-in cluster's database, as the cluster's own role
 * writes it: four tables (NocoBase keeps collections in tables of their own, which is what lets a
 * parallel restore work side by side), each with a primary key and a secondary index, rows of
 * about 300 bytes with text that compresses about as well as hex does (~2:1).
 */
import { Client } from 'pg';

const TABLES = 4;
/** Heap row + its two index entries, measured on PostgreSQL 15 for the rows below. */
const BYTES_PER_ROW = 300;
const CHUNK_ROWS = 100_000;

export interface BusinessData {
  rows: number;
  /** pg_total_relation_size of the tables (heap, TOAST, indexes). */
  bytes: number;
  /** pg_database_size afterwards. */
  databaseBytes: number;
  generatedMs: number;
}

export async function addBusinessData(databaseUrl: string, targetBytes: number): Promise<BusinessData> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const started = Date.now();
  try {
    const perTable = Math.ceil(targetBytes / BYTES_PER_ROW / TABLES);
    for (let table = 1; table <= TABLES; table++) {
      const name = `bench_records_${table}`;
      await client.query(`DROP TABLE IF EXISTS ${name}`);
      await client.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, customer integer NOT NULL, created_at timestamptz NOT NULL, note text NOT NULL)`);
      for (let from = 1; from <= perTable; from += CHUNK_ROWS) {
        const to = Math.min(perTable, from + CHUNK_ROWS - 1);
        await client.query(
          `INSERT INTO ${name}
           SELECT g, (g * 7919) % 100003, timestamptz '2024-01-01' + g * interval '1 second',
                  md5(g || 'a') || md5(g || 'b') || md5(g || 'c') || md5(g || 'd') || md5(g || 'e') || md5(g || 'f')
             FROM generate_series($1::bigint, $2::bigint) g`,
          [from, to],
        );
      }
      await client.query(`CREATE INDEX ${name}_customer ON ${name} (customer, created_at)`);
    }
    await client.query('ANALYZE');
    const { rows } = await client.query<{ bytes: string; database: string }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS bytes, pg_database_size(current_database()) AS database
         FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'bench\\_records\\_%'`,
    );
    return { rows: perTable * TABLES, bytes: Number(rows[0]?.bytes ?? 0), databaseBytes: Number(rows[0]?.database ?? 0), generatedMs: Date.now() - started };
  } finally {
    await client.end();
  }
}
