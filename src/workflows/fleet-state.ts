import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { CancellationScope, condition, isCancellation, ParentClosePolicy, setHandler, sleep, startChild, workflowInfo } from '@temporalio/workflow';
import { procedureWorkflowId } from '../common/task-queue';
import { budgetSpent, upgradeInput, type CheckedFleetInput } from '../procedures/fleet-upgrade';
import { quick } from './activity-options';
import { Approval } from './approval';
import { abortUpdate, fleetStatusQuery, pauseUpdate, resumeUpdate, skipUpdate, type FleetClusterStatus, type FleetControl, type FleetControlRecord, type FleetStatus } from './messages';
import { notify } from './notify';
import { describeFailure, failureType } from './saga';
import type { versionUpgrade } from './version-upgrade';

/**
 * A fleet upgrade's state and its handlers (status, pause, resume, skip, abort, the between-wave
 * approval), in one class so the workflow function reads as its plan. Everything here is rebuilt
 * from history on a worker restart: no state lives outside the workflow.
 */
export class Fleet {
  readonly status: FleetStatus;
  private approvers: string[] = [];
  private paused = false;
  private aborted: FleetControlRecord | undefined;
  private running = 0;
  private readonly scopes = new Map<string, CancellationScope>();

  constructor(private readonly input: CheckedFleetInput) {
    this.status = { fleet: input.name, image: input.image, state: 'planning', wave: 0, waves: [], clusters: {}, awaitingDecision: [], failureBudget: input.failureBudget, decisions: [], controls: [] };
    setHandler(fleetStatusQuery, () => this.status);
    // Registered now, so an approval sent before any is asked is recorded as ignored, not lost.
    new Approval([]);
    setHandler(pauseUpdate, (control) => this.control('pause', control, () => (this.paused = true)), { validator: (control) => this.validate(control, 'pause') });
    setHandler(resumeUpdate, (control) => this.control('resume', control, () => (this.paused = false)), { validator: (control) => this.validate(control, 'resume') });
    setHandler(skipUpdate, (control) => this.control('skip', control, () => this.skip(control.cluster, control)), { validator: (control) => this.validate(control, 'skip') });
    setHandler(abortUpdate, (control) => this.control('abort', control, () => this.abort(control)), { validator: (control) => this.validate(control, 'abort') });
  }

  plan(waves: string[][], approvers: string[]): void {
    this.approvers = approvers;
    this.status.waves = waves;
    waves.forEach((wave, index) => {
      for (const cluster of wave) this.status.clusters[cluster] = { wave: index, image: this.imageOf(cluster), state: 'pending', workflowId: procedureWorkflowId(cluster) };
    });
  }

  imageOf(cluster: string): string {
    return this.input.images[cluster] ?? this.input.image;
  }

  /** The waves in order; each waits for resume, then (after the first) for the approval. */
  async run(): Promise<void> {
    this.status.state = 'running';
    const watch = new CancellationScope();
    const watching = watch.run(() => this.watch()).catch((error: unknown) => {
      if (!isCancellation(error)) throw error;
    });
    try {
      for (const [index, wave] of this.status.waves.entries()) {
        await this.unpaused();
        if (this.stopReason()) break;
        this.status.wave = index;
        // A wave whose every cluster was skipped asks no one.
        if (wave.every((cluster) => this.entry(cluster).state !== 'pending')) continue;
        if (index > 0 && this.input.approveBetweenWaves && !(await this.gate(index, wave))) break;
        await this.runWave(wave);
      }
    } finally {
      watch.cancel();
      await watching;
    }
    const reason = this.stopReason();
    for (const entry of Object.values(this.status.clusters)) {
      if (entry.state === 'pending') Object.assign(entry, { state: 'not-started', reason: reason ?? 'the fleet ended first' });
    }
    this.status.awaitingDecision = [];
    const rejected = (this.status.state as FleetStatus['state']) === 'rejected';
    this.status.state = this.aborted ? 'aborted' : rejected ? 'rejected' : reason ? 'stopped' : 'completed';
    if (reason) this.status.reason = reason;
  }

  /** Starts the wave's upgrades in order, at most maxParallel at once, none while paused; waits for them all. */
  private async runWave(wave: string[]): Promise<void> {
    const upgrades: Promise<void>[] = [];
    for (const cluster of wave) {
      const entry = this.entry(cluster);
      // One at a time: a condition per cluster would let several through before `running` counts them.
      await condition(() => this.stopReason() !== undefined || entry.state === 'skipped' || (!this.paused && this.running < this.input.maxParallel));
      if (this.stopReason()) break;
      if (entry.state === 'skipped') continue;
      this.running++;
      upgrades.push(this.upgrade(cluster, entry).finally(() => this.running--));
    }
    await Promise.all(upgrades);
  }

  /** One cluster's versionUpgrade as a child under its own procedure ID; its ending is recorded, never thrown. */
  private async upgrade(cluster: string, entry: FleetClusterStatus): Promise<void> {
    Object.assign(entry, { state: 'running', startedAt: now() });
    const scope = new CancellationScope();
    this.scopes.set(cluster, scope);
    try {
      const result = await scope.run(async () => {
        const child = await startChild<typeof versionUpgrade>('versionUpgrade', {
          workflowId: entry.workflowId,
          args: [upgradeInput(cluster, entry.image, this.input.upgrade, this.input.startedBy)],
          taskQueue: workflowInfo().taskQueue,
          // Terminating the fleet must not cut an upgrade off halfway; `abort` cancels, so they roll back.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `Upgrade of ${cluster} to \`${entry.image}\`, wave ${entry.wave + 1} of fleet ${this.input.name}`,
        });
        entry.runId = child.firstExecutionRunId;
        return child.result();
      });
      if ('outcome' in result && result.outcome === 'upgraded') {
        entry.state = 'upgraded';
        // The abort reached it after its point of no return: it finished there rather than undo users' work.
        if (this.aborted) entry.reason = `the fleet's abort (${this.aborted.by}) came after its point of no return: left upgraded`;
      } else Object.assign(entry, { state: 'rolled-back', reason: 'reason' in result && result.reason ? result.reason : 'rolled back' });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        Object.assign(entry, { state: 'refused', reason: `another procedure is running on ${cluster} (${entry.workflowId})` });
      } else if (isCancellation(error)) {
        Object.assign(entry, { state: 'cancelled', reason: `cancelled by the fleet's abort (${this.aborted?.by ?? 'unknown'}), rolled back by its own procedure` });
      } else {
        Object.assign(entry, { state: 'failed', type: failureType(error), reason: describeFailure(error) });
      }
    } finally {
      this.scopes.delete(cluster);
      entry.endedAt = now();
      delete entry.waitingFor;
      delete entry.approval;
      this.refreshAwaiting();
    }
  }

  /** The approval before wave `index`: true to go on. A rejection, an abort or a timeout (under rollback) stops the fleet. */
  private async gate(index: number, wave: string[]): Promise<boolean> {
    const approval = new Approval(this.approvers);
    this.status.approval = approval.status;
    this.status.state = 'awaiting-approval';
    approval.open();
    const done = this.status.waves.slice(0, index).flat().map((cluster) => `${cluster}: ${this.entry(cluster).state}`);
    const { workflowId, runId } = workflowInfo();
    await notify(
      wave[0]!,
      `fleet ${this.input.name}: wave ${index + 1} (${wave.join(', ')}) awaits your decision`,
      [`Done so far: ${done.join(', ')}.`, `Approve: temporal workflow signal --workflow-id ${workflowId} --run-id ${runId} --name approve --input '{"by":"<you>"}'`, `Reject (the fleet stops): the same with --name reject.`].join('\n'),
      'approvers',
    );
    const { timeoutMs, onTimeout } = this.input.waveApproval;
    const decided = () => approval.status.state !== 'awaiting' || this.aborted !== undefined;
    const inTime = timeoutMs === undefined || onTimeout === 'wait' ? (await condition(decided), true) : await condition(decided, timeoutMs);
    this.status.state = this.paused ? 'paused' : 'running';
    if (this.aborted) return false;
    if (!inTime) {
      if (onTimeout === 'proceed') return true;
      approval.status.state = 'timed-out';
      this.status.reason = `nobody decided on wave ${index + 1} within the approval timeout`;
      return false;
    }
    const decision = approval.status.decision;
    if (decision) this.status.decisions.push(decision);
    if (approval.status.state === 'rejected') {
      this.status.state = 'rejected';
      this.status.reason = `wave ${index + 1} rejected by ${decision?.by}${decision?.reason ? `: ${decision.reason}` : ''}`;
      return false;
    }
    return true;
  }

  /** While upgrades run: their steps and approvals, read every watchEvery (a workflow cannot query another). */
  private async watch(): Promise<void> {
    if (this.input.watchEveryMs <= 0) return;
    for (;;) {
      await condition(() => this.running > 0);
      const running = Object.entries(this.status.clusters).filter(([, entry]) => entry.state === 'running');
      const glimpses = await quick.describeProcedures({ workflowIds: running.map(([, entry]) => entry.workflowId) }).catch(() => ({}) as Record<string, never>);
      for (const [, entry] of running) {
        const glimpse = glimpses[entry.workflowId];
        if (!glimpse || entry.state !== 'running') continue;
        entry.step = glimpse.step;
        if (glimpse.waitingFor) entry.waitingFor = glimpse.waitingFor;
        else delete entry.waitingFor;
        if (glimpse.approval) entry.approval = glimpse.approval;
      }
      this.refreshAwaiting();
      await sleep(this.input.watchEveryMs);
    }
  }

  private refreshAwaiting(): void {
    this.status.awaitingDecision = Object.entries(this.status.clusters)
      .filter(([, entry]) => entry.state === 'running' && entry.approval === 'awaiting')
      .map(([cluster]) => cluster);
  }

  /** Why no further upgrade may start, or undefined. */
  private stopReason(): string | undefined {
    if (this.aborted) return `aborted by ${this.aborted.by}${this.aborted.reason ? `: ${this.aborted.reason}` : ''}`;
    if (this.status.state === 'rejected' || (this.status.reason && this.status.approval?.state === 'timed-out')) return this.status.reason;
    const ended = Object.values(this.status.clusters).map((entry) => entry.state);
    if (budgetSpent(ended, this.input.failureBudget)) {
      const spent = Object.entries(this.status.clusters).filter(([, entry]) => ['rolled-back', 'failed', 'refused', 'cancelled'].includes(entry.state));
      return `failure budget (${this.input.failureBudget}) spent: ${spent.map(([cluster, entry]) => `${cluster} ${entry.state}`).join(', ')}`;
    }
    return undefined;
  }

  private unpaused(): Promise<void> {
    return condition(() => !this.paused || this.aborted !== undefined);
  }

  private entry(cluster: string): FleetClusterStatus {
    const entry = this.status.clusters[cluster];
    if (!entry) throw new Error(`no cluster ${cluster} in the fleet`);
    return entry;
  }

  private validate(control: Partial<FleetControl & { cluster: string }> | undefined, action: FleetControlRecord['action']): void {
    if (!control || typeof control.by !== 'string' || control.by.trim() === '') throw new Error(`say who ${action}s the fleet: {"by": "<you>"}`);
    if (this.approvers.length > 0 && !this.approvers.includes(control.by)) throw new Error(`${control.by} is not an approver of this fleet (${this.approvers.join(', ')})`);
    if (['completed', 'stopped', 'aborted', 'rejected'].includes(this.status.state)) throw new Error(`the fleet has ended (${this.status.state})`);
    if (this.aborted) throw new Error('the fleet is being aborted');
    if (action === 'pause' && this.paused) throw new Error('the fleet is already paused');
    if (action === 'resume' && !this.paused) throw new Error('the fleet is not paused');
    if (action === 'skip') {
      const entry = control.cluster === undefined ? undefined : this.status.clusters[control.cluster];
      if (!entry) throw new Error(`"cluster" must be one of the fleet's: ${Object.keys(this.status.clusters).join(', ')}`);
      if (entry.state !== 'pending') throw new Error(`${control.cluster} is ${entry.state}: only a cluster not yet started can be skipped (reject or cancel its own procedure ${entry.workflowId} instead)`);
    }
  }

  private control(action: FleetControlRecord['action'], control: FleetControl & { cluster?: string }, apply: () => void): FleetStatus {
    this.status.controls.push({ action, by: control.by, ...(control.reason ? { reason: control.reason } : {}), ...(control.cluster ? { cluster: control.cluster } : {}), at: now() });
    apply();
    if (this.status.state === 'running' || this.status.state === 'paused') this.status.state = this.paused ? 'paused' : 'running';
    return this.status;
  }

  private skip(cluster: string, control: FleetControl): void {
    Object.assign(this.entry(cluster), { state: 'skipped', reason: `skipped by ${control.by}${control.reason ? `: ${control.reason}` : ''}` });
  }

  private abort(control: FleetControl): void {
    this.aborted = { action: 'abort', ...control, at: now() };
    // Each cancelled child runs its own rollback, or, past its point of no return, finishes the
    // upgrade; the fleet waits for them to end (WAIT_CANCELLATION_COMPLETED).
    for (const scope of this.scopes.values()) scope.cancel();
  }
}

function now(): string {
  return new Date(Date.now()).toISOString();
}
