/**
 * Where NocoBase keeps its own tables. A deployment chooses the names with three variables that
 * every node reads at boot: `DB_TABLE_PREFIX` (prepended to every table), `DB_UNDERSCORED=true`
 * (snake_case tables and columns: `application_version`, `built_in`) and `DB_SCHEMA` (default
 * `public`). Reading "applicationVersion" on a deployment that set any of them finds nothing and
 * looks exactly like "not installed yet", so the names must come from the nodes' own settings.
 */

export interface NamingOptions {
  prefix: string;
  underscored: boolean;
  schema: string;
}

/** Quoted identifiers, ready to paste into SQL. */
export interface TableNaming {
  /** `"schema"."<prefix>applicationVersion"` */
  readonly versionTable: string;
  /** `"schema"."<prefix>applicationPlugins"` */
  readonly pluginsTable: string;
  readonly column: {
    readonly value: string;
    readonly name: string;
    readonly packageName: string;
    readonly builtIn: string;
    readonly enabled: string;
    readonly installed: string;
  };
}

/** What NocoBase uses when none of the variables is set. */
export const DEFAULT_NAMING: Readonly<NamingOptions> = Object.freeze({ prefix: '', underscored: false, schema: 'public' });

const NAMING_KEYS = ['DB_TABLE_PREFIX', 'DB_UNDERSCORED', 'DB_SCHEMA'] as const;
type NamingKey = (typeof NAMING_KEYS)[number];

/**
 * A PostgreSQL quoted identifier. Doubling `"` is the whole of PostgreSQL's escaping inside double
 * quotes; a NUL cannot be sent at all, so it is refused rather than silently cut.
 */
export function quoteIdentifier(name: string): string {
  if (name.includes('\0')) throw new TypeError('an SQL identifier cannot contain a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** NocoBase's snake_case for its own camelCase collection and field names (`builtIn` → `built_in`). */
function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function tableNaming(options: Partial<NamingOptions> = {}): TableNaming {
  const { prefix, underscored, schema } = { ...DEFAULT_NAMING, ...options };
  const ident = (camel: string) => (underscored ? snakeCase(camel) : camel);
  const table = (camel: string) => `${quoteIdentifier(schema || DEFAULT_NAMING.schema)}.${quoteIdentifier(`${prefix}${ident(camel)}`)}`;
  const column = (camel: string) => quoteIdentifier(ident(camel));
  return {
    versionTable: table('applicationVersion'),
    pluginsTable: table('applicationPlugins'),
    column: {
      value: column('value'),
      name: column('name'),
      packageName: column('packageName'),
      builtIn: column('builtIn'),
      enabled: column('enabled'),
      installed: column('installed'),
    },
  };
}

/**
 * The naming a node uses, from its container's `Config.Env` (`KEY=value` strings). Only the three
 * naming variables are looked at and nothing else is kept: the same list holds DB_PASSWORD and
 * APP_KEY. Parsed as NocoBase's server does (`DB_UNDERSCORED === 'true'`, empty means unset); a
 * later duplicate wins, as it does for the process Docker starts.
 */
export function namingFromEnv(env: readonly string[] | null | undefined): NamingOptions {
  const found: Partial<Record<NamingKey, string>> = {};
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    if ((NAMING_KEYS as readonly string[]).includes(key)) found[key as NamingKey] = entry.slice(eq + 1);
  }
  return {
    prefix: found.DB_TABLE_PREFIX ?? DEFAULT_NAMING.prefix,
    underscored: found.DB_UNDERSCORED === 'true',
    schema: found.DB_SCHEMA || DEFAULT_NAMING.schema,
  };
}
