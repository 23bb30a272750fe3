import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { NodeConfig } from '../../config/schema';
import { getCluster, nodeEnvironment } from './lookup';
import type { ActivityDeps } from '../deps';
import { nodesOf } from '../nodes/factory';

/**
 * What makes a set of NocoBase nodes one cluster: the same image, and the same settings for
 * everything they share — the database (DB_*, which also fixes table naming), the keys that sign
 * tokens and encrypt fields (APP_KEY, APP_AES_SECRET_KEY) and the Redis-backed cache, pub/sub,
 * lock and queue adapters. A node that differs silently splits the cluster: users logged out at
 * random, caches that never invalidate, two nodes each believing they hold a lock.
 */

/** NocoBase cluster mode allocates at most 32 worker IDs. */
export const MAX_CLUSTER_NODES = 32;

/** Always reported as checked, also when no node sets them (then all agree on "unset"). */
const SHARED_NAMES = [
  'APP_KEY',
  'APP_AES_SECRET_KEY',
  'CACHE_DEFAULT_STORE',
  'CACHE_REDIS_URL',
  'PUBSUB_ADAPTER_REDIS_URL',
  'LOCK_ADAPTER_REDIS_URL',
  'QUEUE_ADAPTER_REDIS_URL',
] as const;
const SHARED_PREFIXES = ['DB_', 'CACHE_', 'PUBSUB_', 'LOCK_', 'QUEUE_'] as const;

export function mustBeShared(name: string): boolean {
  return (SHARED_NAMES as readonly string[]).includes(name) || SHARED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

export interface NodeEnvironment {
  name: string;
  /** `Config.Image`: the reference the container was created from. */
  image: string;
  /** `Config.Env`: `KEY=value` strings. */
  env: readonly string[];
}

export interface EnvDifference {
  node: string;
  /** The node it was compared with: one of the largest group of nodes that agree. */
  reference: string;
  /** Variable names only. */
  variables: string[];
}

export interface InvariantReport {
  /** Sorted names of the variables compared. */
  checked: string[];
  /** One sentence per problem, naming nodes and variables, never a value. */
  problems: string[];
  differences: EnvDifference[];
}

/**
 * The shared variables of one node as name → digest. Values are hashed as soon as they are read
 * so that no secret survives into anything that might be logged or returned; the digests are
 * compared, never printed. Unset differs from empty. A later duplicate wins, as in Docker.
 */
function sharedFingerprints(env: readonly string[]): Map<string, string> {
  const digests = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (mustBeShared(name)) digests.set(name, createHash('sha256').update(entry.slice(eq + 1)).digest('hex'));
  }
  return digests;
}

/**
 * Groups items by key and returns the first member of the largest group (the earliest such group
 * on a tie): the odd node out is then reported as differing, not the majority.
 */
function referenceIndex(keys: string[]): number {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  let best = 0;
  keys.forEach((key, index) => {
    if ((counts.get(key) ?? 0) > (counts.get(keys[best] ?? '') ?? 0)) best = index;
  });
  return best;
}

/** Pure: compares what the nodes' containers say. No values leave this function. */
export function compareNodeEnvs(nodes: readonly NodeEnvironment[]): InvariantReport {
  const problems: string[] = [];
  if (nodes.length > MAX_CLUSTER_NODES) {
    problems.push(`the cluster has ${nodes.length} nodes; NocoBase cluster mode allows at most ${MAX_CLUSTER_NODES}`);
  }

  const prints = nodes.map((node) => sharedFingerprints(node.env));
  const checked = [...new Set([...SHARED_NAMES, ...prints.flatMap((print) => [...print.keys()])])].sort();
  const keyOf = (print: Map<string, string>) => JSON.stringify(checked.map((name) => print.get(name) ?? null));
  const envKeys = prints.map(keyOf);
  const envRef = referenceIndex(envKeys);
  const differences: EnvDifference[] = [];
  nodes.forEach((node, index) => {
    if (envKeys[index] === envKeys[envRef]) return;
    const variables = checked.filter((name) => prints[index]?.get(name) !== prints[envRef]?.get(name));
    differences.push({ node: node.name, reference: nodes[envRef]?.name ?? '', variables });
  });
  for (const difference of differences) {
    problems.push(`${difference.node} differs from ${difference.reference} in ${difference.variables.join(', ')}`);
  }

  const imageRef = referenceIndex(nodes.map((node) => node.image));
  const reference = nodes[imageRef];
  for (const node of nodes) {
    if (reference && node.image !== reference.image) {
      problems.push(`${node.name} runs image ${node.image} while ${reference.name} runs ${reference.image}`);
    }
  }
  return { checked, problems, differences };
}

export function createInvariantActivities(deps: ActivityDeps) {
  async function environmentOf(cluster: string, node: NodeConfig): Promise<NodeEnvironment> {
    return { name: node.name, ...(await nodeEnvironment(deps, cluster, node)) };
  }

  return {
    /**
     * Pre-flight: refuses (ClusterInvariantViolated, non-retryable) a cluster whose nodes differ
     * in shared settings or image, that has more nodes than cluster mode allows, or that runs
     * more than its configuration lists (a Deployment scaled beyond its listed replicas). Only inspects
     * containers; read-only and safe to retry. Neither the result nor the failure carries a value.
     */
    async checkClusterInvariants(input: { cluster: string }): Promise<{ nodes: number; checked: string[] }> {
      const cluster = getCluster(deps, input.cluster);
      const report = compareNodeEnvs(await Promise.all(cluster.nodes.map((node) => environmentOf(input.cluster, node))));
      report.problems.push(...(await nodesOf(deps, input.cluster).platformProblems(cluster.nodes)));
      if (report.problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `cluster "${input.cluster}" is not one NocoBase cluster: ${report.problems.join('; ')}`,
          FailureType.ClusterInvariantViolated,
          { problems: report.problems, differences: report.differences },
        );
      }
      return { nodes: cluster.nodes.length, checked: report.checked };
    },
  };
}
