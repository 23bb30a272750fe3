import type { Pool } from 'pg';
import type { PluginSummary } from '../../common/procedure-types';
import { sqlState } from '../postgres/errors';
import { tableNaming, type TableNaming } from './table-naming';

/**
 * How NocoBase records its state: `applicationVersion(value)` and `applicationPlugins(...)`, named
 * per the deployment's DB_TABLE_PREFIX / DB_UNDERSCORED / DB_SCHEMA (see nocobase-naming.ts).
 * Reading them from the database (not from the node) tells what the *cluster* believes, which is
 * what decides whether another node may start.
 */

const DEFAULT_TABLES = tableNaming();

const UNDEFINED_TABLE = '42P01';

export interface ApplicationState {
  /** null while the application is not installed yet. */
  version: string | null;
  plugins: PluginSummary | null;
}

/** `naming` defaults to NocoBase's defaults (no prefix, camelCase, schema public). */
export async function readApplicationState(pool: Pool, naming: TableNaming = DEFAULT_TABLES): Promise<ApplicationState> {
  const { versionTable, pluginsTable, column: c } = naming;
  try {
    const version = await pool.query<{ value: string }>(`SELECT ${c.value} AS value FROM ${versionTable} LIMIT 1`);
    const plugins = await pool.query<Record<keyof PluginSummary, string>>(`
      SELECT count(*) AS total,
             count(*) FILTER (WHERE ${c.builtIn}) AS "builtIn",
             count(*) FILTER (WHERE ${c.builtIn} AND ${c.enabled} AND ${c.installed}) AS "builtInReady",
             count(*) FILTER (WHERE ${c.enabled}) AS enabled,
             count(*) FILTER (WHERE ${c.enabled} AND NOT ${c.installed}) AS "enabledNotInstalled"
        FROM ${pluginsTable}`);
    const row = plugins.rows[0];
    return {
      version: version.rows[0]?.value ?? null,
      plugins: row
        ? {
            total: Number(row.total),
            builtIn: Number(row.builtIn),
            builtInReady: Number(row.builtInReady),
            enabled: Number(row.enabled),
            enabledNotInstalled: Number(row.enabledNotInstalled),
          }
        : null,
    };
  } catch (error) {
    // Tables appear only at the end of an install: until then there is nothing installed. (An
    // unknown DB_SCHEMA reports the same 42P01, and means the same thing.)
    if (sqlState(error) === UNDEFINED_TABLE) return { version: null, plugins: null };
    throw error;
  }
}

/**
 * Plugins are ready when every built-in plugin is installed and enabled and nothing is enabled
 * without being installed. Optional plugins that are simply disabled are not waited for — a real
 * NocoBase lists many of those.
 */
export function pluginsReady(plugins: PluginSummary | null): boolean {
  return plugins !== null && plugins.builtIn > 0 && plugins.builtInReady === plugins.builtIn && plugins.enabledNotInstalled === 0;
}
