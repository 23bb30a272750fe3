import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './config-error';
import { resolveDockerHostCredentials } from './docker-hosts';
import { configSchema, type DatabaseConfig, type MaintenanceConfig } from './schema';

export const CONFIG_ENV = 'NOCOBASE_MAINTENANCE_CONFIG';

/** Reads and validates the cluster definitions; throws ConfigError listing every problem found. */
export function loadConfig(path: string | undefined = process.env[CONFIG_ENV]): MaintenanceConfig {
  if (!path) {
    throw new ConfigError(`${CONFIG_ENV} is not set: point it at the cluster definitions YAML file`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, source: string): MaintenanceConfig {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => `${source}: ${error.message.split('\n')[0]}`);
    throw new ConfigError(`invalid YAML\n  ${problems.join('\n  ')}`, problems);
  }
  const result = configSchema.safeParse(document.toJS());
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${source}: ${keyPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(`invalid cluster configuration\n  ${problems.join('\n  ')}`, problems);
  }
  return result.data;
}

function keyPath(path: z.core.$ZodIssue['path']): string {
  if (path.length === 0) return '(top level)';
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/**
 * Resolves a database password from the worker's environment or a file. Only activities and the
 * worker call this: passwords never travel through workflow input or history.
 */
export function resolveDatabasePassword(db: DatabaseConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (db.passwordEnv !== undefined) {
    const value = env[db.passwordEnv];
    if (value === undefined || value === '') {
      throw new ConfigError(`database password: environment variable ${db.passwordEnv} is not set on the worker`);
    }
    return value;
  }
  try {
    return readFileSync(db.passwordFile ?? '', 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`database password: cannot read ${db.passwordFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** Checks at worker start that every cluster's secrets and Docker host key files can be read, naming the key that cannot. */
export function assertSecretsResolvable(config: MaintenanceConfig, env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  for (const [name, cluster] of Object.entries(config.clusters)) {
    try {
      resolveDatabasePassword(cluster.database, env);
    } catch (error) {
      problems.push(`clusters.${name}.${(error as Error).message}`);
    }
  }
  for (const [host, settings] of Object.entries(config.dockerHosts ?? {})) {
    try {
      resolveDockerHostCredentials(host, settings, env);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  for (const key of ['userEnv', 'passwordEnv'] as const) {
    const variable = config.smtp?.[key];
    if (variable !== undefined && !env[variable]) problems.push(`smtp.${key}: environment variable ${variable} is not set on the worker`);
  }
  if (problems.length > 0) throw new ConfigError(`missing secrets\n  ${problems.join('\n  ')}`, problems);
}
