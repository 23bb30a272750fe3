import { log, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { ClusterPlan, CompensationOutcome } from '../common/procedure-types';
import { CLUSTER_ATTRIBUTE, PROCEDURE_ATTRIBUTE, STEP_ATTRIBUTE } from '../common/search-attributes';
import type { ProcedureName } from '../procedures';
import { ProcedureMetrics } from './procedure-metrics';
import { statusQuery, type NodeState, type ProcedureStatus } from './messages';
import { describeFailure, failureType } from './saga';

/**
 * Keeps the `status` query's answer, the UI's current details and the search attributes in step
 * with the procedure, so what an operator sees is always the same story.
 */
export class ProcedureTracker {
  readonly status: ProcedureStatus;
  /** The run's Prometheus metrics (replay-safe; see procedure-metrics.ts). */
  readonly metrics: ProcedureMetrics;
  /** A load-balancer watch being let go of (see whileHolding); settled before the next change. */
  private watchLetGo: Promise<void> = Promise.resolve();

  constructor(procedure: ProcedureName, cluster: string) {
    this.status = { procedure, cluster, step: 'starting', outcome: 'running', nodes: {}, steps: [] };
    this.metrics = new ProcedureMetrics(procedure, cluster);
    this.metrics.started();
    // A log line is not a command and is not written while a task replays (as the metrics).
    log.info('procedure started');
    setHandler(statusQuery, () => this.status);
    upsertSearchAttributes([
      { key: CLUSTER_ATTRIBUTE, value: cluster },
      { key: PROCEDURE_ATTRIBUTE, value: procedure },
    ]);
  }

  /** Runs one named step, recording when it started and ended. */
  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    this.status.step = name;
    const entry: ProcedureStatus['steps'][number] = { step: name, startedAt: now() };
    this.status.steps.push(entry);
    upsertSearchAttributes([{ key: STEP_ATTRIBUTE, value: name }]);
    setCurrentDetails(`**${this.status.procedure}** on \`${this.status.cluster}\`: ${name}`);
    this.metrics.step(name);
    log.info('step started', { step: name });
    try {
      const result = await run();
      if (name === 'preflight') this.metrics.preflight(true);
      return result;
    } catch (error) {
      if (name === 'preflight') this.metrics.preflight(false);
      throw error;
    } finally {
      entry.endedAt = now();
    }
  }

  node(name: string, state: NodeState, details: { container?: string; image?: string } = {}): void {
    const current = this.status.nodes[name] ?? { container: details.container ?? name, state };
    this.status.nodes[name] = { ...current, ...details, state };
  }

  /** The node table as the pre-flight found it: running nodes serve, the others are stopped. */
  seedNodes(plan: ClusterPlan): void {
    for (const node of plan.nodes) this.node(node.name, node.running ? 'ready' : 'stopped', { container: node.container, image: node.image });
  }

  /** Records a load-balancer watch that was told to stop and has yet to say it did. */
  lettingGoOfWatch(stopped: Promise<void>): void {
    const before = this.watchLetGo;
    this.watchLetGo = Promise.all([before, stopped]).then(() => undefined);
  }

  /**
   * Resolves once no load-balancer watch can put anything back any more: awaited before every
   * change of the load balancer after a watch, and before the procedure ends. Never clears itself,
   * so parallel branches all wait.
   */
  watchesStopped(): Promise<void> {
    return this.watchLetGo;
  }

  waitingFor(what: string | undefined): void {
    if (what === undefined) delete this.status.waitingFor;
    else this.status.waitingFor = what;
  }

  succeeded(): void {
    this.status.outcome = 'succeeded';
    this.waitingFor(undefined);
    setCurrentDetails(`**${this.status.procedure}** on \`${this.status.cluster}\`: succeeded`);
  }

  failing(error: unknown): void {
    this.metrics.failing();
    this.status.outcome = 'compensating';
    this.status.error = { type: failureType(error), message: describeFailure(error) };
    this.waitingFor(undefined);
    setCurrentDetails(`**${this.status.procedure}** on \`${this.status.cluster}\`: failed at ${this.status.step}, undoing`);
  }

  failed(compensations: CompensationOutcome[]): void {
    this.status.outcome = 'failed';
    this.status.compensations = compensations;
    setCurrentDetails(`**${this.status.procedure}** on \`${this.status.cluster}\`: failed at ${this.status.step}`);
  }
}

/** Workflow time (deterministic: the SDK replays the recorded clock). */
function now(): string {
  return new Date(Date.now()).toISOString();
}
