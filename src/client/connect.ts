import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { SERVICE, tracingFromEnv } from '../tracing/provider';
import { dataConverterFromEnv } from './data-converter';

/**
 * Where Temporal is and how to prove who we are, read exactly as the `temporal` CLI reads it
 * (`@temporalio/envconfig`): the profile file (TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml; profile TEMPORAL_PROFILE, else "default"), then the
 * environment on top — TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA, TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA,
 * TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*. An
 * engineer's CLI profile therefore works for the worker, the scripts, the schedules and the tests.
 */
export interface TemporalEndpoint {
  address: string;
  namespace: string;
  /** Undefined: plaintext (a local dev server). An API key alone turns TLS on, as in the CLI. */
  tls?: TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** A connection setting that cannot work: named, so the fix is obvious; thrown before any dial. */
export class TemporalConnectionConfigError extends Error {
  override name = 'TemporalConnectionConfigError';
}

const DEFAULT_ADDRESS = '127.0.0.1:7233';

/** Which setting a TLS source came from: the environment variable if set there, else the profile key. */
function settingName(env: NodeJS.ProcessEnv, envBase: string, tomlKey: string): string {
  for (const suffix of ['_PATH', '_DATA']) if (env[`${envBase}${suffix}`] !== undefined) return `${envBase}${suffix}`;
  const file = env.TEMPORAL_CONFIG_FILE ?? '~/.config/temporalio/temporal.toml';
  return `tls.${tomlKey} of profile "${env.TEMPORAL_PROFILE ?? 'default'}" in ${file}`;
}

function readSource(source: ConfigDataSource | undefined, setting: string): Buffer | undefined {
  if (!source) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  try {
    const data = readFileSync(source.path);
    if (data.length > 0) return data;
  } catch (error) {
    throw new TemporalConnectionConfigError(`${setting}: cannot read ${source.path}: ${(error as Error).message}`);
  }
  throw new TemporalConnectionConfigError(`${setting}: ${source.path} is empty`);
}

function parseCertificates(pem: Buffer, setting: string): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new TemporalConnectionConfigError(`${setting}: not a PEM certificate (${(error as Error).message})`);
  }
}

/** The TLS settings of a profile, each file read and parsed here, so a bad one is named at start. */
function tlsFrom(profile: ClientConfigProfile, env: NodeJS.ProcessEnv): TLSConfig | undefined {
  const tls = profile.tls;
  if (tls?.disabled === true) {
    if (profile.apiKey !== undefined) throw new TemporalConnectionConfigError('TEMPORAL_TLS=false with an API key: the key would travel in plaintext; remove one of them');
    return undefined;
  }
  if (!tls) return profile.apiKey !== undefined ? {} : undefined;
  const certSetting = settingName(env, 'TEMPORAL_TLS_CLIENT_CERT', 'client_cert_path');
  const keySetting = settingName(env, 'TEMPORAL_TLS_CLIENT_KEY', 'client_key_path');
  const caSetting = settingName(env, 'TEMPORAL_TLS_SERVER_CA_CERT', 'server_ca_cert_path');
  const crt = readSource(tls.clientCert, certSetting);
  const key = readSource(tls.clientKey, keySetting);
  const ca = readSource(tls.serverCACert, caSetting);
  if (crt && !key) throw new TemporalConnectionConfigError(`${certSetting} is set but no client key: set TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_key_path in the profile) too`);
  if (key && !crt) throw new TemporalConnectionConfigError(`${keySetting} is set but no client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH (or tls.client_cert_path in the profile) too`);
  if (ca) parseCertificates(ca, caSetting);
  if (crt && key) {
    parseCertificates(crt, certSetting);
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (error) {
      throw new TemporalConnectionConfigError(`${keySetting}: not a PEM private key (${(error as Error).message})`);
    }
    if (!new X509Certificate(crt).checkPrivateKey(privateKey)) {
      throw new TemporalConnectionConfigError(`${keySetting} does not belong to the certificate of ${certSetting}`);
    }
  }
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}

/** The endpoint from the CLI's profile file and environment; throws TemporalConnectionConfigError. */
export function temporalEndpoint(env: NodeJS.ProcessEnv = process.env): TemporalEndpoint {
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: env as Record<string, string> });
  } catch (error) {
    throw new TemporalConnectionConfigError(`the Temporal client profile cannot be read: ${(error as Error).message}`);
  }
  const tls = tlsFrom(profile, env);
  return {
    address: profile.address ?? DEFAULT_ADDRESS,
    namespace: profile.namespace ?? 'default',
    ...(tls ? { tls } : {}),
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {}),
  };
}

/** How the endpoint is reached, for start-up lines and errors; never the key or the API key. */
export function describeEndpoint(endpoint: TemporalEndpoint): string {
  const how = endpoint.apiKey !== undefined ? 'TLS + API key' : endpoint.tls?.clientCertPair ? 'mTLS' : endpoint.tls ? 'TLS' : 'plaintext';
  return `${endpoint.address} (namespace ${endpoint.namespace}, ${how})`;
}

/** The connection options both the client's Connection and the worker's NativeConnection take. */
export function connectionOptions(endpoint: TemporalEndpoint): { address: string; tls?: TLSConfig; apiKey?: string; metadata?: Record<string, string> } {
  return {
    address: endpoint.address,
    ...(endpoint.tls ? { tls: endpoint.tls } : {}),
    ...(endpoint.apiKey !== undefined ? { apiKey: endpoint.apiKey } : {}),
    ...(endpoint.metadata ? { metadata: endpoint.metadata } : {}),
  };
}

/** Wraps a dial failure so it says where and how we tried, not just what gRPC answered. */
export function connectionFailure(endpoint: TemporalEndpoint, error: unknown): Error {
  const cause = error instanceof Error ? error.message : String(error);
  const hint = endpoint.tls
    ? 'check TEMPORAL_TLS_* (client certificate accepted by the server, server CA, server name)'
    : 'the server may require TLS: set TEMPORAL_TLS_* or TEMPORAL_API_KEY (or a profile)';
  return new Error(`cannot connect to Temporal at ${describeEndpoint(endpoint)}: ${cause}; ${hint}`, { cause: error });
}

/**
 * One way to connect for the worker, scripts and tests; the caller closes the connection. With
 * OTEL_EXPORTER_OTLP_ENDPOINT set, every call is traced (`StartWorkflow:<type>`,
 * `SignalWorkflow:<name>`, `StartWorkflowUpdate:<name>`, …) and carries its trace context to the
 * workflow; a script then calls shutdownTracing() before it exits, so its spans are sent.
 */
export async function connectClient(endpoint: TemporalEndpoint = temporalEndpoint()): Promise<Client> {
  let connection: Connection;
  try {
    // A server that never finishes the handshake fails here, not in the first call.
    connection = await Connection.connect({ ...connectionOptions(endpoint), connectTimeout: '10s' });
  } catch (error) {
    throw connectionFailure(endpoint, error);
  }
  const dataConverter = dataConverterFromEnv();
  const traced = tracingFromEnv(SERVICE.client) !== undefined;
  return new Client({
    connection,
    namespace: endpoint.namespace,
    ...(dataConverter ? { dataConverter } : {}),
    ...(traced ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}
